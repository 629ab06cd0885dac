"""What ``aecrypt reproduce`` will run: every parameter checked, then one job per notebook and training seed.

A plan is one run's lane (a profile and a run name) and its training seeds. Everything a
user gives is checked here, against each notebook's parameters cell, before any work:
an unknown or ill-typed parameter, a run name that would leave its folder, a profile set
with ``-p``. The jobs follow the profile: notebook 01 (the split, the same for every
training seed) once; every notebook for the ``full_seeds``; for the other seeds the
``partial_notebooks``, each with the extra parameters the profile gives it. Notebooks 03
to 06 read the model that notebook 02 trained for their seed and lane.

The workflow (``workflow/Snakefile``) reads a plan from the JSON file ``Plan.save`` writes,
so the command line, the workflow and each job agree on every path and parameter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.config import RUNS_FOLDER
from aecrypt.errors import ModelFileError, ParameterError
from aecrypt.files import write_text
from aecrypt.study.notebooks import notebook_paths
from aecrypt.study.parameters import check_value, declared_parameters
from aecrypt.study.profiles import PROFILES
from aecrypt.study.runs import MAIN_RUN, MANIFEST_FILE, TRAINING_NOTEBOOK, model_folder, notebook_path, output_folder, seed_folder, shown

#: TensorFlow's intra-op thread count in every job, whatever ``--cores`` or the machine:
#: training's numbers depend on it (one smoke training gave different weights with 1, 2,
#: 3 and 4 threads; the inter-op count changed nothing), and 2 is what TensorFlow chose by
#: itself on the 2-core machine that made the committed runs.
TF_THREADS = 2
#: Beside each executed copy: what its kernel wrote to standard error (git-ignored).
KERNEL_LOG_SUFFIX = ".stderr.log"
#: A notebook that failed leaves its executed copy, with the traceback, under this name (git-ignored).
FAILED_SUFFIX = ".failed.ipynb"
#: Parameters ``aecrypt reproduce`` sets itself, with what to do instead.
RESERVED_PARAMETERS = {
    "profile": "the profile is set with --profile (such as --profile smoke), not -p profile",
    "seed": "give training seeds with --seeds (such as --seeds 1 or --seeds 0,1,2), not -p seed",
    "publish": "aecrypt reproduce always publishes into results/<profile>/; leave out -p publish",
}
#: Memory (MB) and wall time (minutes) a job asks a cluster for, by profile: rough upper
#: bounds from the 2-core runs (a default-profile notebook peaks near 3 GB; the paper
#: profile's 224x224 training takes about an hour per seed there).
CLUSTER_MEMORY_MB = {"smoke": 2000, "default": 6000, "paper": 16000}
CLUSTER_MINUTES = {"smoke": 15, "default": 60, "paper": 240}


def notebook_rule(notebook: str) -> str:
    """The workflow's rule for a notebook: its name without the number (``train_autoencoder``)."""
    return notebook.split("_", 1)[1]


def job_key(notebook: str, seed: int | None) -> str:
    """The name of a notebook's job for a training seed, unique in its plan."""
    return notebook if seed is None else f"{notebook}/{seed_folder(seed)}"


