"""The study's figures: each drawn by one function from data a run saved, in one house style.

A notebook computes; ``publish`` saves what a figure needs (the tables it reads are already
CSV files; image panels and the like go to ``figure_data/<name>.npz``), reads it back from
disk and draws it. ``aecrypt figures`` calls the same ``redraw`` on the same files, so the
command and the notebooks give byte-identical PNG and PDF files, in seconds and without a
model. ``FIGURES`` names every figure of a run, the data it reads and the function that
draws it. The look (sizes, fonts, colours) comes from the style sheets in
``aecrypt/study/styles/``: ``paper`` (3.5 and 7.2 in wide, 300 dpi), ``slides`` (16:9) and
``notebook``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aecrypt.config import STYLES

if TYPE_CHECKING:
    from aecrypt.experiments.security import ByteFlip, Journey

#: The package's style sheets: ``base`` for every figure, then one of ``config.STYLES``.
STYLES_DIR = Path(__file__).parent / "styles"
#: The style a run draws in when its record names none.
DEFAULT_STYLE = "notebook"
#: Figure widths in inches: a journal's single and double column, half and whole 16:9 slide, a notebook.
WIDTHS = {"paper": {"single": 3.5, "double": 7.2}, "slides": {"single": 6.4, "double": 12.8},
          "notebook": {"single": 5.0, "double": 9.0}}
#: Tallest figure per style (a journal page's text height, a slide's height).
MAX_HEIGHTS = {"paper": 9.0, "slides": 7.2, "notebook": 12.0}
#: Where a run folder keeps the small arrays behind its figures.
FIGURE_DATA = "figure_data"

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

#: The style being drawn in (``styled`` sets it); figure functions size themselves by it.
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
    """Draw (and save) in ``style`` from matplotlib's defaults, whatever was set before."""
    global _style
    previous = _style
    with plt.style.context(style_sheets(style), after_reset=True):
        _style = style
        try:
            yield
        finally:
            _style = previous


def _figsize(width: str = "double", aspect: float = 0.5) -> tuple[float, float]:
    """(width, height) in inches for a single- or double-column figure of this aspect (height / width)."""
    inches = WIDTHS[_style][width]
    return inches, min(inches * aspect, MAX_HEIGHTS[_style])


def _wrap(text: str, inches: float, fontsize: float | None = None) -> str:
    """``text`` broken into lines that fit ``inches`` at ``fontsize`` points (the rc font size if None)."""
    size = fontsize or plt.rcParams["font.size"]
    return textwrap.fill(text, max(8, int(inches * 72 / (0.55 * size))), break_long_words=False, break_on_hyphens=False)


def _panel_inches(ax) -> float:
    """Width of an axes in inches, as laid out so far."""
    return ax.get_position().width * ax.figure.get_figwidth()


def _points(setting: str) -> float:
    """A font size setting of the current style in points ('small' and the like resolved)."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=plt.rcParams[setting]).get_size_in_points()


def _title(ax, text: str) -> None:
    """A title wrapped to its panel's width."""
    ax.set_title(_wrap(text, _panel_inches(ax) * 1.05, _points("axes.titlesize")))


def _labels(ax, x: str = "", y: str = "") -> None:
    """Axis labels wrapped to the axes' width (x) and height (y)."""
    size = _points("axes.labelsize")
    if x:
        ax.set_xlabel(_wrap(x, _panel_inches(ax) * 1.1, size))
    if y:
        ax.set_ylabel(_wrap(y, ax.get_position().height * ax.figure.get_figheight() * 1.1, size))


def _log_y(ax) -> None:
    """A log y axis labelled in plain numbers (0.2, 20), minor ticks (0.3, 0.4) labelled only
    when the data span less than a decade and would otherwise show one label or none."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    ax.set_yscale("log")
    low, high = ax.get_ylim()  # the data's range (call after plotting)
    plain = FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:.3g}")  # 10,000 not 1e+04
    ax.yaxis.set_major_formatter(plain)
    if high / low < 10:
        ax.yaxis.set_minor_formatter(plain)
    else:  # no minor ticks over several decades: unlabelled, they cost most of the layout time
        ax.yaxis.set_minor_locator(NullLocator())


def pixels(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as uint8, the form image panels are saved in (a quarter of float32's
    size); grey images kept in three equal channels are saved as one."""
    x = np.round(np.clip(np.asarray(images, np.float32), 0, 1) * 255).astype(np.uint8)
    return x[..., :1] if x.shape[-1] == 3 and (x == x[..., :1]).all() else x


