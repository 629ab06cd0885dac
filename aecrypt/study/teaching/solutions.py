"""The solutions run (``make solutions``): the model variants that the "Try it" exercises
train and no study run covers, run through the study's workflow (``aecrypt reproduce``) as named runs.

Each variant trains its own model (notebook 02) under its own ``run_name`` and runs the
notebooks its exercises read, for the profile's first training seed, into
``results/<profile>/<run_name>/seed-<n>/`` (its model into the git-ignored
``models/<profile>/<run_name>/``). The wall time of each notebook goes to
``results/<profile>/<run_name>/runs/solutions.json``, so an exercise's runtime is read, not
typed. A named run stays in its lane: the main run's REPORT.md and ``runs/study.json`` are left alone.

    python -m aecrypt.study.teaching.solutions --profile default   # what `make solutions` runs
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.config import RUNS_FOLDER
from aecrypt.errors import AecryptError, ParameterError
from aecrypt.study.profiles import PROFILES
from aecrypt.study.results import run_metadata, write_json

#: Where a variant's notebook times are recorded, in its ``runs/`` folder.
SOLUTIONS_RECORD = "solutions.json"


@dataclass(frozen=True)
class Variant:
    """A model variant an exercise asks about: its run name, the notebooks it runs, its parameters."""

    run_name: str
    notebooks: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    about: str = ""


#: The variants, each trained once by notebook 02 and read by the notebooks after it.
VARIANTS: dict[str, Variant] = {v.run_name: v for v in (
    Variant("wide", ("02", "06"), {"bottleneck": 8}, "eight feature channels instead of three"),
    Variant("pool2", ("02", "03", "04", "05", "06"), {"pooling_stages": 2}, "a second max-pooling stage"),
)}


def variant_folder(profile: str, run_name: str) -> Path:
    """A variant's results folder, ``results/<profile>/<run_name>/`` (its seed folders inside)."""
    return config.results_dir(profile) / run_name


def run_variant(variant: Variant, profile: str = "default") -> dict[str, float]:
    """Run one variant's notebooks for the profile's first training seed as the named run
    ``variant.run_name`` (parameters checked before anything runs); returns and records each
    notebook's wall time."""
    from aecrypt.study.workflow import reproduce  # Snakemake: only when the variants run

    seed = PROFILES[profile]["seeds"][0]
    overrides = {**variant.overrides, "run_name": variant.run_name}
    reproduce(profile, only=list(variant.notebooks), overrides=overrides, seeds=[seed])
    study = json.loads((variant_folder(profile, variant.run_name) / RUNS_FOLDER / "study.json").read_text())
    seconds = {label.split(" (")[0]: value for label, value in study.get("seconds", {}).items()}
    record = {**run_metadata({"profile": profile, **overrides, "seed": seed}), "seconds": seconds}
    write_json(variant_folder(profile, variant.run_name) / RUNS_FOLDER / SOLUTIONS_RECORD, record)
    return seconds


def run_solutions(profile: str = "default", names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the named variants (all by default), in ``VARIANTS`` order; returns their times."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    unknown = sorted(set(names or ()) - set(VARIANTS))
    if unknown:
        raise ParameterError(f"no solutions variant named {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    return {name: run_variant(variant, profile) for name, variant in VARIANTS.items() if names is None or name in names}


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make solutions``: run the variants, one line per notebook."""
    parser = argparse.ArgumentParser(prog="python -m aecrypt.study.teaching.solutions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", choices=list(PROFILES), help="run profile (default: default)")
    parser.add_argument("--only", help=f"comma-separated variants to run (default: all of {', '.join(VARIANTS)})")
    args = parser.parse_args(argv)
    try:
        run_solutions(args.profile, args.only.split(",") if args.only else None)
    except AecryptError as error:
        parser.exit(1, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
