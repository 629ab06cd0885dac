"""The figures' house style: the style sheets in ``aecrypt/study/styles/`` (``paper``: 3.5 and
7.2 in wide at 300 dpi; ``slides``: 16:9; ``notebook``), the widths and heights figures size
themselves by, and one colour per method. Setting a style loads no figure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from aecrypt.config import STYLES

#: The package's style sheets: ``base`` for every figure, then one of ``config.STYLES``.
STYLES_DIR = Path(__file__).parents[1] / "styles"
#: The style a run draws in when its record names none.
DEFAULT_STYLE = "notebook"
#: Figure widths in inches: a journal's single and double column, half and whole 16:9 slide, a notebook.
WIDTHS = {"paper": {"single": 3.5, "double": 7.2}, "slides": {"single": 6.4, "double": 12.8},
          "notebook": {"single": 5.0, "double": 9.0}}
#: Tallest figure per style (a journal page's text height, a slide's height).
MAX_HEIGHTS = {"paper": 9.0, "slides": 7.2, "notebook": 12.0}

#: Okabe and Ito's colour-blind-safe palette (the style sheets cycle through it too).
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
#: One colour per method, the same in every figure: a method's name starts with its key.
METHOD_COLOURS = {
    "noisy input": OKABE_ITO["black"],
    "autoencoder pipeline": OKABE_ITO["blue"],
    "denoising autoencoder pipeline": OKABE_ITO["sky blue"],
    "median": OKABE_ITO["orange"],
    "non-local means (estimated": OKABE_ITO["bluish green"],
    "non-local means": OKABE_ITO["yellow"],
    "BM3D (estimated": OKABE_ITO["reddish purple"],
    "BM3D": OKABE_ITO["vermillion"],
}
#: Colour of a method not in ``METHOD_COLOURS``.
OTHER_COLOUR = "#999999"
#: Colours of the two parts of the time figure: AES and the networks (the autoencoder's blue).
AES_COLOUR, NETWORK_COLOUR = OKABE_ITO["vermillion"], METHOD_COLOURS["autoencoder pipeline"]

#: The style being drawn in (``use_style`` and ``styled`` set it); figures size themselves by it.
_style = DEFAULT_STYLE


def style_sheets(style: str) -> list[Path]:
    """The style sheets of ``style``, base first; a ValueError names the styles there are."""
    if style not in STYLES:
        raise ValueError(f"unknown figure style {style!r}; choose one of {', '.join(STYLES)}")
    return [STYLES_DIR / "base.mplstyle", STYLES_DIR / f"{style}.mplstyle"]


def use_style(style: str = DEFAULT_STYLE) -> None:
    """Apply a house style to every figure drawn from now on (notebooks call it via ``study.start``)."""
    global _style
    plt.style.use(style_sheets(style))
    _style = style


@contextlib.contextmanager
def styled(style: str) -> Iterator[None]:
    """Draw (and save) in ``style`` from matplotlib's defaults, whatever was set before.

    Leaving it keeps matplotlib's interactive mode as it is then: a notebook's inline backend,
    loaded by the first figure drawn inside, turns it on, and restoring the setting from
    before would stop the notebook showing the figures drawn later.
    """
    global _style
    previous, interactive = _style, matplotlib.is_interactive()
    try:
        with plt.style.context(style_sheets(style), after_reset=True):
            _style = style
            try:
                yield
            finally:
                interactive = matplotlib.is_interactive()
    finally:
        _style = previous
        matplotlib.interactive(interactive)


def current_style() -> str:
    """The style figures are being drawn in."""
    return _style


def width(column: str = "double") -> float:
    """Width in inches of a single- or double-column figure in the current style."""
    return WIDTHS[_style][column]


def max_height() -> float:
    """The tallest a figure may be in the current style, in inches."""
    return MAX_HEIGHTS[_style]


def figsize(column: str = "double", aspect: float = 0.5) -> tuple[float, float]:
    """(width, height) in inches for a single- or double-column figure of this aspect (height / width)."""
    inches = width(column)
    return inches, min(inches * aspect, max_height())


def method_colours(methods) -> dict[str, str]:
    """Each method's colour from ``METHOD_COLOURS`` (the longest key its name starts with),
    the same in every figure whatever subset it shows."""
    def colour(method: str) -> str:
        keys = [key for key in METHOD_COLOURS if method.startswith(key)]
        return METHOD_COLOURS[max(keys, key=len)] if keys else OTHER_COLOUR

    return {m: colour(m) for m in dict.fromkeys(methods)}
