"""Whether a job's outputs are up to date, judged from a record that travels with them.

A finished job adds a ``workflow`` record to its ``runs/<notebook>.json``: hashes of its
notebook and of the package's source, its parameters, TensorFlow's thread count, a hash
of each file it read (notebook 02's model manifest, for 03 to 06) and its wall time; the
report adds one to ``runs/study.json`` with a hash of every job record it summed up. A
fresh clone has these records (it has no ``.snakemake/`` metadata, and all its files carry
checkout times, so neither Snakemake's parameter check nor its time stamps can judge it),
so one rule decides everywhere: a job runs when an output is missing, or when its
notebook, the package, a parameter or an input differs from its record; then every job
whose outputs exist and that reads what it writes runs too, and the report last.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.config import RUNS_FOLDER
from aecrypt.files import sha256_file
from aecrypt.study.plan import TF_THREADS, Job, Plan, notebook_of
from aecrypt.study.provenance import RECORD_KEY
from aecrypt.study.runs import shown

#: How many hex digits of a SHA-256 a record keeps (enough to tell versions apart).
HASH_CHARS = 16
#: The package's source that the notebooks run: every module and style sheet but the
#: command line's (no notebook imports ``aecrypt.cli``).
PACKAGE_PATTERNS = ("*.py", "*.mplstyle")
PACKAGE_EXCLUDED = ("cli", "__pycache__")
#: The report's key among the jobs that will run.
REPORT = "report"
#: Where papermill writes a notebook while it runs (a leftover means the job was stopped).
RUNNING_PREFIX = ".running-"
#: The reasons of a job without outputs (which need no other).
NEW = (["new: no output yet"], ["stopped part-way last time"])


def file_hash(path: str | Path) -> str:
    """The start of a file's SHA-256."""
    return sha256_file(path)[:HASH_CHARS]


def package_files(root: Path | None = None) -> list[Path]:
    """The package's source files that notebooks run, in a fixed order."""
    root = root or config.PROJ_ROOT / "aecrypt"
    files = {path for pattern in PACKAGE_PATTERNS for path in root.rglob(pattern)}
    return sorted(path for path in files if not set(path.relative_to(root).parts[:-1]) & set(PACKAGE_EXCLUDED))


def package_hash(root: Path | None = None) -> str:
    """One hash of the package's source (names and contents), the same in every clone of a commit."""
    root = root or config.PROJ_ROOT / "aecrypt"
    digest = hashlib.sha256()
    for path in package_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + bytes.fromhex(sha256_file(path)))
    return digest.hexdigest()[:HASH_CHARS]


def job_stamp(job: Job, package: str) -> dict[str, Any]:
    """What a job's record must hold for its outputs to be up to date (its inputs aside)."""
    return {"notebook": file_hash(notebook_of(job)), "package": package, "parameters": job.parameters, "tf_threads": TF_THREADS}


def recorded(path: Path) -> dict[str, Any] | None:
    """The workflow's record in a ``runs/*.json`` file, or None (no file, or made before records)."""
    try:
        record = json.loads(path.read_text()).get(RECORD_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) else None


def parameter_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """'name (old → new)' for every parameter that differs."""
    names = sorted(set(before) | set(now))
    return [f"{name} ({before.get(name, 'unset')!r} → {now.get(name, 'unset')!r})" for name in names if before.get(name) != now.get(name)]


