"""The small arrays behind a run's figures, kept in ``figure_data/<name>.npz``: any nesting of
dicts and lists of arrays, numbers and strings, saved without pickle (a JSON description
beside the arrays) and read back as saved, or refused if an older aecrypt saved them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from aecrypt.errors import FigureDataError
from aecrypt.files import atomic_path
from aecrypt.method.pixels import to_uint8

#: Where a run folder keeps the small arrays behind its figures.
FIGURE_DATA = "figure_data"
#: The layout of the saved values. Layout 1 (no number saved) kept no labels for the noise,
#: sweep and size figures; its files are refused with a message to re-run the study.
LAYOUT = 2


def pixels(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as uint8, the form image panels are saved in (a quarter of float32's
    size); grey images kept in three equal channels are saved as one."""
    x = to_uint8(images)
    return x[..., :1] if x.shape[-1] == 3 and (x == x[..., :1]).all() else x


def save_values(path: Path, values: dict[str, Any]) -> Path:
    """Save a figure's values (arrays, numbers, strings, lists and dicts of them) to ``path``."""
    arrays: dict[str, np.ndarray] = {}
    described = json.dumps({"layout": LAYOUT, "values": _encode(values, arrays)})
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, values=np.array(described), **arrays)
    return path


def load_values(path: Path) -> dict[str, Any]:
    """A figure's values as ``save_values`` saved them; an error saying to re-run the study if
    the file is missing or in another layout."""
    if not path.is_file():
        raise FigureDataError(f"{path} is missing; re-run the notebook that publishes this figure (aecrypt reproduce)")
    with np.load(path, allow_pickle=False) as saved:
        described = _description(path, saved)
        arrays = {key: saved[key] for key in saved.files if key != "values"}
    return _decode(described["values"], arrays)


def check_layout(folder: Path) -> None:
    """Refuse a run folder whose saved figure data an older aecrypt wrote, before drawing any of it."""
    for path in sorted((folder / FIGURE_DATA).glob("*.npz")):
        with np.load(path, allow_pickle=False) as saved:
            _description(path, saved)


def _description(path: Path, saved: Any) -> dict[str, Any]:
    """The JSON description of a saved file (its layout and values); an error if another layout."""
    described = json.loads(str(saved["values"]))
    layout = described.get("layout", 1) if isinstance(described, dict) else 1
    if layout != LAYOUT:
        raise FigureDataError(f"{path} was saved by an older aecrypt (figure data layout {layout}, this one reads {LAYOUT}); "
                              "re-run the study (aecrypt reproduce) to save it again")
    return described


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON, its arrays moved into ``arrays`` and referred to by key."""
    if isinstance(value, np.ndarray):
        key = f"array{len(arrays)}"
        arrays[key] = value
        return {"array": key}
    if isinstance(value, dict):
        return {"dict": [[str(k), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _decode(value: Any, arrays: Any) -> Any:
    """The inverse of ``_encode``."""
    if isinstance(value, dict):
        return arrays[value["array"]] if "array" in value else {k: _decode(v, arrays) for k, v in value["dict"]}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value
