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


#: Numbers a notebook's prose may state although they look like results (compared without
#: their unit): the paper's own numbers (quoted, always labelled as the paper's) and fixed
#: definitions, each with why.
PROSE_NUMBERS_ALLOWED: dict[str, str] = {
    **{n: "the paper's reconstruction, accuracy or time saved (Section 4, Tables 3 and 4)" for n in (
        "0.9528", "0.0019", "0.0472", "95.28", "0.19", "83", "72", "75", "68", "50", "68–75", "50–75", "0.05", "0.016", "0.017")},
    **{n: "the paper's Table 6 (fractions or percent)" for n in (
        "0.93", "0.94", "0.06", "0.23", "0.87", "0.15", "0.79", "0.90", "0.9", "0.13", "0.41", "0.30", "0.3", "0.01", "0.00")},
    "150,528": "the paper's 224x224x3 8-bit image in bytes (Table 2's input), not a measurement",
    "1,605,632": "the paper's 112x112x32 float32 map in bytes (Table 2 without the Dense layer), not a measurement",
    **{n: "a definition: ideal NPCR and UACI, the chi-square critical value, a significance level" for n in (
        "99.61", "33.46", "293.25", "99.6094", "5")},
}
#: A measured-looking number in prose: a decimal, a percentage, a multiple, or a number with a unit of time, size or rate.
RESULT_NUMBER = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)*(?:–\d+(?:\.\d+)?)?)\s?(?:%|×|x faster|ms\b|s\b|min\b|minutes\b|seconds\b|dB\b|MB/s|images/s|img/s|MiB\b|GiB\b|GB\b|MB\b|KB\b|bytes\b|B\b)"
    r"|(?<![\w.,])(\d+\.\d+)(?![\w.])")
#: What is never a result: code spans, section numbers, image and kernel sizes (224×224×3, 3×3).
_NOT_RESULTS = re.compile(r"```.*?```|`[^`]*`|Sections? \d+(?:\.\d+)*|\d+(?:×\d+)+", re.S)


def prose_result_numbers(markdown: str) -> list[str]:
    """Numbers in a markdown cell that look measured (outside code spans and the allow-list):
    a result stated in prose goes stale when the run changes; print it from the tables instead."""
    text = _NOT_RESULTS.sub(" ", markdown)
    return [m.group(0).strip() for m in RESULT_NUMBER.finditer(text) if (m.group(1) or m.group(2)) not in PROSE_NUMBERS_ALLOWED]
