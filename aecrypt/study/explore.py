"""Exploring without editing code: ipywidgets controls on the committed model and saved data.

Three explorers, one per notebook that has one: a wrong key or one flipped byte (03), noise
of a chosen kind and strength on one image through the pipeline beside the median filter
(05), and the feature channels of a chosen image (06). Each is a pure function that computes
titled panels (tested without widgets) and a ``show_*`` function that, in a Jupyter frontend,
puts controls above the panels and, anywhere else (papermill, ``aecrypt reproduce``, the
rendered site), draws the panels of the default state once, as a static figure. A notebook
cell is one line: ``explore.show(explore.noise_explorer(image, pipeline))``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from aecrypt.errors import WrongKeyOrTamperedError
from aecrypt.experiments.feature_similarity import feature_channel_views
from aecrypt.experiments.journey import Panel, displayable
from aecrypt.experiments.robustness import MEDIAN_SIZE, median_baseline
from aecrypt.method.header import read_header
from aecrypt.method.metrics import ssim
from aecrypt.method.noise import NOISE_DEFAULTS, NOISE_LABELS, STRENGTH_LABELS, STRENGTH_PARAMETER, SWEEP_RANGES, add_noise
from aecrypt.method.payload import decrypt_features, encrypt_features
from aecrypt.progress import enabled as under_runner
from aecrypt.study.figures.layout import panel_inches, points, show_image, wrap
from aecrypt.study.figures.registry import show_in_notebook
from aecrypt.study.figures.style import width

#: Set to "1" or "0" to force the controls on or off; otherwise they appear only in a kernel
#: that a Jupyter frontend started (JupyterLab, Notebook, Voilà, VS Code).
WIDGETS_ENV = "AECRYPT_WIDGETS"
#: Environment variables a Jupyter frontend sets for the kernels it starts (jupyter_server
#: names the notebook's session; VS Code gives its own process id).
FRONTEND_VARIABLES = ("JPY_SESSION_NAME", "VSCODE_PID")
#: Lines of title room above each panel.
TITLE_LINES = 3


def frontend_present() -> bool:
    """Whether a person's Jupyter frontend drives this kernel, so that widgets can be drawn:
    never under ``aecrypt reproduce`` or outside a kernel; papermill's kernels have no frontend."""
    forced = os.environ.get(WIDGETS_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if under_runner() or getattr(shell, "kernel", None) is None:
        return False
    return any(os.environ.get(name) for name in FRONTEND_VARIABLES)


def draw_panels(panels: list[Panel], note: str = "") -> plt.Figure:
    """One row of titled image panels, room left above for three lines of title and below for
    ``note``; a panel whose image is None shows its title as text (what the receiver got
    instead of a picture)."""
    inches = width("double")
    title, foot = TITLE_LINES * 1.3 * points("axes.titlesize") / 72, 2 * points("font.size") / 72
    height = inches / len(panels) + title + foot
    fig, axes = plt.subplots(1, len(panels), figsize=(inches, height), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, wspace=0.06, top=1 - title / height, bottom=foot / height)
    for ax, (text, image) in zip(axes[0], panels):
        if image is None:
            ax.axis("off")
            ax.text(0.5, 0.5, wrap(text, panel_inches(ax)), ha="center", va="center", transform=ax.transAxes)
        else:
            show_image(ax, image, text)
    if note:
        fig.text(0.5, 0.3 * foot / height, note, ha="center", va="bottom")
    return fig


def _draw_and_show(panels: list[Panel], note: str = "") -> None:
    """Draw the panels, show them in the running cell and close the figure (a widget's redraw)."""
    fig = draw_panels(panels, note)
    show_in_notebook(fig)
    plt.close(fig)


def explorer(compute: Callable[..., tuple[list[Panel], str]], defaults: dict[str, Any],
             controls: Callable[[Any, dict[str, Any]], dict[str, Any]]):
    """Controls over ``compute``'s panels where a Jupyter frontend can draw them (an
    ipywidgets ``interactive``; ``controls`` makes them from the ipywidgets module and the
    defaults), else the panels of ``defaults`` as one closed figure. ``show`` puts either in the cell."""
    if not frontend_present():
        fig = draw_panels(*compute(**defaults))
        plt.close(fig)
        return fig
    import ipywidgets  # only with a frontend: a batch run never imports the widget library

    return ipywidgets.interactive(lambda **values: _draw_and_show(*compute(**values)), **controls(ipywidgets, defaults))


def show(view) -> None:
    """Put an explorer in the running cell: its controls, or its static figure as one PNG."""
    if isinstance(view, plt.Figure):
        show_in_notebook(view)
    else:
        from IPython.display import display

        display(view)


# ------------------------------------------------------------ notebook 03: a wrong key, a flipped byte

#: What can happen to a payload on its way, as the control names it.
TAMPERING = ("nothing (the right key)", "a wrong key", "one flipped byte")
#: The schemes the control offers: ours (authenticated) and our reading of the paper's.
TAMPER_SCHEMES = {"AES-256-GCM (authenticated)": "gcm", "the paper's row keys (ours, no integrity check)": "paper"}


def tamper_panels(features: np.ndarray, key: bytes, wrong_key: bytes, decode_one: Callable[[np.ndarray], np.ndarray],
           happens: str, scheme: str, byte: int) -> tuple[list[Panel], str]:
    """The receiver's side when ``happens`` (one of ``TAMPERING``) befalls a payload of
    ``features`` under ``scheme``: the clean decoding beside what the receiver decodes, or
    beside GCM's refusal. ``byte`` is the ciphertext byte flipped (taken modulo its length)."""
    sent = bytearray(encrypt_features(features, key, scheme=scheme, rng=np.random.default_rng(0)))
    header = read_header(bytes(sent))
    if happens == TAMPERING[2]:
        sent[header.header_bytes + byte % header.body_bytes] ^= 0xFF
    clean = decode_one(features)
    try:
        received = decrypt_features(bytes(sent), wrong_key if happens == TAMPERING[1] else key, allow_unauthenticated=scheme != "gcm")
    except WrongKeyOrTamperedError as error:
        refusal = f"{type(error).__name__}: {str(error).split('. ')[0]}"
        return [("what was sent, decoded", clean), (refusal, None)], f"{happens}: the receiver is told, and decodes nothing"
    decoded = np.clip(np.nan_to_num(decode_one(np.nan_to_num(received, nan=0, posinf=0, neginf=0)), nan=0), 0, 1)  # overflow: black
    changed = int(np.sum(received != features))
    note = (f"{happens}: {changed} of {features.size} feature values changed, and nothing said so" if changed
            else f"{happens}: the features arrive bit for bit")
    return ([("what was sent, decoded", clean), (f"received, decoded: SSIM {ssim(clean, decoded):.3f}", decoded),
             ("difference (scaled)", displayable(np.abs(decoded - clean)))], note)


def tampering_explorer(features: np.ndarray, key: bytes, wrong_key: bytes, decode_one: Callable[[np.ndarray], np.ndarray]):
    """A wrong key or one flipped byte, under GCM or the paper's scheme, on one image's features."""
    def compute(happens: str, scheme: str, byte: int) -> tuple[list[Panel], str]:
        return tamper_panels(features, key, wrong_key, decode_one, happens, TAMPER_SCHEMES[scheme], byte)

    def controls(widgets, defaults: dict[str, Any]) -> dict[str, Any]:
        return {"happens": widgets.ToggleButtons(options=TAMPERING, value=defaults["happens"], description="on the way"),
                "scheme": widgets.Dropdown(options=list(TAMPER_SCHEMES), value=defaults["scheme"], description="scheme"),
                "byte": widgets.IntSlider(min=0, max=features.nbytes - 1, value=defaults["byte"], description="byte flipped",
                                          continuous_update=False)}

    return explorer(compute, {"happens": TAMPERING[1], "scheme": list(TAMPER_SCHEMES)[1], "byte": features.nbytes // 2}, controls)


# ------------------------------------------------------------ notebook 05: noise beside the median filter

#: The noise kinds the control offers (those with a strength to vary), in Table 6's order.
EXPLORED_NOISE = tuple(kind for kind in NOISE_LABELS if kind in SWEEP_RANGES)


def noise_panels(image: np.ndarray, pipeline: Callable[[np.ndarray], np.ndarray], kind: str, strength: float,
                 seed: int = 0) -> tuple[list[Panel], str]:
    """One image with ``kind`` noise at ``strength`` (the parameter ``STRENGTH_PARAMETER``
    names), through the whole pipeline and through a median filter, each with its SSIM."""
    parameter = STRENGTH_PARAMETER[kind]
    noisy = add_noise(image[None], kind, np.random.default_rng(seed), **{parameter: strength})
    through, median = pipeline(noisy)[0], median_baseline(noisy)[0]
    return ([("original", image), (f"{NOISE_LABELS[kind]} noise: SSIM {ssim(image, noisy[0]):.3f}", noisy[0]),
             (f"pipeline: SSIM {ssim(image, through):.3f}", through),
             (f"median {MEDIAN_SIZE}×{MEDIAN_SIZE}: SSIM {ssim(image, median):.3f}", median)],
            f"{STRENGTH_LABELS[parameter]}: {strength:.3g}; SSIM against the original")


def noise_explorer(image: np.ndarray, pipeline: Callable[[np.ndarray], np.ndarray], seed: int = 0):
    """Noise kind and strength on one image, through the pipeline beside the median filter."""
    def compute(kind: str, strength: float) -> tuple[list[Panel], str]:
        return noise_panels(image, pipeline, kind, float(np.clip(strength, *SWEEP_RANGES[kind])), seed)

    def controls(widgets, defaults: dict[str, Any]) -> dict[str, Any]:
        low, high = (f(f(r) for r in SWEEP_RANGES.values()) for f in (min, max))
        return {"kind": widgets.Dropdown(options=[(NOISE_LABELS[k], k) for k in EXPLORED_NOISE], value=defaults["kind"],
                                         description="noise"),
                "strength": widgets.FloatLogSlider(value=defaults["strength"], base=10, min=np.log10(low), max=np.log10(high),
                                                   step=0.05, description="strength", continuous_update=False)}

    kind = EXPLORED_NOISE[-1]
    return explorer(compute, {"kind": kind, "strength": NOISE_DEFAULTS[kind][STRENGTH_PARAMETER[kind]]}, controls)


# ------------------------------------------------------------ notebook 06: feature channels


def channel_panels(images: np.ndarray, features: np.ndarray, names: list[str], index: int) -> tuple[list[Panel], str]:
    """Test image ``index`` beside each of its feature channels, stretched to [0, 1] and
    resized to the image's size as anyone who viewed the numbers would, with |r| to the image."""
    image = images[index]
    grey = image.mean(axis=-1)
    views = feature_channel_views(features[index], image.shape[0])
    panels = [(f"image {index}: {names[index]}", image)]
    for channel, view in enumerate(views):
        r = abs(np.corrcoef(grey.ravel(), view.ravel())[0, 1])
        panels.append((f"channel {channel}: |r| {r:.2f}", view[..., None]))
    return panels, "|r|: absolute correlation of the channel, merely viewed, with the image"


def channels_explorer(images: np.ndarray, features: np.ndarray, names: list[str], index: int = 0):
    """The feature channels of a chosen test image, beside the image."""
    def compute(index: int) -> tuple[list[Panel], str]:
        return channel_panels(images, features, names, index)

    def controls(widgets, defaults: dict[str, Any]) -> dict[str, Any]:
        return {"index": widgets.IntSlider(min=0, max=len(images) - 1, value=defaults["index"], description="test image",
                                           continuous_update=False)}

    return explorer(compute, {"index": index}, controls)