@dataclass(frozen=True)
class Job:
    """One papermill execution: a notebook, its training seed (None for notebook 01), its
    parameters, the folder it writes and the model folder it trains or reads."""

    notebook: str
    seed: int | None
    parameters: dict[str, Any]
    folder: Path
    models: Path | None = None

    @property
    def key(self) -> str:
        """A name unique in its plan: ``02_train_autoencoder/seed-0``, ``01_data_prep``."""
        return job_key(self.notebook, self.seed)

    @property
    def label(self) -> str:
        """How the terminal and the report name it: ``02_train_autoencoder (seed 0)``."""
        return self.notebook if self.seed is None else f"{self.notebook} (seed {self.seed})"

    @property
    def executed(self) -> Path:
        """The executed copy: written last, so it exists only when the job finished."""
        return self.folder / "executed" / f"{self.notebook}.ipynb"

    @property
    def record(self) -> Path:
        """``runs/<notebook>.json``: the parameters, versions and commit, and the job's own record."""
        return self.folder / RUNS_FOLDER / f"{self.notebook}.json"

    @property
    def log(self) -> Path:
        """The kernel's standard error."""
        return self.folder / "executed" / f"{self.notebook}{KERNEL_LOG_SUFFIX}"

    @property
    def failed(self) -> Path:
        """Where the executed copy of a failed run goes, with its traceback."""
        return self.folder / "executed" / f"{self.notebook}{FAILED_SUFFIX}"

    @property
    def trains(self) -> bool:
        """Whether this job trains and saves the model (notebook 02)."""
        return self.notebook == TRAINING_NOTEBOOK

    @property
    def reads(self) -> dict[str, Path]:
        """The files it reads that another job writes, by role: 02's model manifest for 03 to 06."""
        return {"model": self.models / MANIFEST_FILE} if self.models is not None and not self.trains else {}

    @property
    def outputs(self) -> list[Path]:
        """What the workflow declares it writes (its tables and figures lie beside them)."""
        return [self.executed, self.record] + ([self.models / MANIFEST_FILE] if self.trains else [])

    def to_json(self) -> dict[str, Any]:
        """The job as plain JSON values."""
        return {**asdict(self), "folder": str(self.folder), "models": None if self.models is None else str(self.models)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """The job ``to_json`` gave."""
        return cls(data["notebook"], data["seed"], data["parameters"], Path(data["folder"]),
                   None if data["models"] is None else Path(data["models"]))


@dataclass
class Plan:
    """One lane's jobs for some training seeds, and which of them may run (``--only``)."""

    profile: str
    run_name: str
    seeds: list[int]
    overrides: dict[str, Any]
    jobs: list[Job]
    selected: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        """The lane's results folder: ``results/<profile>[/<run_name>]``."""
        return output_folder(self.profile, self.run_name, publish=True)

    @property
    def report(self) -> Path:
        """The lane's REPORT.md."""
        return self.folder / "REPORT.md"

    @property
    def study_record(self) -> Path:
        """``runs/study.json``: the report's own record (times, commit, the seeds it aggregates)."""
        return self.folder / RUNS_FOLDER / "study.json"

    @property
    def partial(self) -> bool:
        """Whether ``--only`` left some of the lane's notebooks out."""
        return len(self.selected) < len(self.jobs)

    def notebooks(self) -> list[str]:
        """The notebooks the lane's jobs run, in order."""
        return list(dict.fromkeys(job.notebook for job in self.jobs))

    def job(self, key: str) -> Job:
        """The job of that key."""
        return next(job for job in self.jobs if job.key == key)

    def producer(self, path: Path) -> Job | None:
        """The job of this plan that writes ``path``, if any."""
        return next((job for job in self.jobs if path in job.outputs), None)

    def save(self, path: Path, **extra: Any) -> Path:
        """Write the plan (and ``extra`` settings of this execution) as JSON for the workflow and its jobs."""
        data = {"profile": self.profile, "run_name": self.run_name, "seeds": self.seeds, "overrides": self.overrides,
                "jobs": [job.to_json() for job in self.jobs], "selected": self.selected, **extra}
        return write_text(path, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> tuple[Plan, dict[str, Any]]:
        """A saved plan and the extra settings saved with it."""
        data = json.loads(Path(path).read_text())
        plan = cls(data.pop("profile"), data.pop("run_name"), data.pop("seeds"), data.pop("overrides"),
                   [Job.from_json(job) for job in data.pop("jobs")], data.pop("selected"))
        return plan, data


def select_notebooks(only: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """The notebooks to run, in order; ``only`` picks them by two-digit number ('04') or name."""
    paths = notebook_paths(folder or config.NOTEBOOKS_DIR)
    if only is None:
        return paths
    keys = [key.strip() for key in only if key.strip()]
    if not keys:
        raise ParameterError(f"--only names no notebook; give numbers such as 02,05 (available: {', '.join(p.stem for p in paths)})")

    def matches(path: Path, key: str) -> bool:
        return path.stem == key or (key.isdigit() and len(key) == 2 and path.name.startswith(key + "_"))

    unknown = [key for key in keys if not any(matches(p, key) for p in paths)]
    if unknown:
        raise ParameterError(f"no notebook matches {', '.join(unknown)}; available: {', '.join(p.stem for p in paths)}")
    return [p for p in paths if any(matches(p, key) for key in keys)]


def check_overrides(notebooks: list[Path], overrides: dict[str, Any]) -> dict[Path, dict[str, dict]]:
    """Every override must be a parameter of some chosen notebook, of the declared type and
    range; returns each notebook's parameters. Nothing has run when this raises."""
    declared = {path: declared_parameters(path) for path in notebooks}
    known = set().union(*(set(p) for p in declared.values())) if declared else set()
    unknown = sorted(set(overrides) - known)
    if unknown:
        listing = "\n".join(
            f"  {path.stem}: " + ", ".join(sorted(params)) for path, params in declared.items()
        )
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)}; nothing was run. The notebooks take:\n{listing}"
        )
    for name, value in overrides.items():
        for path, params in declared.items():
            if name in params:
                try:
                    overrides[name] = check_value(name, value, params[name]["inferred_type_name"])
                except ParameterError as exc:
                    raise ParameterError(f"{exc} ({path.stem}); nothing was run") from None
    return declared