def _show(ax, image: np.ndarray, title: str = "") -> None:
    """Draw one image (uint8, or floats in [0, 1]; grey if it has one channel) without axes."""
    x = np.asarray(image, np.float32) / (255 if np.asarray(image).dtype == np.uint8 else 1)
    x = np.clip(x, 0, 1)
    ax.imshow(x[..., 0] if x.shape[-1] == 1 else x, cmap="gray" if x.shape[-1] == 1 else None, vmin=0, vmax=1)
    if title:
        _title(ax, title)
    ax.axis("off")


def _image_grid(rows: int, columns: int, title_lines: int = 1, titled_rows: int | None = None) -> tuple[plt.Figure, np.ndarray]:
    """A double-width figure of square image panels, room left for ``title_lines`` of title
    above each of the first ``titled_rows`` rows (all rows if None)."""
    width = WIDTHS[_style]["double"]
    panel = width / columns
    title_inches = title_lines * 1.6 * _points("font.size") / 72
    height = rows * panel + (rows if titled_rows is None else titled_rows) * title_inches
    return plt.subplots(rows, columns, figsize=(width, min(height, MAX_HEIGHTS[_style])), squeeze=False)


# ------------------------------------------------------------ notebook 01: the data


def sample_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 6) -> plt.Figure:
    """A row of sample images for each class (as many columns as the largest class fills)."""
    classes = sorted(set(labels.tolist()))
    per_class = max(1, min(per_class, max(int(np.sum(labels == c)) for c in classes)))
    fig, axes = _image_grid(len(classes), per_class)
    for row, label in enumerate(classes):
        members = np.flatnonzero(labels == label)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            if col < len(members):
                _show(ax, images[members[col]], label if col == 0 else "")
            else:
                fig.delaxes(ax)  # a class with fewer images: no empty panel
    fig.tight_layout()
    return fig


def sample_grid_data(images: np.ndarray, labels: np.ndarray, per_class: int = 6) -> dict[str, Any]:
    """What ``sample_grid`` draws: the first ``per_class`` images of each class, as uint8."""
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in sorted(set(labels.tolist()))])
    return {"images": pixels(images[keep]), "labels": np.asarray(labels)[keep].astype(str), "per_class": per_class}


#: Intensities at or below this are background, left out of the intensity histograms.
BACKGROUND = 0.02


def intensity_counts(images: np.ndarray, labels: np.ndarray, bins: int = 100) -> dict[str, Any]:
    """Histogram of each class's non-background intensities (first channel): the data of
    ``intensity_histograms``."""
    edges = np.linspace(BACKGROUND, 1.0, bins + 1)
    counts = {str(label): np.histogram(images[labels == label][..., 0], bins=edges)[0] for label in sorted(set(labels.tolist()))}
    return {"edges": edges, "counts": counts}


def intensity_histograms(edges: np.ndarray, counts: dict[str, np.ndarray]) -> plt.Figure:
    """Distribution of pixel intensities per class (non-background pixels), as densities."""
    fig, ax = plt.subplots(figsize=_figsize("single", 0.7))
    for label, count in counts.items():
        ax.stairs(count / max(1, count.sum()) / np.diff(edges), edges, label=label, linewidth=plt.rcParams["lines.linewidth"])
    _labels(ax, f"intensity (0 black, 1 white; background below {BACKGROUND} left out)", "density")
    ax.legend(title="class")
    fig.tight_layout()
    return fig


def leakage_histograms(per_split: dict[str, np.ndarray], threshold: float) -> plt.Figure:
    """Nearest-training SSIM of each test image, one histogram per split, with the
    near-duplicate threshold marked."""
    fig, ax = plt.subplots(figsize=_figsize("double", 0.42))
    bins = np.linspace(min(0.3, min(float(np.min(v)) for v in per_split.values())), 1.0, 36)
    for name, values in per_split.items():
        ax.hist(values, bins=bins, alpha=0.55, label=f"{name} (median {np.median(values):.3f})")
    ax.axvline(threshold, color="black", linestyle=":", label=f"near-duplicate ({threshold:g})")
    _labels(ax, "SSIM of each test image to its most similar training image (64 px, grey, mirrors included)", "test images")
    ax.legend()
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ notebook 02: training


