"""Layout helpers the draw functions share: text wrapped to the room it has, log axes in plain
numbers, image panels without axes, and grids of panels sized by the current style."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FuncFormatter, NullLocator

from aecrypt.study.figures.style import max_height, width


def wrap(text: str, inches: float, fontsize: float | None = None) -> str:
    """``text`` broken into lines that fit ``inches`` at ``fontsize`` points (the rc font size if None)."""
    size = fontsize or plt.rcParams["font.size"]
    return textwrap.fill(text, max(8, int(inches * 72 / (0.55 * size))), break_long_words=False, break_on_hyphens=False)


def panel_inches(ax) -> float:
    """Width of an axes in inches, as laid out so far."""
    return ax.get_position().width * ax.figure.get_figwidth()


def points(setting: str) -> float:
    """A font size setting of the current style in points ('small' and the like resolved)."""
    return FontProperties(size=plt.rcParams[setting]).get_size_in_points()


def panel_title(ax, text: str) -> None:
    """A title wrapped to its panel's width."""
    ax.set_title(wrap(text, panel_inches(ax) * 1.05, points("axes.titlesize")))


def axis_labels(ax, x: str = "", y: str = "") -> None:
    """Axis labels wrapped to the axes' width (x) and height (y)."""
    size = points("axes.labelsize")
    if x:
        ax.set_xlabel(wrap(x, panel_inches(ax) * 1.1, size))
    if y:
        ax.set_ylabel(wrap(y, ax.get_position().height * ax.figure.get_figheight() * 1.1, size))


def log_y(ax) -> None:
    """A log y axis labelled in plain numbers (0.2, 20), minor ticks (0.3, 0.4) labelled only
    when the data span less than a decade and would otherwise show one label or none."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()  # the data's range (call after plotting)
    plain = FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:.3g}")  # 10,000 not 1e+04
    ax.yaxis.set_major_formatter(plain)
    if high / low < 10:
        ax.yaxis.set_minor_formatter(plain)
    else:  # no minor ticks over several decades: unlabelled, they cost most of the layout time
        ax.yaxis.set_minor_locator(NullLocator())


def show_image(ax, image: np.ndarray, text: str = "") -> None:
    """Draw one image (uint8, or floats in [0, 1]; grey if it has one channel) without axes, titled ``text``."""
    x = np.asarray(image, np.float32) / (255 if np.asarray(image).dtype == np.uint8 else 1)
    x = np.clip(x, 0, 1)
    ax.imshow(x[..., 0] if x.shape[-1] == 1 else x, cmap="gray" if x.shape[-1] == 1 else None, vmin=0, vmax=1)
    if text:
        panel_title(ax, text)
    ax.axis("off")


def image_grid(rows: int, columns: int, title_lines: int = 1, titled_rows: int | None = None) -> tuple[plt.Figure, np.ndarray]:
    """A double-width figure of square image panels, room left for ``title_lines`` of title
    above each of the first ``titled_rows`` rows (all rows if None)."""
    inches = width("double")
    panel = inches / columns
    title_inches = title_lines * 1.6 * points("font.size") / 72
    height = rows * panel + (rows if titled_rows is None else titled_rows) * title_inches
    return plt.subplots(rows, columns, figsize=(inches, min(height, max_height())), squeeze=False)


def centred_panels(count: int, columns: int, aspect: float) -> tuple[plt.Figure, list]:
    """``count`` axes in rows of ``columns`` (fewer if ``count`` is smaller), each ``aspect``
    as high as wide, the last row centred: no empty panel is drawn."""
    columns = max(1, min(columns, count))
    n_rows = -(-count // columns)
    inches = width("double")
    fig = plt.figure(figsize=(inches, min(max_height(), inches / columns * aspect * n_rows)))
    grid = fig.add_gridspec(n_rows, 2 * columns)  # half-width slots, so a short last row can be centred
    axes = []
    for i in range(count):
        row, col = divmod(i, columns)
        start = columns - min(columns, count - row * columns) + 2 * col
        axes.append(fig.add_subplot(grid[row, start : start + 2]))
    return fig, axes
