"""What made each result of a lane: each job's commit, code and parameters, and whether its seeds agree.

Every job leaves ``runs/<notebook>.json`` beside its outputs (``runs.start`` writes the
parameters, versions and commit; the workflow adds its record: hashes of the code, the
parameters given, the wall time). The report reads them back to say, job by job, what
made the tables, and to refuse a spread across seeds that were made by different code or
parameters: such a mean would mix two studies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aecrypt.study.profiles import PROFILES
from aecrypt.study.runs import TRAINING_NOTEBOOK
from aecrypt.config import RUNS_FOLDER

SEED_FOLDER = re.compile(r"^seed-(\d+)$")
#: Parameters a job's lane sets (where it writes, which seed), not choices that change a study.
LANE_PARAMETERS = ("profile", "publish", "seed", "run_name")
#: The key of the workflow's record in a ``runs/*.json`` file.
RECORD_KEY = "workflow"


def seed_folders(out: Path) -> dict[int, Path]:
    """The result folders of one run by training seed (``seed-<n>/``, each with its trained model's record)."""
    folders = {}
    for child in sorted(out.glob("seed-*")):
        match = SEED_FOLDER.match(child.name)
        if match and (child / RUNS_FOLDER / f"{TRAINING_NOTEBOOK}.json").is_file():
            folders[int(match.group(1))] = child
    return dict(sorted(folders.items()))


@dataclass
class JobRecord:
    """One job's ``runs/<notebook>.json``, read back."""

    label: str
    data: dict[str, Any]

    @property
    def workflow(self) -> dict[str, Any]:
        """The workflow's record (empty for a run made before there was one)."""
        record = self.data.get(RECORD_KEY)
        return record if isinstance(record, dict) else {}

    @property
    def commit(self) -> str:
        """The git commit the job ran at ('-dirty' if its code had uncommitted changes)."""
        return str(self.data.get("git_commit", "unknown"))

    @property
    def seconds(self) -> float | None:
        """The job's wall time, where the workflow recorded it."""
        return self.workflow.get("seconds")

    @property
    def choices(self) -> dict[str, Any] | None:
        """The parameters given besides the profile's (overrides, a partial seed's extras);
        None where the run made no record of them."""
        if "parameters" not in self.workflow:
            return None
        return {k: v for k, v in self.workflow["parameters"].items() if k not in LANE_PARAMETERS}

    def made_by(self, ignore: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any]]:
        """The code (hashes of the notebook and package, else the commit) and the
        parameters (the lane's and ``ignore`` left out) that made this job's outputs."""
        if "parameters" in self.workflow:
            code: Any = (self.workflow.get("notebook"), self.workflow.get("package"))
            parameters = self.workflow["parameters"]
        else:
            code, parameters = self.commit, self.data.get("parameters", {})
        return code, {k: v for k, v in parameters.items() if k not in (*LANE_PARAMETERS, *ignore)}


def read_record(path: Path, label: str) -> JobRecord | None:
    """A job's record, or None where it is missing or unreadable."""
    try:
        return JobRecord(label, json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def lane_records(out: Path) -> list[JobRecord]:
    """Every job record of a lane: its own folder's (notebook 01), then each seed's, in notebook order."""
    records = [read_record(path, path.stem) for path in sorted((out / RUNS_FOLDER).glob("[0-9]*.json"))]
    for seed, folder in seed_folders(out).items():
        records += [read_record(path, f"{path.stem} (seed {seed})") for path in sorted((folder / RUNS_FOLDER).glob("[0-9]*.json"))]
    return [record for record in records if record is not None]


def seed_mismatch(folders: dict[int, Path], profile: str | None = None) -> str | None:
    """Why the seeds' tables must not be averaged, in one line: a notebook that some seed
    ran with other code or other parameters (the seed, and the extra parameters the
    profile gives its partial seeds, aside) than the first seed; None when they agree."""
    if len(folders) < 2:
        return None
    partial = PROFILES.get(profile, {}).get("partial_notebooks", {}) if profile else {}
    (first_seed, first), *others = folders.items()
    for seed, folder in others:
        for path in sorted((folder / RUNS_FOLDER).glob("[0-9]*.json")):
            mine, theirs = read_record(path, path.stem), read_record(first / RUNS_FOLDER / path.name, path.stem)
            if mine is None or theirs is None:
                continue
            ignore = tuple(partial.get(path.stem, {}))
            if mine.made_by(ignore) != theirs.made_by(ignore):
                return (f"Seeds {', '.join(map(str, folders))} are not aggregated: seed {seed}'s {path.stem} was made "
                        f"{_difference(mine, theirs, ignore)} than seed {first_seed}'s; rerun the seeds together "
                        f"(aecrypt reproduce --seeds {','.join(map(str, folders))}).")
    return None


def _difference(mine: JobRecord, theirs: JobRecord, ignore: tuple[str, ...]) -> str:
    """'with other code (commit a, not b)' and/or 'with other parameters (x=1, not 2)'."""
    (code, parameters), (their_code, their_parameters) = mine.made_by(ignore), theirs.made_by(ignore)
    parts = []
    if code != their_code:
        parts.append(f"with other code (commit {mine.commit}, not {theirs.commit})")
    names = sorted(name for name in set(parameters) | set(their_parameters) if parameters.get(name) != their_parameters.get(name))
    if names:
        parts.append("with other parameters (" + ", ".join(
            f"{name}={parameters.get(name)!r}, not {their_parameters.get(name)!r}" for name in names) + ")")
    return " and ".join(parts)