def training_history(history: pd.DataFrame, best_epoch: int | None = None, stopped_because: str = "") -> plt.Figure:
    """Figure 5: training and validation loss per epoch; the caption says how many epochs
    ran and why training stopped."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=_figsize("single", 0.75))
    ax.plot(history["epoch"], history["loss"], marker="o", label="training loss")
    ax.plot(history["epoch"], history["val_loss"], marker="s", label="validation loss")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch ({best_epoch})")
    _labels(ax, "epoch", "mean squared error (log scale)")
    _log_y(ax)
    if len(history) <= 12:
        ax.set_xticks(history["epoch"])  # epochs are whole
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _title(ax, "Training and validation loss (cf. the paper's Figure 5)")
    if stopped_because:
        fig.text(0.5, -0.02, _wrap(f"{len(history)} epochs ran; {stopped_because}.", fig.get_figwidth()),
                 ha="center", va="top", fontsize=_points("legend.fontsize"))
    ax.legend()
    fig.tight_layout()
    return fig


def image_pairs(originals: np.ndarray, others: np.ndarray, titles: tuple[str, str] = ("original", "reconstruction"), count: int = 6) -> plt.Figure:
    """Originals in the top row, their counterparts below."""
    return image_rows([(titles[0], originals), (titles[1], others)], count)


def image_rows(rows: list[tuple[str, np.ndarray]], count: int = 6) -> plt.Figure:
    """One labelled row of images per batch, the same images in each column."""
    count = min(count, *(len(images) for _, images in rows))
    fig, axes = _image_grid(len(rows), count)
    for r, (title, images) in enumerate(rows):
        for col in range(count):
            _show(axes[r, col], images[col], title if col == 0 else "")
    fig.tight_layout()
    return fig


def image_rows_data(rows: list[tuple[str, np.ndarray]], count: int = 6) -> dict[str, Any]:
    """What ``image_rows`` draws: each row's title and its first ``count`` images, as uint8."""
    return {"rows": [[title, pixels(images[:count])] for title, images in rows], "count": count}


# ------------------------------------------------------------ notebook 03: the journey


def to_displayable(array: np.ndarray) -> np.ndarray:
    """Min-max scale any array to [0, 1] per channel so it can be drawn as an image."""
    from aecrypt.method.pixels import stretch

    return stretch(np.asarray(array, np.float32), axis=(0, 1))


def image_journey(panels: list[tuple[str, np.ndarray]]) -> plt.Figure:
    """Figure 6: the image's journey, one labelled panel per stage."""
    fig, axes = _image_grid(1, len(panels), title_lines=2)
    for ax, (title, image) in zip(axes[0], panels):
        _show(ax, image, title)
    fig.tight_layout()
    return fig


def journey_panels(trip: Journey) -> list[tuple[str, np.ndarray]]:
    """Figure 6's panels from ``security.journey``: original, features, ciphertext bytes,
    decrypted features (both stretched per channel to be visible) and the decoder's output."""
    from aecrypt.experiments.security import ciphertext_picture

    return [
        ("(a) original", trip.image), ("(b) encoder output (features)", to_displayable(trip.features)),
        ("(c) after encryption (bytes)", ciphertext_picture(trip.payload)),
        ("(d) after decryption", to_displayable(trip.decrypted)), ("(e) decoder output", trip.output),
    ]


def journey_figure(trip: Journey) -> plt.Figure:
    """Figure 6 drawn from a ``security.journey``."""
    return image_journey(journey_panels(trip))


def byte_flip_panels(flip: ByteFlip) -> list[tuple[str, np.ndarray]]:
    """The clean decoding, the decoding after one flipped ciphertext byte under the paper's
    scheme, and their difference stretched to be visible."""
    difference = np.abs(flip.garbled_output - flip.clean_output)
    return [("clean decoding", flip.clean_output), ("after one flipped byte (paper scheme)", flip.garbled_output),
            ("difference (scaled)", to_displayable(difference))]


def byte_flip_figure(flip: ByteFlip) -> plt.Figure:
    """The byte-flip figure drawn from a ``security.paper_scheme_byte_flip``."""
    return image_journey(byte_flip_panels(flip))