def job_reasons(job: Job, package: str, keep: bool = False) -> list[str]:
    """Why a job must run, in words; empty when its outputs are up to date, or (``keep``)
    whenever they exist: a finished job kept as its own code and parameters made it."""
    missing = [path for path in job.outputs if not path.is_file()]
    if missing:
        stopped = (job.executed.parent / f"{RUNNING_PREFIX}{job.executed.name}").exists()
        return NEW[1] if stopped else NEW[0]
    if keep:
        return []
    record = recorded(job.record)
    if record is None:
        return ["no record of the code and parameters that made it"]
    expected, reasons = job_stamp(job, package), []
    if record.get("notebook") != expected["notebook"]:
        reasons.append(f"changed code: notebook {job.notebook}")
    if record.get("package") != package:
        reasons.append("changed code: the aecrypt package")
    changes = parameter_changes(record.get("parameters", {}), job.parameters)
    if changes:
        reasons.append("changed parameters: " + ", ".join(changes))
    if record.get("tf_threads") != TF_THREADS:
        reasons.append(f"changed TensorFlow thread count ({record.get('tf_threads')} → {TF_THREADS})")
    for role, path in job.reads.items():
        if not path.is_file():
            reasons.append(f"missing input: the {role} in {shown(path.parent)}")
        elif record.get("inputs", {}).get(role) != file_hash(path):
            reasons.append(f"changed input: the {role} in {shown(path.parent)}")
    return reasons


def pending(plan: Plan, package: str, force: bool = False, keep: bool = False) -> dict[str, list[str]]:
    """The jobs that will run, in plan order, each with why; the report last.

    A chosen job (``--only``) runs when ``job_reasons`` gives a reason (or ``force``); a job
    left out of ``--only`` runs only to follow a job it reads from, and only when its
    outputs exist (it would be out of date otherwise; a missing one stays missing). With
    ``keep`` (``--keep-finished``), every job whose outputs exist is kept, whatever changed
    since it ran: a long run resumed across commits; the report names each job's commit."""
    todo: dict[str, list[str]] = {}
    for job in plan.jobs:
        chosen = job.key in plan.selected
        reasons = (["forced (--force)"] if force else job_reasons(job, package, keep)) if chosen else []
        upstream = [plan.producer(path) for path in job.reads.values()]
        rerun = [producer.label for producer in upstream if producer is not None and producer.key in todo]
        if rerun and (chosen or all(path.is_file() for path in job.outputs)) and reasons[:1] not in NEW:
            reasons += [f"its input is rerun: {label}" for label in rerun]
        if reasons:
            todo[job.key] = reasons
    report = report_reasons(plan, package, bool(todo))
    if report:
        todo[REPORT] = report
    return todo


def left_behind(plan: Plan, package: str, todo: dict[str, list[str]]) -> dict[str, list[str]]:
    """Jobs of the lane that stay out of date after this run (left out by ``--only``), with why."""
    behind = {job.key: job_reasons(job, package) for job in plan.jobs if job.key not in todo and job.executed.is_file()}
    return {key: reasons for key, reasons in behind.items() if reasons}


def report_inputs(folder: Path) -> dict[str, str]:
    """A hash of every job record a lane's report sums up (its variants' too, whose results it
    sets beside its own), by path relative to the lane."""
    from aecrypt.study.verdicts import DEPLOYED_RUN  # the variant whose table the report writes

    lanes = [folder, folder / DEPLOYED_RUN]
    records = [path for lane in lanes for runs in [lane / RUNS_FOLDER, *sorted(lane.glob(f"seed-*/{RUNS_FOLDER}"))]
               for path in sorted(runs.glob("*.json"))]
    return {path.relative_to(folder).as_posix(): file_hash(path) for path in records if path.name != "study.json"}


def report_stamp(plan: Plan, package: str) -> dict[str, Any]:
    """What the report's record must hold for REPORT.md to be up to date."""
    return {"package": package, "inputs": report_inputs(plan.folder)}


def report_reasons(plan: Plan, package: str, jobs_run: bool) -> list[str]:
    """Why the lane's report must be written again; empty when it is up to date."""
    if jobs_run:
        return ["its inputs are rerun"]
    if not plan.report.is_file():
        return ["new: no report yet"]
    record = recorded(plan.study_record)
    if record is None:
        return ["no record of the code and results that made it"]
    reasons = []
    if record.get("package") != package:
        reasons.append("changed code: the aecrypt package")
    if record.get("inputs") != report_inputs(plan.folder):
        reasons.append("changed inputs: the job records in runs/")
    return reasons
