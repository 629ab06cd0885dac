"""The batch runner behind ``aecrypt reproduce``: every notebook through papermill, then a report.

Parameters are checked against each notebook's parameters cell before anything runs
(papermill alone only warns about unknown names). Each executed copy is saved under
``results/<profile>/executed/``; a failure stops the run and names the notebook and cell.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.errors import NotebookFailedError, ParameterError
from aecrypt.study.notebooks import clean_executed, notebook_paths
from aecrypt.progress import INDENT, LIVE_ENV, stderr_to
from aecrypt.study.runs import MAIN_RUN
from aecrypt.study.parameters import check_value, declared_parameters
from aecrypt.study.profiles import PROFILES

#: Notebooks whose numbers depend on the seed (training, noise draws, the attacker); with
#: several seeds, these run once more per extra seed, each with its own model.
SEED_NOTEBOOKS = ("02_train_autoencoder", "05_noise_robustness", "06_security_analysis")
#: Beside each executed copy: what its kernel wrote to standard error (git-ignored).
KERNEL_LOG_SUFFIX = ".stderr.log"


@dataclass
class StudyRun:
    """Outcome of a batch run: wall time per notebook and where things were written."""

    profile: str
    seconds: dict[str, float] = field(default_factory=dict)
    executed: dict[str, Path] = field(default_factory=dict)
    report: Path | None = None


def notebook_parameters(path: Path) -> dict[str, dict]:
    """A notebook's declared parameters (name -> papermill's info with type, default and help)."""
    return declared_parameters(path)


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
    declared = {path: notebook_parameters(path) for path in notebooks}
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


def kernel_name() -> str:
    """The project's registered kernel ('aecrypt') if present, else this interpreter's 'python3'."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    return config.KERNEL_NAME if config.KERNEL_NAME in specs else "python3"


def run_study(
    profile: str = "default",
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    seeds: list[int] | None = None,
) -> StudyRun:
    """Run the chosen notebooks in order with the profile's parameters, then write REPORT.md.

    ``seeds`` (default: the profile's) are training seeds; the split is the same for all
    (``split_seed``). Notebook 01 runs once (``results/<profile>/``); the first seed runs
    every other chosen notebook, each further seed the seed-dependent ones
    (``SEED_NOTEBOOKS``), each with its own model, into ``results/<profile>/seed-<n>/``; the
    report gives mean and standard deviation across seeds.
    """
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    overrides = dict(overrides or {})
    notebooks = select_notebooks(only)
    declared = check_overrides(notebooks, overrides)
    if seeds is not None:
        if not seeds or len(set(seeds)) != len(seeds):
            raise ParameterError(f"--seeds needs distinct seeds, such as 0,1,2; got {seeds}")
        for seed in seeds:
            check_value("seed", seed, "int")
    if "seed" in overrides:
        raise ParameterError("give training seeds with --seeds (such as --seeds 1 or --seeds 0,1,2), not -p seed")
    seeds = list(seeds or PROFILES[profile]["seeds"])
    run_name = overrides.get("run_name", MAIN_RUN)
    jobs = study_jobs(notebooks, declared, seeds)
    study = StudyRun(profile)
    kernel = kernel_name()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: no TensorFlow start-up notices
    for index, (path, seed) in enumerate(jobs, start=1):
        executed_dir = study_output(profile, run_name, seed) / "executed"
        executed_dir.mkdir(parents=True, exist_ok=True)
        given = {**overrides, "publish": True, **({} if seed is None else {"seed": seed})}
        params = {"profile": profile, **{k: v for k, v in given.items() if k in declared[path]}}
        label = path.stem if seed is None else f"{path.stem} (seed {seed})"
        study.seconds[label], study.executed[label] = _execute(path, executed_dir, params, kernel, f"[{index}/{len(jobs)}] {label}")
    from aecrypt.study.report import write_report

    study.report = write_report(study.profile, study.seconds, overrides, seeds)
    return study


def study_jobs(notebooks: list[Path], declared: dict[Path, dict], seeds: list[int]) -> list[tuple[Path, int | None]]:
    """(notebook, training seed) in the order they run: a notebook without a seed parameter
    once; the seed-dependent ones (``SEED_NOTEBOOKS``) once per seed; the others on the first
    seed's model only."""
    jobs: list[tuple[Path, int | None]] = []
    for number, seed in enumerate(seeds):
        for path in notebooks:
            if "seed" not in declared[path]:
                jobs += [(path, None)] if number == 0 else []
            elif number == 0 or path.stem in SEED_NOTEBOOKS:
                jobs.append((path, seed))
    return jobs


def study_output(profile: str, run_name: str = MAIN_RUN, seed: int | None = None) -> Path:
    """Where a published run of ``run_name`` writes for one training seed (as ``runs.output_folder`` computes it)."""
    from aecrypt.study.runs import output_folder

    return output_folder(profile, run_name, publish=True, seed=seed)


def _execute(path: Path, executed_dir: Path, params: dict[str, Any], kernel: str, label: str) -> tuple[float, Path]:
    """Run one notebook through papermill; returns its wall time and the executed copy.

    The kernel's standard error (TensorFlow's C++ notices, Jupyter's kernel warnings) goes
    to ``<notebook>.stderr.log`` beside the executed copy instead of the terminal; its live
    progress lines (``aecrypt.progress``) go to the terminal.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    target = executed_dir / path.name
    partial = executed_dir / f".running-{path.name}"
    log = executed_dir / f"{path.stem}{KERNEL_LOG_SUFFIX}"
    print(f"{label} ...", flush=True)
    start = time.perf_counter()
    try:
        with _kernel_output(log):
            papermill.execute_notebook(
                str(path), str(partial), parameters=params, kernel_name=kernel, cwd=str(path.parent),
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            )
    except PapermillExecutionError as exc:
        os.replace(partial, target)
        print(f"{INDENT}failed", flush=True)
        raise NotebookFailedError(
            f"{path.name} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
            f"{exc.ename}: {exc.evalue}\n  the executed copy, with the traceback, is {target}; the kernel's log is {log}"
        ) from None
    clean_executed(partial)
    os.replace(partial, target)
    seconds = time.perf_counter() - start
    print(f"{INDENT}done in {seconds:.1f} s", flush=True)
    return seconds, target


@contextlib.contextmanager
def _kernel_output(log: Path) -> Iterator[None]:
    """Kernels started meanwhile write their standard error to ``log`` and report live
    progress on standard output (``aecrypt.progress``)."""
    previous = os.environ.get(LIVE_ENV)
    os.environ[LIVE_ENV] = "1"
    try:
        with stderr_to(log):
            yield
    finally:
        if previous is None:
            os.environ.pop(LIVE_ENV, None)
        else:
            os.environ[LIVE_ENV] = previous
