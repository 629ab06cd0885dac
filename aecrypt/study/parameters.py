"""Notebook parameters: read from each notebook's parameters cell, checked by type and range.

A parameter is declared once, in its notebook's ``parameters`` cell (typed, commented);
``aecrypt reproduce`` checks every ``-p`` value against that declaration before anything
runs, and ``study.start`` checks it again inside the notebook, so a hand-run papermill
call with a bad value also stops at once, with a message that names the expected type.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from aecrypt.config import STYLES
from aecrypt.config import RUNS_FOLDER
from aecrypt.errors import ParameterError
from aecrypt.study.profiles import PROFILES

#: Python types of the annotations papermill reports (Optional[X] also allows None).
TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
#: Inclusive lower and upper bounds of numeric parameters (None: unbounded).
RANGES: dict[str, tuple[float | None, float | None]] = {
    "image_size": (8, 4096),
    "max_images": (4, None),
    "per_class": (1, None),
    "epochs": (1, None),
    "batch_size": (1, None),
    "inference_batch": (1, None),
    "patience": (1, None),
    "learning_rate": (1e-7, 10.0),
    "time_budget_minutes": (0.1, None),
    "guard_mm": (0, 1000),
    "bottleneck": (0, 1024),  # 0: no Dense layer (model.DEPLOYED_BOTTLENECK)
    "pooling_stages": (1, 4),
    "aes_repeats": (1, None),
    "model_repeats": (1, None),
    "noise_images": (1, None),
    "sweep_images": (1, None),
    "sweep_points": (2, None),
    "attack_epochs": (1, None),
    "attack_images": (2, None),
    "denoise_epochs": (1, None),
    "bm3d_images": (0, None),
    "seed": (0, 2**32 - 1),
    "split_seed": (0, 2**32 - 1),
    "image_index": (0, None),
    "memory_limit_mb": (1e-3, None),  # shards.DEFAULT_MEMORY_LIMIT_MB; a tiny bound streams tiny folders (tests)
}
#: Parameters whose value is one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {
    "profile": tuple(PROFILES),
    "dataset": ("mni152", "folder"),
    "split": ("slabs", "random"),
    "precision": ("auto", "float32", "mixed_bfloat16"),
    "upsample_position": ("table2", "prose"),
    "strategy": ("default", "mirrored", "multi_worker"),  # training.STRATEGIES
    "learning_rate_schedule": ("constant", "cosine"),  # training.SCHEDULES
    "noise_scope": ("all", "paper"),
}
#: A run's name becomes a folder under results/<profile>/ and models/<profile>/: a plain name.
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: Names a run may not take: the folders a run writes inside its own (and ``aecrypt
#: figures``' style folders, and the scratch area), and the seed folders (``seed-<n>``).
RESERVED_RUN_NAMES = (RUNS_FOLDER, "executed", "figure_data", "scratch", *STYLES)
SEED_FOLDER_PREFIX = "seed-"
#: Fractions must lie strictly between 0 and 1 (validation may be 0).
FRACTIONS: dict[str, tuple[float, float]] = {"test_fraction": (0.0, 1.0), "validation_fraction": (-1e-12, 1.0)}


@lru_cache(maxsize=32)
def _inspect(path: str, mtime: float) -> dict[str, dict]:
    """papermill's reading of a parameters cell, cached while the file is unchanged."""
    import papermill

    return papermill.inspect_notebook(path)


def declared_parameters(path: str | Path) -> dict[str, dict]:
    """A notebook's declared parameters: name -> papermill's info (type name, default, help)."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such notebook")
    return dict(_inspect(str(path), path.stat().st_mtime))


def check_value(name: str, value: Any, type_name: str) -> Any:
    """``value`` converted to the declared type (an int where a float is declared), or a
    ParameterError that says what was expected."""
    optional = type_name.startswith("Optional[")
    base = type_name[len("Optional[") : -1] if optional else type_name
    if value is None:
        if optional:
            return None
        raise ParameterError(f"parameter {name} needs a value of type {base}, not None")
    expected = TYPES.get(base)
    if expected is None:  # an annotation we do not check (none in the study's notebooks)
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ParameterError(f"parameter {name} must be {_article(base)} (declared {type_name}), not {value!r}")
    _check_range(name, value)
    return value


def _check_range(name: str, value: Any) -> None:
    """Bounds, fractions and word choices for the parameters that have them."""
    if name in CHOICES and value not in CHOICES[name]:
        raise ParameterError(f"parameter {name} must be one of {', '.join(CHOICES[name])}, not {value!r}")
    if name == "run_name":
        check_run_name(value)
    if name in FRACTIONS:
        low, high = FRACTIONS[name]
        if not low < value < high:
            raise ParameterError(f"parameter {name} must lie between 0 and 1, not {value!r}")
    if name in RANGES:
        low, high = RANGES[name]
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
            raise ParameterError(f"parameter {name} must be {bounds}, not {value!r}")


def check_run_name(value: str) -> str:
    """A run name that stays in its own folder: letters, digits, ``-`` and ``_``, not a
    folder a run writes itself; else a ParameterError."""
    if not RUN_NAME.fullmatch(value) or value.lower().startswith(SEED_FOLDER_PREFIX) or value.lower() in RESERVED_RUN_NAMES:
        raise ParameterError(
            f"parameter run_name must be a plain name of letters, digits, - and _ (at most 64; not {SEED_FOLDER_PREFIX}..., "
            f"{', '.join(RESERVED_RUN_NAMES)}), not {value!r}"
        )
    return value


def check_values(given: dict[str, Any], declared: dict[str, dict]) -> dict[str, Any]:
    """Every given value checked against its declaration; unknown names are an error."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; declared: {', '.join(declared)}")
    return {name: check_value(name, value, declared[name]["inferred_type_name"]) for name, value in given.items()}


def _article(type_name: str) -> str:
    """'an int', 'a float', ... for messages."""
    return {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False"}.get(type_name, type_name)