def check_seeds(seeds: list[int] | None, profile: str) -> list[int]:
    """The training seeds to run: the given ones (distinct, each a valid seed) or the profile's."""
    if seeds is None:
        return list(PROFILES[profile]["seeds"])
    if not seeds or len(set(seeds)) != len(seeds):
        raise ParameterError(f"--seeds needs distinct seeds, such as 0,1,2; got {seeds}")
    for seed in seeds:
        check_value("seed", seed, "int")
    return list(seeds)


def make_plan(profile: str = "default", only: list[str] | None = None, overrides: dict[str, Any] | None = None,
              seeds: list[int] | None = None) -> Plan:
    """Check everything given, then list the lane's jobs; a ParameterError (or a
    ModelFileError for a model a chosen notebook needs and no chosen job trains) before any work."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    overrides = dict(overrides or {})
    for name, advice in RESERVED_PARAMETERS.items():
        if name in overrides:
            raise ParameterError(f"{advice}; nothing was run")
    chosen = select_notebooks(only)
    check_overrides(chosen, overrides)
    seeds = check_seeds(seeds, profile)
    run_name = overrides.get("run_name", MAIN_RUN)
    declared = {path: declared_parameters(path) for path in notebook_paths()}
    jobs = lane_jobs(profile, run_name, seeds, overrides, declared)
    names = {path.stem for path in chosen}
    plan = Plan(profile, run_name, seeds, overrides, jobs, [job.key for job in jobs if job.notebook in names])
    check_inputs(plan)
    return plan


def full_seeds(profile: str, seeds: list[int]) -> list[int]:
    """The seeds that run every notebook: the profile's ``full_seeds`` among ``seeds`` (every
    seed if the profile names none; the first seed if none of them is chosen)."""
    named = PROFILES[profile].get("full_seeds")
    if named is None:
        return list(seeds)
    return [seed for seed in seeds if seed in named] or seeds[:1]


def lane_jobs(profile: str, run_name: str, seeds: list[int], overrides: dict[str, Any],
              declared: dict[Path, dict[str, dict]]) -> list[Job]:
    """Every job of a lane for these seeds, notebook by notebook (so each model is trained
    before the notebooks that read it): 01 once, the rest per seed as the profile says."""
    full = full_seeds(profile, seeds)
    partial = partial_notebooks(profile, declared)
    jobs = []
    for path, params in declared.items():
        if "seed" not in params:
            jobs.append(_job(path, None, {}, profile, run_name, overrides, params))
            continue
        for seed in seeds:
            if seed in full or path.stem in partial:
                jobs.append(_job(path, seed, {} if seed in full else partial[path.stem], profile, run_name, overrides, params))
    return jobs


def partial_notebooks(profile: str, declared: dict[Path, dict[str, dict]]) -> dict[str, dict[str, Any]]:
    """The profile's ``partial_notebooks``, each extra parameter checked against its notebook."""
    partial = PROFILES[profile].get("partial_notebooks", {})
    by_name = {path.stem: params for path, params in declared.items()}
    for notebook, extra in partial.items():
        if notebook not in by_name:
            raise ParameterError(f"profile {profile}: partial_notebooks names {notebook!r}, which is no notebook")
        for name, value in extra.items():
            if name not in by_name[notebook]:
                raise ParameterError(f"profile {profile}: {notebook} declares no parameter {name}")
            check_value(name, value, by_name[notebook][name]["inferred_type_name"])
    return partial


def _job(path: Path, seed: int | None, extra: dict[str, Any], profile: str, run_name: str, overrides: dict[str, Any],
         declared: dict[str, dict]) -> Job:
    """One job: the profile, the extra parameters, the overrides its notebook declares, and
    the lane (run name, seed, publish) that fixes where it writes."""
    parameters = {"profile": profile, **extra, **{k: v for k, v in overrides.items() if k in declared}, "publish": True}
    if "run_name" in declared:
        parameters["run_name"] = run_name
    if seed is not None:
        parameters["seed"] = seed
    models = model_folder(profile, run_name, True, seed) if "run_name" in declared and seed is not None else None
    return Job(path.stem, seed, parameters, output_folder(profile, run_name, True, seed), models)


def check_inputs(plan: Plan) -> None:
    """A chosen job that reads a model no chosen job trains needs that model on disk; else
    a ModelFileError that says how to train it, before any work."""
    chosen = set(plan.selected)
    for job in plan.jobs:
        if job.key not in chosen:
            continue
        for path in job.reads.values():
            producer = plan.producer(path)
            if (producer is None or producer.key not in chosen) and not path.is_file():
                lane = "" if plan.run_name == MAIN_RUN else f" -p run_name {plan.run_name}"
                raise ModelFileError(
                    f"{job.label} needs the model {shown(path.parent)}, which is not trained; train it first: "
                    f"aecrypt reproduce --profile {plan.profile} --only 02 --seeds {job.seed}{lane} (or add 02 to --only); nothing was run"
                )


def notebook_of(job: Job) -> Path:
    """The notebook file a job executes."""
    return notebook_path(job.notebook)
