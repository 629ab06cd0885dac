"""The one engine behind ``aecrypt reproduce``: the study as a Snakemake workflow.

``reproduce`` checks every parameter before any work (``plan.make_plan``), works out
which jobs must run and why from the records beside the results (``freshness.pending``),
then runs Snakemake on ``workflow/Snakefile`` in a subprocess with those jobs as its
targets: one job per notebook and training seed, each a papermill execution
(``aecrypt.study.job``), independent ones side by side with ``cores`` > 1, or submitted
to SLURM with ``slurm``. Snakemake's own output goes to a log file; the terminal shows one
line per job and beneath it the kernel's live lines (training epochs, noise kinds), which
the jobs append to a progress file that this process follows.

Snakemake keeps its state in ``.snakemake/`` beside ``results/`` (git-ignored); this
module keeps its plan, progress file, Snakemake's log and a lock in ``.snakemake/aecrypt/``.
The lock is the operating system's (``flock``), so a run that was killed leaves none.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.errors import NotebookFailedError, ParameterError, WorkflowError
from aecrypt.progress import INDENT
from aecrypt.study.freshness import REPORT, left_behind, package_hash, pending
from aecrypt.study.plan import Plan, job_key, make_plan, notebook_rule
from aecrypt.study.results import git_commit

SNAKEFILE = config.PROJ_ROOT / "workflow" / "Snakefile"
#: The SLURM profile (``snakemake --workflow-profile``): the executor plugin and each rule's cluster resources.
SLURM_PROFILE = config.PROJ_ROOT / "workflow" / "profiles" / "slurm"
#: How often the progress file is read while Snakemake runs (seconds).
POLL_SECONDS = 0.2
#: How an event line of the progress file starts (``job.EVENT``; kept here so that
#: following a run imports neither papermill nor the job module).
EVENT = "@@aecrypt "
#: Snakemake's own rerun triggers: none that can fire (the jobs use no conda or container
#: environment), so Snakemake reruns only what is missing or incomplete, and what
#: ``--forcerun`` names. Changed code, parameters and inputs are judged from the records
#: beside the results (``freshness``): file times cannot judge a fresh clone (all carry
#: checkout times), and Snakemake's parameter records live in ``.snakemake/``, which a
#: clone lacks and which another checkout's results would contradict.
RERUN_TRIGGERS = ("software-env",)


@dataclass
class Outcome:
    """What ``reproduce`` found and did."""

    plan: Plan
    todo: dict[str, list[str]]
    behind: dict[str, list[str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    submissions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def report(self) -> Path:
        """The lane's REPORT.md."""
        return self.plan.report


def workdir() -> Path:
    """Snakemake's working directory: the folder that holds ``results/`` (the project's root)."""
    return config.RESULTS_DIR.parent


def state_folder() -> Path:
    """This module's files: the plan, the progress file, Snakemake's log, the lock."""
    return workdir() / ".snakemake" / "aecrypt"


def label(plan: Plan, key: str) -> str:
    """How the terminal names a job."""
    return "report" if key == REPORT else plan.job(key).label


def reproduce(profile: str = "default", only: list[str] | None = None, overrides: dict[str, Any] | None = None,
              seeds: list[int] | None = None, cores: int = 1, dry_run: bool = False, force: bool = False,
              slurm: bool = False, keep_finished: bool = False) -> Outcome:
    """Bring a lane's results up to date: run every job that is new, stopped part-way or out
    of date (``--only``: of those notebooks; ``force``: those notebooks in any case) and
    what reads their outputs, then the report. With ``dry_run``, list them and why. With
    ``keep_finished``, a job whose outputs exist is never rerun (a long run that spans
    sessions and commits), and only what is missing runs."""
    if force and keep_finished:
        raise ParameterError("--force reruns finished jobs and --keep-finished keeps them; give one of the two")
    for name, variant in variants_to_run(profile, only, overrides):
        print(f"variant {name} ({', '.join(f'{k}={v!r}' for k, v in variant['parameters'].items())}) first:", flush=True)
        reproduce(profile, only=list(variant["notebooks"]), overrides={**variant["parameters"], "run_name": name}, seeds=seeds,
                  cores=cores, dry_run=dry_run, force=False, slurm=slurm, keep_finished=keep_finished)
    if not isinstance(cores, int) or cores < 1:
        raise ParameterError(f"--cores takes a whole number of at least 1, not {cores!r}")
    plan = make_plan(profile, only, overrides, seeds)
    package = package_hash()
    todo = pending(plan, package, force, keep_finished)
    outcome = Outcome(plan, todo, left_behind(plan, package, todo))
    if dry_run:
        outcome.submissions = snakemake_dry_run(plan, todo, package, slurm)
        print_dry_run(outcome, slurm)
        return outcome
    if not todo:
        print(f"nothing to do: the {len(plan.jobs)} job(s) of {where(plan)} and its report are up to date")
    else:
        print(f"{len(todo)} of {len(plan.jobs) + 1} job(s) of {where(plan)} to run (aecrypt reproduce --dry-run says why)", flush=True)
        with workflow_lock():
            run_snakemake(plan, todo, package, outcome, cores, slurm)
    for key, reasons in outcome.behind.items():
        print(f"left out of date (not in --only): {label(plan, key)}: {'; '.join(reasons)}")
    return outcome


