"""Checks on the committed notebooks (stored without outputs, each with a parameters cell),
and the cleaning of executed copies before they are committed."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from aecrypt.config import NOTEBOOKS_DIR, PROJ_ROOT


def notebook_paths(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The study's numbered notebooks, in the order they run."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def hygiene_problems(path: Path) -> list[str]:
    """What is wrong with a committed notebook: outputs, execution counts, no parameters cell."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"{path.name}: cell {index} has outputs (strip them before committing)")
        if cell.get("execution_count") is not None:
            problems.append(f"{path.name}: cell {index} has an execution count (strip it)")
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        problems.append(f"{path.name}: no cell tagged 'parameters' (papermill needs one)")
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        problems.append(f"{path.name}: the first cell should be markdown saying what it shows")
    return problems


def strip_outputs(path: Path) -> None:
    """Remove outputs and execution counts from a notebook in place, before committing it."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


#: Terminal colour and cursor codes (Keras model summaries, tqdm) that a notebook viewer shows raw.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_executed(path: Path, source: Path | None = None, target: Path | None = None) -> None:
    """Make an executed notebook fit to read and commit: drop standard-error streams
    (progress bars, library warnings) and terminal escape codes; keep every result. Its
    record of where papermill read and wrote it names ``source`` and ``target`` (where it
    will lie) relative to the project, so no machine's folders are saved in it."""
    nb = nbformat.read(path, as_version=4)
    papermill = nb.metadata.get("papermill", {})
    for key, where in (("input_path", source), ("output_path", target)):
        if key in papermill:
            papermill[key] = _portable(Path(where or papermill[key]))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.get("output_type") == "stream":
                if output.get("name") == "stderr":
                    continue
                output["text"] = ANSI_ESCAPE.sub("", output["text"])
            for key in ("text/plain", "text/html"):
                if key in output.get("data", {}):
                    output["data"][key] = ANSI_ESCAPE.sub("", output["data"][key])
            kept.append(output)
        cell.outputs = kept
    nbformat.write(nb, path)


def _portable(path: Path) -> str:
    """A path relative to the project when it lies inside it, else its name alone."""
    try:
        return path.resolve().relative_to(PROJ_ROOT).as_posix()
    except ValueError:
        return path.name