def _panels_data(panels: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Titled image panels as saved: titles and uint8 images."""
    return {"panels": [[title, pixels(image)] for title, image in panels]}


# ------------------------------------------------------------ notebook 04: timing


def time_breakdown(end_to_end: pd.DataFrame) -> plt.Figure:
    """Milliseconds per image of sender and receiver, AES and network stacked on one linear
    axis (bar lengths proportional to time), each bar labelled with its total and AES's share."""
    sides = list(dict.fromkeys(end_to_end["side"]))
    fig, axes = plt.subplots(len(sides), 1, figsize=_figsize("double", 0.16 + 0.06 * len(end_to_end)), sharex=True, squeeze=False)
    for ax, side in zip(axes[:, 0], sides):
        rows = end_to_end[end_to_end["side"] == side]
        aes_ms, model_ms = rows["aes_s"].to_numpy() * 1e3, rows["model_s"].to_numpy() * 1e3
        ax.barh(rows["method"], aes_ms, color=AES_COLOUR, label="AES-256-GCM (encrypt or decrypt)")
        ax.barh(rows["method"], model_ms, left=aes_ms, color=NETWORK_COLOUR, label="encoder or decoder network")
        for y, (aes, total) in enumerate(zip(aes_ms, aes_ms + model_ms)):
            ax.annotate(f"{total:.3g} ms, AES {100 * aes / total:.0f} %", (total, y), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=_points("legend.fontsize"))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_title(f"{side}: {'encode, then encrypt' if side == 'sender' else 'decrypt, then decode'}")
        ax.margins(x=0.3)
    axes[-1, 0].set_xlabel("milliseconds per image (linear scale: bar length is time)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, ncol=2, loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def size_vs_quality(size_quality: pd.DataFrame) -> plt.Figure:
    """Kilobytes each method gives AES to encrypt against the SSIM after the round trip, one
    point per method, named in a legend below (labels beside points collide when sizes are close)."""
    from matplotlib.ticker import NullFormatter

    from aecrypt.experiments.timing import SEALED_SUFFIX

    fig, ax = plt.subplots(figsize=_figsize("double", 0.42))
    kilobytes = size_quality["bytes"] / 1e3
    markers = "osD^vP*Xph"
    for i, (index, row) in enumerate(size_quality.iterrows()):
        ax.scatter(kilobytes[index], row["ssim"], s=3 * plt.rcParams["lines.markersize"] ** 2, marker=markers[i % len(markers)],
                   label=row["method"].removesuffix(SEALED_SUFFIX))
    ax.set_xscale("log")
    ticks = [m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5) if kilobytes.min() / 1.5 <= m * 10.0**e <= kilobytes.max() * 1.5]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("kilobytes to encrypt (log scale)")
    ax.set_ylabel("SSIM after decryption and decoding")
    ax.legend(title="each then encrypted with AES-GCM", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ notebook 05: noise


def method_colours(methods) -> dict[str, str]:
    """Each method's colour from ``METHOD_COLOURS`` (the longest key its name starts with),
    the same in every figure whatever subset it shows."""
    def colour(method: str) -> str:
        keys = [key for key in METHOD_COLOURS if method.startswith(key)]
        return METHOD_COLOURS[max(keys, key=len)] if keys else OTHER_COLOUR

    return {m: colour(m) for m in dict.fromkeys(methods)}


def noise_methods(long: pd.DataFrame) -> plt.Figure:
    """SSIM against the clean original for every method and noise kind (grouped bars)."""
    from aecrypt.method.noise import NOISE_LABELS

    kinds = list(dict.fromkeys(long["noise"]))
    methods = list(dict.fromkeys(long["method"]))
    colours = method_colours(methods)
    fig, ax = plt.subplots(figsize=_figsize("double", 0.42))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        rows = long[long["method"] == method].set_index("noise").reindex(kinds)
        ax.bar(np.arange(len(kinds)) + (i - (len(methods) - 1) / 2) * width, rows["ssim_mean"], width, color=colours[method], label=method)
    ax.set_xticks(np.arange(len(kinds)), [NOISE_LABELS.get(k, k) for k in kinds])
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("noise added to the test images")
    ax.set_ylabel("SSIM against the clean original")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)  # below, over no bar
    fig.tight_layout()
    return fig


def noise_examples(original: np.ndarray, examples: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """One row per noise kind (named on the left): the original, then each method's output
    for the first image (methods named once, above their column)."""
    from aecrypt.method.noise import NOISE_LABELS

    kinds = list(examples)
    methods = list(examples[kinds[0]])
    fig, axes = _image_grid(len(kinds), len(methods) + 1, title_lines=4, titled_rows=1)  # method names wrap in narrow columns
    for row, kind in enumerate(kinds):
        panels = [("original", original)] + [(m, examples[kind][m][0]) for m in methods]
        for col, (title, image) in enumerate(panels):
            _show(axes[row, col], image, title if row == 0 else "")
        ax, size = axes[row, 0], _points("axes.titlesize")
        label = _wrap(NOISE_LABELS.get(kind, kind), ax.get_position().height * fig.get_figheight() * 0.8, size)  # fits beside its row
        ax.text(-0.08, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center", fontsize=size)
    fig.tight_layout()
    return fig


def noise_examples_data(original: np.ndarray, examples: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """What ``noise_examples`` draws: the original and each method's first output, as uint8."""
    return {"original": pixels(original), "examples": {k: {m: pixels(v[:1]) for m, v in by.items()} for k, by in examples.items()}}


def noise_sweep(sweep: pd.DataFrame) -> plt.Figure:
    """SSIM of each method's output against noise strength, one panel per noise kind."""
    from aecrypt.method.noise import NOISE_LABELS, STRENGTH_LABELS, STRENGTH_PARAMETER

    kinds = list(dict.fromkeys(sweep["noise"]))
    colours = method_colours(sweep["method"])
    fig, axes = plt.subplots(1, len(kinds), figsize=_figsize("double", 0.45), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        part = sweep[sweep["noise"] == kind]
        for method, rows in part.groupby("method", sort=False):
            ax.plot(rows["strength"], rows["ssim_mean"], marker="o", label=method, color=colours[method])
        ax.set_xscale("log")
        ax.set_title(NOISE_LABELS[kind])
        _labels(ax, f"{STRENGTH_LABELS[STRENGTH_PARAMETER[kind]]} (log scale)")
    axes[0, 0].set_ylabel("SSIM against the clean original")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, ncol=min(len(labels), 3), loc="lower center")  # below the panels, over no data
    rows = -(-len(labels) // 3)
    fig.tight_layout(rect=(0, min(0.4, rows * 2.2 * _points("legend.fontsize") / 72 / fig.get_figheight()), 1, 1))
    return fig


# ------------------------------------------------------------ notebook 06: security


#: Words for the cipher schemes that name byte samples ("gcm: feature map" is drawn as
#: "AES-GCM: feature map").
SCHEME_LABELS = {"gcm": "AES-GCM", "paper": "paper's keys per row (ours)", "paper-blocks": "paper's keys per block (ours)",
                 "ecb": "AES-ECB", "cbc": "AES-CBC", "ctr": "AES-CTR"}


def sample_label(name: str) -> str:
    """A byte sample's name with its scheme spelt out: 'ecb: raw image' -> 'AES-ECB: raw image'."""
    scheme, sep, rest = name.partition(": ")
    return f"{SCHEME_LABELS[scheme]}: {rest}" if sep and scheme in SCHEME_LABELS else name


def _panels(count: int, columns: int, aspect: float) -> tuple[plt.Figure, list]:
    """``count`` axes in rows of ``columns`` (fewer if ``count`` is smaller), each ``aspect``
    as high as wide, the last row centred: no empty panel is drawn."""
    columns = max(1, min(columns, count))
    n_rows = -(-count // columns)
    width = WIDTHS[_style]["double"]
    fig = plt.figure(figsize=(width, min(MAX_HEIGHTS[_style], width / columns * aspect * n_rows)))
    grid = fig.add_gridspec(n_rows, 2 * columns)  # half-width slots, so a short last row can be centred
    axes = []
    for i in range(count):
        row, col = divmod(i, columns)
        start = columns - min(columns, count - row * columns) + 2 * col
        axes.append(fig.add_subplot(grid[row, start : start + 2]))
    return fig, axes


def byte_images(samples: dict[str, tuple[bytes, int]], columns: int = 3) -> plt.Figure:
    """Each byte string drawn as a grey image, rows as in its plaintext: structure shows as pattern."""
    names = list(samples)
    fig, axes = _panels(len(names), columns, aspect=0.8)
    for ax, name in zip(axes, names):
        data, rows = samples[name]
        grid = np.frombuffer(data, np.uint8)[: len(data) - len(data) % rows].reshape(rows, -1)
        ax.imshow(grid, cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="nearest")
        _title(ax, sample_label(name))
        ax.axis("off")
    fig.tight_layout()
    return fig


def byte_histograms(samples: dict[str, tuple[bytes, int]], columns: int = 3) -> plt.Figure:
    """Histogram of byte values for each byte string (flat for a good cipher), every panel on
    one log scale so spikes compare across panels; axis labels on the outer panels only."""
    names = list(samples)
    fig, axes = _panels(len(names), columns, aspect=0.7)
    counts = {name: np.bincount(np.frombuffer(samples[name][0], np.uint8), minlength=256) for name in names}
    positive = np.concatenate([c[c > 0] for c in counts.values()])
    limits = (positive.min() / 1.5, positive.max() * 1.5) if positive.size else (0.5, 2)
    columns = min(columns, len(names))
    for index, (ax, name) in enumerate(zip(axes, names)):
        ax.stairs(counts[name], np.arange(257) - 0.5, fill=True, color=NETWORK_COLOUR)  # one shape, not 256 bars: fast, no white edges
        ax.set_ylim(*limits)
        _log_y(ax)
        _title(ax, sample_label(name))
        if index % columns == 0:
            ax.set_ylabel("bytes (log scale)")
        else:
            ax.tick_params(labelleft=False)
        if index >= len(names) - columns:
            ax.set_xlabel("byte value")
        else:
            ax.tick_params(labelbottom=False)
    fig.tight_layout()
    return fig


def byte_samples_data(samples: dict[str, tuple[bytes, int]]) -> dict[str, Any]:
    """Byte samples as saved: each sample's bytes (uint8) and its row count."""
    return {"samples": {name: [np.frombuffer(data, np.uint8), rows] for name, (data, rows) in samples.items()}}


def _byte_samples(saved: dict[str, Any]) -> dict[str, tuple[bytes, int]]:
    """Byte samples back from their saved form."""
    return {name: (np.asarray(data).tobytes(), int(rows)) for name, (data, rows) in saved["samples"].items()}


def feature_views(image: np.ndarray, views: np.ndarray) -> plt.Figure:
    """An image beside each of its feature channels stretched to [0, 1] and drawn in grey."""
    fig, axes = _image_grid(1, len(views) + 1, title_lines=2)
    _show(axes[0, 0], image, "original")
    for c, view in enumerate(views):
        _show(axes[0, c + 1], view[..., None], f"feature channel {c} (stretched)")
    fig.tight_layout()
    return fig


def attack_curve(curve: pd.DataFrame, receiver_ssim: float) -> plt.Figure:
    """The attacker's test SSIM against how many images it trained its decoder on (error
    bars: standard deviation over test images), with the real decoder's SSIM as a line."""
    fig, ax = plt.subplots(figsize=_figsize("single", 0.8))
    ax.errorbar(curve["trained_on"], curve["ssim"], yerr=curve["ssim_std"], marker="o", capsize=3,
                label="attacker's decoder (trained from scratch)")
    ax.axhline(receiver_ssim, color="black", linestyle=":", label=f"real decoder ({receiver_ssim:.3f})")
    ax.set_xscale("log")
    ax.set_xticks(curve["trained_on"], [f"{n}" for n in curve["trained_on"]])
    ax.minorticks_off()
    _labels(ax, "images the attacker trained on (log scale; none of them the owner's training images)", "SSIM on the test images")
    _title(ax, f"An attacker with the encoder: {int(curve['epochs'].iloc[0])} epochs per point")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ the registry


@dataclass(frozen=True)
class FigureSpec:
    """How one figure of a run is drawn: from which tables (CSV files of the run folder) and
    which saved values (``figure_data/<data>.npz``), by which function."""

    draw: Callable[[dict[str, Any]], plt.Figure]  # the loaded tables and values -> the figure
    tables: tuple[str, ...] = ()
    prepare: Callable[..., dict[str, Any]] | None = None  # a notebook's values -> what is saved (None: no values)
    data: str = ""  # the npz file it reads, if not its own (two figures of one sample)


def _panels_back(saved: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    return [(title, image) for title, image in saved["panels"]]


#: Every figure a run draws, by file name, in notebook order.
FIGURES: dict[str, FigureSpec] = {
    "fig_leakage": FigureSpec(lambda d: leakage_histograms(d["per_split"], d["threshold"]),
                              prepare=lambda per_split, threshold: {"per_split": per_split, "threshold": float(threshold)}),
    "fig_dataset_samples": FigureSpec(lambda d: sample_grid(d["images"], d["labels"], d["per_class"]), prepare=sample_grid_data),
    "fig_dataset_intensities": FigureSpec(lambda d: intensity_histograms(d["edges"], d["counts"]), prepare=intensity_counts),
    "fig5_training_loss": FigureSpec(
        lambda d: training_history(pd.DataFrame(d["history"]), d["best_epoch"], d["stopped_because"]),
        prepare=lambda history, best_epoch, stopped_because: {
            "history": {c: history[c].to_numpy() for c in ("epoch", "loss", "val_loss")},
            "best_epoch": None if best_epoch is None else int(best_epoch), "stopped_because": stopped_because}),
    "fig_reconstructions": FigureSpec(lambda d: image_rows(d["rows"], d["count"]),
                                      prepare=lambda originals, others: image_rows_data([("original", originals), ("reconstruction", others)])),
    "fig_reconstructions_ood": FigureSpec(lambda d: image_rows(d["rows"], d["count"]),
                                          prepare=lambda originals, others: image_rows_data([("original", originals), ("reconstruction", others)], 8)),
    "fig6_image_journey": FigureSpec(lambda d: image_journey(_panels_back(d)), prepare=lambda trip: _panels_data(journey_panels(trip))),
    "fig6_image_journey_retina": FigureSpec(lambda d: image_journey(_panels_back(d)), prepare=lambda trip: _panels_data(journey_panels(trip))),
    "fig_paper_scheme_bitflip": FigureSpec(lambda d: image_journey(_panels_back(d)), prepare=lambda flip: _panels_data(byte_flip_panels(flip))),
    "fig_time_breakdown": FigureSpec(lambda d: time_breakdown(d["table_end_to_end"]), tables=("table_end_to_end",)),
    "fig_size_vs_quality": FigureSpec(lambda d: size_vs_quality(d["table_size_vs_quality"]), tables=("table_size_vs_quality",)),
    "fig_noise_methods": FigureSpec(
        lambda d: noise_methods(d["table6_noise_robustness_all"].query("data == 'test'")), tables=("table6_noise_robustness_all",)),
    "fig_noise_examples": FigureSpec(lambda d: noise_examples(d["original"], d["examples"]), prepare=noise_examples_data),
    "fig_noise_sweep": FigureSpec(lambda d: noise_sweep(d["table_noise_sweep"]), tables=("table_noise_sweep",)),
    "fig_cipher_bytes": FigureSpec(lambda d: byte_images(_byte_samples(d)), prepare=byte_samples_data),
    "fig_byte_histograms": FigureSpec(lambda d: byte_histograms(_byte_samples(d)), data="fig_cipher_bytes"),
    "fig_feature_views": FigureSpec(lambda d: feature_views(d["image"], d["views"]),
                                    prepare=lambda image, views: {"image": pixels(image), "views": np.asarray(views, np.float16)}),
    "fig_substitute_decoder": FigureSpec(lambda d: image_rows(d["rows"], d["count"]), prepare=image_rows_data),
    "fig_attack_curve": FigureSpec(
        lambda d: attack_curve(d["table_attack_curve"], float(d["table_substitute_decoder"]["ssim"].iloc[0])),
        tables=("table_attack_curve", "table_substitute_decoder")),
}


def data_path(name: str, folder: str | Path) -> Path:
    """The file a figure's saved values live in."""
    return Path(folder) / FIGURE_DATA / f"{FIGURES[name].data or name}.npz"


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


def save_data(name: str, folder: str | Path, values: dict[str, Any]) -> Path:
    """Save a figure's values (arrays, numbers, strings, lists and dicts of them) to its npz file."""
    from aecrypt.files import atomic_path

    arrays: dict[str, np.ndarray] = {}
    described = json.dumps(_encode(values, arrays))
    with atomic_path(data_path(name, folder)) as tmp:
        np.savez_compressed(tmp, values=np.array(described), **arrays)
    return data_path(name, folder)


def load_data(name: str, folder: str | Path) -> dict[str, Any]:
    """A figure's tables (CSV files of ``folder``) and saved values, as its draw function takes them."""
    spec, folder = FIGURES[name], Path(folder)
    loaded: dict[str, Any] = {table: pd.read_csv(folder / f"{table}.csv") for table in spec.tables}
    if spec.prepare is not None or spec.data:
        with np.load(data_path(name, folder), allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
        loaded.update(_decode(json.loads(str(arrays.pop("values"))), arrays))
    return loaded


def has_data(name: str, folder: str | Path) -> bool:
    """Whether ``folder`` holds everything figure ``name`` is drawn from."""
    spec, folder = FIGURES[name], Path(folder)
    files = [folder / f"{table}.csv" for table in spec.tables]
    if spec.prepare is not None or spec.data:
        files.append(data_path(name, folder))
    return all(path.is_file() for path in files)


#: The file beside a run's outputs that records the style its figures were drawn in.
STYLE_RECORD = "runs"


def recorded_style(folder: str | Path) -> str:
    """The figure style a run recorded (``figure_style`` in its ``runs/*.json``; for a run
    recorded before there was one, its profile's), else ``DEFAULT_STYLE``."""
    from aecrypt.study.profiles import FIGURE_STYLES

    for path in sorted((Path(folder) / STYLE_RECORD).glob("*.json")):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            parameters = json.loads(path.read_text()).get("parameters", {})
            style = parameters.get("figure_style", FIGURE_STYLES.get(parameters.get("profile")))
            if style in STYLES:
                return style
    return DEFAULT_STYLE


def redraw(name: str, folder: str | Path, style: str | None = None, show: bool = False):
    """Draw figure ``name`` from ``folder``'s saved data and save it as PNG and PDF: into
    ``folder`` in the run's own style, into ``folder/<style>/`` in another. Returns the files."""
    from aecrypt.study.results import save_figure

    folder = Path(folder)
    own = recorded_style(folder)
    style = style or own
    with styled(style):
        fig = FIGURES[name].draw(load_data(name, folder))
        saved = save_figure(fig, name, folder if style == own else folder / style)
        if show:  # in a notebook: shown now, in the style it was drawn in, then closed
            from IPython.display import display

            display(fig)
    plt.close(fig)
    return saved


def publish(name: str, folder: str | Path, **values: Any):
    """Save what figure ``name`` needs (its tables are already written), then draw it from
    the saved files exactly as ``aecrypt figures`` does; the figure stays open to be shown."""
    spec = FIGURES[name]
    if spec.prepare is not None:
        save_data(name, folder, spec.prepare(**values))
    elif values:
        raise TypeError(f"{name} is drawn from its tables alone; it takes no values (got {', '.join(values)})")
    return redraw(name, folder, show=_show_in_notebook())


def _show_in_notebook() -> bool:
    """Whether figures are shown as cell outputs (an IPython kernel); there, ``redraw``
    displays each figure at once, so every figure a cell publishes appears in its output."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def run_folders(folder: str | Path) -> list[Path]:
    """A run's folder and its per-seed sub-folders (``seed-1/``), each that holds figure data."""
    folder = Path(folder)
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and (p / STYLE_RECORD).is_dir()) if folder.is_dir() else []
    return [p for p in candidates if any(has_data(name, p) for name in FIGURES)]


def _redraw_files(name: str, folder: str, style: str | None) -> list[Path]:
    """``redraw`` for a worker process: the files written."""
    return list(redraw(name, folder, style).values())


def redraw_all(folder: str | Path, style: str | None = None, workers: int | None = None) -> list[Path]:
    """Redraw every figure of a run (and of its per-seed sub-folders) from its saved data,
    one process per CPU (each figure's files are the same whichever process draws them);
    returns the files written."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(name, str(run), style) for run in run_folders(folder) for name in FIGURES if has_data(name, run)]
    jobs.sort(key=lambda job: _draw_order(job[0]))  # the slowest first, so no process waits on one at the end
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        return [path for job in jobs for path in _redraw_files(*job)]
    # Forked (matplotlib and the data already imported) unless TensorFlow is loaded (a
    # notebook, a test run): its threads do not survive a fork, so then spawned.
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    if method == "fork":  # imported once here rather than in every worker
        for module in FIGURE_MODULES:
            importlib.import_module(module)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        return [path for files in pool.map(_redraw_files, *zip(*jobs)) for path in files]


#: The modules figure functions import as they draw (none imports TensorFlow).
FIGURE_MODULES = ("aecrypt.method.pixels", "aecrypt.method.noise", "aecrypt.study.profiles", "aecrypt.study.results", "aecrypt.experiments.security", "aecrypt.experiments.timing")

#: Figures that take longest to draw (about 2 to 4 s each on the 2-core machine, image
#: panels and many axes), measured; ``redraw_all`` starts them first.
SLOWEST_FIGURES = ("fig_byte_histograms", "fig_noise_examples", "fig_size_vs_quality", "fig_noise_sweep",
                   "fig_cipher_bytes", "fig_substitute_decoder", "fig_leakage", "fig_dataset_samples")


def _draw_order(name: str) -> int:
    """Where figure ``name`` goes in the drawing queue: the slowest first, the rest after."""
    return SLOWEST_FIGURES.index(name) if name in SLOWEST_FIGURES else len(SLOWEST_FIGURES)


