"""A committed run read back for the teacher's kit: its tables per training seed and model
variant, each notebook's parameters, and how long each notebook ran (the run's
``runs/study.json``, and each variant's ``runs/solutions.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from aecrypt import config
from aecrypt.config import RUNS_FOLDER
from aecrypt.errors import AecryptError
from aecrypt.study.runs import MAIN_RUN, seed_folder
from aecrypt.study.teaching.solutions import SOLUTIONS_RECORD, VARIANTS

#: The profile whose committed run the teacher's kit reads.
TEACHING_PROFILE = "default"


class NotCommittedError(AecryptError):
    """A result the teacher's kit reads is not in the committed run (yet)."""


def duration(seconds: float) -> str:
    """A wall time in words a reader takes in at a glance: seconds up to a minute and a half, else minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class CommittedRun:
    """One committed run (``results/<profile>/``) and its solutions variants."""

    def __init__(self, out: Path | None = None):
        self.out = out or config.results_dir(TEACHING_PROFILE)

    def folder(self, seed: int | None = 0, variant: str = MAIN_RUN) -> Path:
        """The folder a seed's notebooks (or, with ``seed`` None, the run's own) wrote into."""
        base = self.out if variant == MAIN_RUN else self.out / variant
        return base if seed is None else base / seed_folder(seed)

    def _missing(self, what: str, variant: str) -> NotCommittedError:
        """The error for a result not committed, saying which command makes it."""
        command = f"`make solutions` (variant {variant})" if variant in VARIANTS else "`make reproduce`"
        return NotCommittedError(f"{what} is not in the committed run; {command} makes it")

    def table(self, name: str, seed: int | None = 0, variant: str = MAIN_RUN) -> pd.DataFrame:
        """A table of a seed's folder (or the run's own folder, with ``seed`` None)."""
        path = self.folder(seed, variant) / f"{name}.csv"
        if not path.is_file():
            raise self._missing(f"{path.relative_to(self.out.parent)}", variant)
        return pd.read_csv(path)

    def parameters(self, notebook: str, seed: int | None = 0, variant: str = MAIN_RUN) -> dict[str, Any]:
        """The resolved parameters a notebook ran with (its ``runs/<notebook>.json``)."""
        path = self.folder(seed, variant) / RUNS_FOLDER / f"{notebook}.json"
        if not path.is_file():
            raise self._missing(f"{path.relative_to(self.out.parent)}", variant)
        return json.loads(path.read_text())["parameters"]

    def study(self) -> dict[str, Any]:
        """The run's ``runs/study.json``: CPU, commit and each notebook's wall time."""
        path = self.out / RUNS_FOLDER / "study.json"
        if not path.is_file():
            raise self._missing(f"{path.relative_to(self.out.parent)}", MAIN_RUN)
        return json.loads(path.read_text())

    def _solutions(self, variant: str) -> dict[str, Any]:
        """A variant's solutions record: its CPU, commit and each notebook's wall time."""
        path = self.out / variant / RUNS_FOLDER / SOLUTIONS_RECORD
        if not path.is_file():
            raise self._missing(f"{path.relative_to(self.out.parent)}", variant)
        return json.loads(path.read_text())

    def seconds(self, notebook: str, seed: int | None = None, variant: str = MAIN_RUN) -> float:
        """How long a notebook ran: in the study (for a further training seed, its own run),
        or in a variant's solutions run."""
        if variant != MAIN_RUN:
            return float(self._solutions(variant)["seconds"][notebook])
        times = self.study()["seconds"]
        for label in ([f"{notebook} (seed {seed})"] if seed else []) + [notebook, f"{notebook} (seed 0)"]:
            if label in times:
                return float(times[label])
        raise self._missing(f"the time of {notebook}" + (f" for seed {seed}" if seed else ""), MAIN_RUN)

    def machine(self, variant: str = MAIN_RUN) -> str:
        """The CPU the run's (or a variant's) times were measured on, in words."""
        meta = self.study() if variant == MAIN_RUN else self._solutions(variant)
        return f"{meta['cpu']}, {meta['cpu_count']} cores"
