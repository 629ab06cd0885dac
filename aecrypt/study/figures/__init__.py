"""The study's figures: each drawn by one function from data a run saved, in one house style.

- ``style``: the style sheets, ``use_style`` and ``styled``, widths and colours;
- ``layout``: wrapped text, log axes and grids of panels, shared by the draw functions;
- ``draw``: one function per figure, from prepared data only (tables, arrays, labels);
- ``prepare`` and ``storage``: what a notebook's values are saved as, in ``figure_data/``;
- ``registry``: ``FIGURES`` (each figure's data and draw function), ``publish``, ``redraw``
  and ``redraw_all``.

Setting the style (every notebook's ``study.start`` does) loads the style alone; the
registry, and with it the draw functions, loads when one of its names is first used here
(``figures.publish``, ``figures.redraw_all``).
"""

from __future__ import annotations

import importlib
from typing import Any

from aecrypt.study.figures.style import DEFAULT_STYLE, styled, use_style

__all__ = ["DEFAULT_STYLE", "styled", "use_style", "FIGURES", "publish", "redraw", "redraw_all", "run_folders"]
#: The registry's names offered here, loaded on first use (PEP 562) so that setting the style stays light.
_REGISTRY_NAMES = ("FIGURES", "publish", "redraw", "redraw_all", "run_folders")


def __getattr__(name: str) -> Any:
    """One of the registry's names, importing the registry (and the draw functions) on first use."""
    if name in _REGISTRY_NAMES:
        return getattr(importlib.import_module("aecrypt.study.figures.registry"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