def variants_to_run(profile: str, only: list[str] | None, overrides: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """The profile's variants (``profiles.RUNNER_KEYS``) a run brings up to date before its own
    jobs: all of them for the main run of the whole study, none for a named run or ``--only``."""
    from aecrypt.study.profiles import PROFILES
    from aecrypt.study.runs import MAIN_RUN

    if only is not None or (overrides or {}).get("run_name", MAIN_RUN) != MAIN_RUN or profile not in PROFILES:
        return []
    return list(PROFILES[profile].get("variants", {}).items())


def where(plan: Plan) -> str:
    """'profile smoke, run main, seeds 0, 1' for messages."""
    return f"profile {plan.profile}, run {plan.run_name}, seed{'s' if len(plan.seeds) > 1 else ''} {', '.join(map(str, plan.seeds))}"


@contextlib.contextmanager
def workflow_lock() -> Iterator[None]:
    """Hold this working directory's lock meanwhile, or refuse at once if another run holds it."""
    state_folder().mkdir(parents=True, exist_ok=True)
    with open(state_folder() / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkflowError(f"another aecrypt reproduce is running on {config.RESULTS_DIR}; wait for it to finish") from None
        yield


def save_plan(plan: Plan, todo: dict[str, list[str]], package: str, cores: int, name: str = "plan.json") -> Path:
    """The plan file the workflow and its jobs read: the plan, the jobs to run, the commit
    and package hash taken now, the progress file (emptied), and this interpreter."""
    progress = state_folder() / "progress.log"
    if name == "plan.json":
        progress.parent.mkdir(parents=True, exist_ok=True)
        progress.write_text("")
    return plan.save(state_folder() / name, run=list(todo), package=package, git_commit=git_commit(),
                     progress=str(progress), python=sys.executable, labels=cores > 1)


def snakemake_command(plan: Plan, todo: dict[str, list[str]], plan_file: Path, cores: int, slurm: bool) -> list[str]:
    """``python -m snakemake`` with the jobs to run as targets, forced where their outputs
    exist (Snakemake reruns what reads them), and only their rules allowed to run."""
    jobs = [plan.job(key) for key in todo if key != REPORT]
    targets = [str(job.executed) for job in jobs] + ([str(plan.report)] if REPORT in todo else [])
    forced = [target for target in targets if Path(target).is_file()]
    rules = sorted({notebook_rule(job.notebook) for job in jobs} | {"report"})
    command = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(SNAKEFILE), "--directory", str(workdir()),
               "--config", f"plan={plan_file}", "--nolock", "--rerun-incomplete", "--scheduler", "greedy",
               "--rerun-triggers", *RERUN_TRIGGERS]
    command += ["--workflow-profile", str(SLURM_PROFILE)] if slurm else ["--cores", str(cores), "--workflow-profile", "none"]
    command += ["--allowed-rules", *rules]
    return command + (["--forcerun", *forced] if forced else [])


def snakemake_environment() -> dict[str, str]:
    """The environment of Snakemake and its jobs: this one, with this project's package
    first on the path and the folders this process uses for results, models and data."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(config.PROJ_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update({"AECRYPT_RESULTS_DIR": str(config.RESULTS_DIR), "AECRYPT_MODELS_DIR": str(config.MODELS_DIR),
                "AECRYPT_DATA_DIR": str(config.DATA_DIR)})
    return env


def run_snakemake(plan: Plan, todo: dict[str, list[str]], package: str, outcome: Outcome, cores: int, slurm: bool) -> None:
    """Run the workflow and show its progress; a failed notebook raises its NotebookFailedError."""
    plan_file = save_plan(plan, todo, package, cores)
    log = state_folder() / "snakemake.log"
    with open(log, "w") as output:
        process = subprocess.Popen(snakemake_command(plan, todo, plan_file, cores, slurm), stdout=output,
                                   stderr=subprocess.STDOUT, cwd=workdir(), env=snakemake_environment())
        failures = follow(process, Shown(plan, len(todo), outcome, [], parallel=cores > 1 or slurm))
    if process.returncode != 0:
        if failures:
            raise NotebookFailedError(failures[0])
        raise WorkflowError(f"the workflow stopped (Snakemake's exit status {process.returncode}): {last_error(log)}; "
                            f"Snakemake's log: {log}")


def follow(process: subprocess.Popen, shown: Shown) -> list[str]:
    """Show the progress file's lines until the process ends; returns failed jobs' messages."""
    with open(state_folder() / "progress.log") as handle:
        unfinished = ""
        try:
            while True:
                ended = process.poll() is not None
                unfinished += handle.read()
                *lines, unfinished = unfinished.split("\n")
                for line in lines:
                    shown.line(line)
                if ended:
                    return shown.failures
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)  # Snakemake stops its jobs and marks their outputs incomplete
            process.wait()
            raise


@dataclass
class Shown:
    """The terminal's view of a running workflow: one line per job as it starts, its live lines, its end."""

    plan: Plan
    total: int
    outcome: Outcome
    failures: list[str]
    parallel: bool
    started: int = 0

    def line(self, text: str) -> None:
        """Show one line of the progress file."""
        if not text.startswith(EVENT):
            print(text, flush=True)
            return
        event = json.loads(text[len(EVENT):])
        name = label(self.plan, event["key"])
        if event["event"] == "start":
            self.started += 1
            print(f"[{self.started}/{max(self.total, self.started)}] {name} ...", flush=True)
        elif event["event"] == "done":
            self.outcome.ran.append(event["key"])
            self.outcome.seconds[event["key"]] = event["seconds"]
            print(f"{INDENT}{name + ': ' if self.parallel else ''}done in {event['seconds']:.1f} s", flush=True)
        elif event["event"] == "failed":
            self.failures.append(event["message"])
            print(f"{INDENT}{name}: failed", flush=True)


def last_error(log: Path) -> str:
    """The line of Snakemake's log that says what went wrong, as far as one does."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"Error|Exception|error:", line):
            return line
    return lines[-1] if lines else "no output"


# -------------------------------------------------------------------- dry run

#: Resources of Snakemake's own that a dry run lists but a cluster job does not ask for.
LOCAL_RESOURCES = ("tmpdir", "mem_mib", "disk_mb", "disk_mib", "_cores", "_nodes")


def snakemake_dry_run(plan: Plan, todo: dict[str, list[str]], package: str, slurm: bool) -> list[dict[str, Any]]:
    """What Snakemake itself would run (with ``slurm``: submit), job by job: its key, rule,
    reason and resources, read from its dry run."""
    if not todo:
        return []
    plan_file = save_plan(plan, todo, package, 1, name="dry-run-plan.json")
    command = [*snakemake_command(plan, todo, plan_file, 1, slurm), "--dry-run"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=workdir(), env=snakemake_environment())
    if done.returncode != 0:
        log = state_folder() / "dry-run.log"
        log.write_text(done.stdout + done.stderr)
        raise WorkflowError(f"Snakemake's dry run failed (exit status {done.returncode}): {last_error(log)}; its output: {log}")
    return [dict(job, key=job_of(plan, job)) for job in parse_dry_run(done.stdout + done.stderr) if job["rule"] != "all"]


def parse_dry_run(text: str) -> list[dict[str, Any]]:
    """The jobs of a Snakemake dry run's listing: each block ``rule NAME:`` with its
    indented ``key: value`` lines (wildcards and resources as dictionaries)."""
    jobs: list[dict[str, Any]] = []
    for line in text.splitlines():
        start = re.fullmatch(r"(?:local)?rule (\w+):", line.strip()) if not line.startswith(" ") else None
        if start:
            jobs.append({"rule": start.group(1), "wildcards": {}, "resources": {}, "local": line.strip().startswith("local")})
        elif jobs and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            jobs[-1][key] = _pairs(value) if key in ("wildcards", "resources") else value
    return jobs


def _pairs(text: str) -> dict[str, str]:
    """'a=1, b=x' as a dictionary."""
    return dict(item.split("=", 1) for item in text.split(", ") if "=" in item)


def job_of(plan: Plan, job: dict[str, Any]) -> str:
    """The plan's key of a job Snakemake listed (its rule and seed)."""
    if job["rule"] == "report":
        return REPORT
    notebook = next(name for name in plan.notebooks() if notebook_rule(name) == job["rule"])
    seed = job["wildcards"].get("seed")
    return job_key(notebook, None if seed is None else int(seed))


def print_dry_run(outcome: Outcome, slurm: bool) -> None:
    """What would run and why; with ``slurm``, each submission's resources."""
    plan, todo = outcome.plan, outcome.todo
    print(f"dry run for {where(plan)}: {len(todo)} of {len(plan.jobs) + 1} job(s) would "
          + ("be submitted to SLURM" if slurm else "run"))
    listed = {job["key"]: job for job in outcome.submissions}
    for key, reasons in todo.items():
        print(f"  {label(plan, key)}: {'; '.join(reasons)}")
        if slurm and key in listed:
            resources = {k: v for k, v in listed[key]["resources"].items() if k not in LOCAL_RESOURCES}
            print(f"{INDENT}runs on this machine (a local rule)" if key == REPORT or listed[key]["local"] else
                  f"{INDENT}sbatch: " + ", ".join(f"{k}={v}" for k, v in resources.items()))
    for key in listed.keys() - todo.keys():
        print(f"  {label(plan, key)}: Snakemake's reason: {listed[key].get('reason', 'none given')}")
    fresh = [job.label for job in plan.jobs if job.key not in todo and all(path.is_file() for path in job.outputs)]
    missing = [job.label for job in plan.jobs if job.key not in todo and job.label not in fresh]
    if fresh:
        print("up to date: " + ", ".join(fresh))
    if missing:
        print("not run, not chosen (--only): " + ", ".join(missing))
    for key, reasons in outcome.behind.items():
        print(f"left out of date (not in --only): {label(plan, key)}: {'; '.join(reasons)}")
