"""The batch runner behind ``aecrypt reproduce``: every notebook through papermill, then a report.

Parameters are checked against each notebook's parameters cell before anything runs
(papermill alone only warns about unknown names). Each executed copy is saved under
``results/<profile>/executed/``; a failure stops the run and names the notebook and cell.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.errors import AecryptError, ParameterError
from aecrypt.notebooks import notebook_paths
from aecrypt.profiles import PROFILES
from aecrypt.results import run_metadata, write_json, write_text


class NotebookFailedError(AecryptError):
    """A notebook raised an exception while the study ran."""


@dataclass
class StudyRun:
    """Outcome of a batch run: wall time per notebook and where things were written."""

    profile: str
    seconds: dict[str, float] = field(default_factory=dict)
    executed: dict[str, Path] = field(default_factory=dict)
    report: Path | None = None


def notebook_parameters(path: Path) -> dict[str, dict]:
    """A notebook's declared parameters (name -> papermill's info with type, default and help)."""
    import papermill

    return papermill.inspect_notebook(str(path))


def select_notebooks(only: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """The notebooks to run, in order; ``only`` picks them by number ('04') or name."""
    paths = notebook_paths(folder or config.NOTEBOOKS_DIR)
    if not only:
        return paths
    chosen = [p for p in paths if any(p.name.startswith(key) or p.stem == key for key in only)]
    unknown = [key for key in only if not any(p.name.startswith(key) or p.stem == key for p in paths)]
    if unknown:
        raise ParameterError(f"no notebook matches {', '.join(unknown)}; available: {', '.join(p.stem for p in paths)}")
    return chosen


def check_overrides(notebooks: list[Path], overrides: dict[str, Any]) -> dict[Path, dict[str, dict]]:
    """Every override must be a parameter of some chosen notebook; returns each notebook's parameters."""
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
) -> StudyRun:
    """Run the chosen notebooks in order with the profile's parameters, then write REPORT.md."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    overrides = dict(overrides or {})
    notebooks = select_notebooks(only)
    declared = check_overrides(notebooks, overrides)
    out = config.results_dir(profile)
    executed_dir = out / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    study = StudyRun(profile)
    kernel = kernel_name()
    for index, path in enumerate(notebooks, 1):
        params = {"profile": profile, **{k: v for k, v in overrides.items() if k in declared[path]}}
        target = executed_dir / path.name
        partial = executed_dir / f".running-{path.name}"
        print(f"[{index}/{len(notebooks)}] {path.stem} ...", end="", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(path), str(partial), parameters=params, kernel_name=kernel, cwd=str(path.parent),
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            )
        except PapermillExecutionError as exc:
            os.replace(partial, target)
            print(" failed", flush=True)
            raise NotebookFailedError(
                f"{path.name} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
                f"{exc.ename}: {exc.evalue}\n  the executed copy, with the traceback, is {target}"
            ) from None
        os.replace(partial, target)
        seconds = time.perf_counter() - start
        study.seconds[path.stem] = seconds
        study.executed[path.stem] = target
        print(f" done in {seconds:.1f} s", flush=True)
    study.report = write_report(study, overrides)
    return study


def write_report(study: StudyRun, overrides: dict[str, Any]) -> Path:
    """``results/<profile>/REPORT.md``: every table, figure links, parameters, versions, times."""
    out = config.results_dir(study.profile)
    meta = run_metadata({"profile": study.profile, **overrides})
    previous = out / "runs" / "study.json"
    if previous.exists():  # a partial run (--only) keeps the other notebooks' times
        import json

        earlier = json.loads(previous.read_text()).get("seconds", {})
        study.seconds = {**{k: v for k, v in earlier.items() if k not in study.seconds}, **study.seconds}
        study.seconds = dict(sorted(study.seconds.items()))
    lines = [
        f"# aecrypt study report: `{study.profile}` profile",
        "",
        "Generated by `aecrypt reproduce`; every number below comes from this run. The paper's",
        "numbers (Alslman et al., Electronics 2022) appear in rows or columns labelled as the paper's.",
        "",
        "## Tables",
        "",
    ]
    for table in sorted(out.glob("*.md")):
        if table.name == "REPORT.md":
            continue
        lines += [f"### `{table.stem}`", "", table.read_text().strip(), "", f"Data: [{table.stem}.csv]({table.stem}.csv)", ""]
    lines += ["## Figures", ""]
    for figure in sorted(out.glob("*.png")):
        lines += [f"### `{figure.stem}`", "", f"![{figure.stem}]({figure.name})", "", f"PDF: [{figure.stem}.pdf]({figure.stem}.pdf)", ""]
    lines += ["## Run", "", "| notebook | wall time (s) |", "| --- | --- |"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in study.seconds.items()]
    lines += [f"| **total** | **{sum(study.seconds.values()):.1f}** |", ""]
    lines += [f"- CPU: {meta['cpu']} ({meta['cpu_count']} logical cores)", f"- Python {meta['python']} on {meta['platform']}",
              f"- git commit: `{meta['git_commit']}`", f"- run at {meta['time_utc']}", f"- overrides: `{overrides or 'none'}`", ""]
    lines += ["| package | version |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in meta["packages"].items()]
    lines += ["", "Each notebook's resolved parameters are in [`runs/`](runs/)."]
    write_json(out / "runs" / "study.json", {**meta, "seconds": study.seconds})
    return write_text(out / "REPORT.md", "\n".join(lines) + "\n")
