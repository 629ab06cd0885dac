"""The study's notebooks read as lectures: title, summary, objectives, the "Try it" exercises
with their worked answers and the self-check questions with theirs, parsed from the
notebooks' markdown, where each is written once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from aecrypt.study.notebooks import notebook_paths

#: Headings and markers the lectures' markdown uses.
OBJECTIVES_MARK = "**You will learn to**"
TRY_IT, SELF_CHECK = "## Try it", "## Self-check"
#: An answer, collapsed: ``<details><summary>...</summary>`` and its text up to ``</details>``.
DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)
#: A numbered item at the start of a line (``1. ``).
ITEM = re.compile(r"^(\d+)\. ", re.M)


@dataclass(frozen=True)
class Item:
    """One numbered item of a list: its text and, if it has one, its collapsed answer."""

    text: str
    answer: str = ""

    @property
    def title(self) -> str:
        """The item's bold lead (``**A random split.**``), else its first words."""
        match = re.match(r"\*\*(.+?)\*\*", self.text)
        return match.group(1).rstrip(".") if match else " ".join(self.text.split()[:6])


def numbered_items(markdown: str) -> list[Item]:
    """The top-level numbered items of a markdown block, each joined from its indented lines,
    with the text of its ``<details>`` block apart (indentation removed)."""
    starts = list(ITEM.finditer(markdown))
    items = []
    for match, following in zip(starts, [*starts[1:], None]):
        body = markdown[match.end(): following.start() if following else len(markdown)]
        details = DETAILS.search(body)
        text = body[: details.start()] if details else body
        answer = _dedent(details.group(2)) if details else ""
        items.append(Item(" ".join(text.split()), answer))
    return items


def _dedent(text: str) -> str:
    """Markdown indented under a list item, moved back to the margin (paragraphs kept)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


@dataclass(frozen=True)
class Lecture:
    """One notebook as a lecture."""

    path: Path
    title: str
    summary: str
    objectives: list[str]
    exercises: list[Item]
    self_check: list[Item]

    @property
    def stem(self) -> str:
        """The notebook's name without extension (``02_train_autoencoder``): how runs name it."""
        return self.path.stem

    @property
    def number(self) -> str:
        """Its two-digit number (``02``)."""
        return self.stem[:2]


def section(nb, heading: str) -> str:
    """The source of the last markdown cell that opens with ``heading`` ('' if none)."""
    cells = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith(heading)]
    return cells[-1] if cells else ""


def read_lecture(path: Path) -> Lecture:
    """A notebook's lecture parts, from its first cell, its "Try it" and its "Self-check" cells."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0].source
    title = first.splitlines()[0].lstrip("# ").strip()
    head, _, rest = first.partition(OBJECTIVES_MARK)
    shows = re.search(r"\*\*What this shows\.\*\*(.*?)(?:\n\n|$)", head, re.S)
    objectives = [" ".join(item.split()) for item in re.split(r"^- ", rest.split("\n\n**", 1)[0], flags=re.M)[1:]]
    return Lecture(path, title, " ".join(shows.group(1).split()) if shows else "", objectives,
                   numbered_items(section(nb, TRY_IT)), numbered_items(section(nb, SELF_CHECK)))


def lectures() -> list[Lecture]:
    """Every notebook of the study as a lecture, in order."""
    return [read_lecture(path) for path in notebook_paths()]
