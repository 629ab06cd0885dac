"""The study's figures, each a function that returns a matplotlib figure for ``save_figure``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

#: The study's one look, set by ``use_style`` (``study.start`` calls it), never at import.
THEME = {"context": "notebook", "style": "whitegrid"}


def use_style() -> None:
    """Apply the study's figure style (seaborn's whitegrid); matplotlib picks its own backend
    (inline in Jupyter, Agg without a display)."""
    sns.set_theme(**THEME)


def _show(ax, image: np.ndarray, title: str = "") -> None:
    """Draw one image (grey if it has one channel) without axes."""
    x = np.clip(np.asarray(image, np.float32), 0, 1)
    ax.imshow(x[..., 0] if x.shape[-1] == 1 else x, cmap="gray" if x.shape[-1] == 1 else None, vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def sample_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 6) -> plt.Figure:
    """A row of sample images for each class (as many columns as the largest class fills)."""
    classes = sorted(set(labels.tolist()))
    per_class = max(1, min(per_class, max(int(np.sum(labels == c)) for c in classes)))
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.6 * per_class, 1.7 * len(classes)), squeeze=False)
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


def intensity_histograms(images: np.ndarray, labels: np.ndarray) -> plt.Figure:
    """Distribution of pixel intensities per class (non-background pixels)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label in sorted(set(labels.tolist())):
        values = images[labels == label][..., 0].reshape(-1)
        sns.kdeplot(values[values > 0.02][:200_000], ax=ax, label=str(label), fill=False)
    ax.set_xlabel("intensity (background < 0.02 left out)")
    ax.legend(title="class")
    fig.tight_layout()
    return fig


def training_history(history: pd.DataFrame, best_epoch: int | None = None, stopped_because: str = "") -> plt.Figure:
    """Figure 5: training and validation loss per epoch; the caption says how many epochs
    ran and why training stopped."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(history["epoch"], history["loss"], marker="o", label="training loss")
    ax.plot(history["epoch"], history["val_loss"], marker="s", label="validation loss")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss")
    ax.set_yscale("log")
    ax.set_title("Training and validation loss (cf. the paper's Figure 5)")
    if stopped_because:
        fig.text(0.5, -0.02, f"{len(history)} epochs ran; {stopped_because}.", ha="center", va="top", fontsize=8)
    ax.legend()
    fig.tight_layout()
    return fig


def image_pairs(originals: np.ndarray, others: np.ndarray, titles: tuple[str, str] = ("original", "reconstruction"), count: int = 6) -> plt.Figure:
    """Originals in the top row, their counterparts below."""
    return image_rows([(titles[0], originals), (titles[1], others)], count)


def image_rows(rows: list[tuple[str, np.ndarray]], count: int = 6) -> plt.Figure:
    """One labelled row of images per batch, the same images in each column."""
    count = min(count, *(len(images) for _, images in rows))
    fig, axes = plt.subplots(len(rows), count, figsize=(1.9 * count, 2 * len(rows)), squeeze=False)
    for r, (title, images) in enumerate(rows):
        for col in range(count):
            _show(axes[r, col], images[col], title if col == 0 else "")
    fig.tight_layout()
    return fig


#: Words for the cipher schemes that name byte samples ("gcm: feature map" is drawn as
#: "AES-GCM: feature map").
SCHEME_LABELS = {"gcm": "AES-GCM", "paper": "paper's keys per row (ours)", "paper-blocks": "paper's keys per block (ours)",
                 "ecb": "AES-ECB", "cbc": "AES-CBC", "ctr": "AES-CTR"}


def sample_label(name: str) -> str:
    """A byte sample's name with its scheme spelt out: 'ecb: raw image' -> 'AES-ECB: raw image'."""
    scheme, sep, rest = name.partition(": ")
    return f"{SCHEME_LABELS[scheme]}: {rest}" if sep and scheme in SCHEME_LABELS else name


def byte_images(samples: dict[str, tuple[bytes, int]], columns: int = 3) -> plt.Figure:
    """Each byte string drawn as a grey image, rows as in its plaintext: structure shows as pattern."""
    names = list(samples)
    fig, axes = _panels(len(names), columns, height=3.2)
    for ax, name in zip(axes, names):
        data, rows = samples[name]
        grid = np.frombuffer(data, np.uint8)[: len(data) - len(data) % rows].reshape(rows, -1)
        ax.imshow(grid, cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="nearest")
        ax.set_title(sample_label(name), fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _panels(count: int, columns: int, height: float) -> tuple[plt.Figure, list]:
    """``count`` axes in rows of ``columns`` (fewer if ``count`` is smaller), the last row
    centred: no empty panel is drawn."""
    columns = max(1, min(columns, count))
    n_rows = -(-count // columns)
    fig = plt.figure(figsize=(4.2 * columns, height * n_rows))
    grid = fig.add_gridspec(n_rows, 2 * columns)  # half-width slots, so a short last row can be centred
    axes = []
    for i in range(count):
        row, col = divmod(i, columns)
        start = columns - min(columns, count - row * columns) + 2 * col
        axes.append(fig.add_subplot(grid[row, start : start + 2]))
    return fig, axes


def byte_histograms(samples: dict[str, tuple[bytes, int]], columns: int = 3) -> plt.Figure:
    """Histogram of byte values for each byte string (flat for a good cipher)."""
    names = list(samples)
    fig, axes = _panels(len(names), columns, height=2.6)
    for ax, name in zip(axes, names):
        counts = np.bincount(np.frombuffer(samples[name][0], np.uint8), minlength=256)
        ax.bar(np.arange(256), counts, width=1.0, color="tab:blue", linewidth=0)  # no white edges: 256 bars stay visible
        ax.set_yscale("log")
        ax.set_title(sample_label(name), fontsize=9)
        ax.set_xlabel("byte value", fontsize=8)
        ax.set_ylabel("bytes (log scale)", fontsize=8)
    fig.tight_layout()
    return fig


def feature_views(image: np.ndarray, views: np.ndarray) -> plt.Figure:
    """An image beside each of its feature channels stretched to [0, 1] and drawn in grey."""
    fig, axes = plt.subplots(1, len(views) + 1, figsize=(3 * (len(views) + 1), 3.3), squeeze=False)
    _show(axes[0, 0], image, "original")
    for c, view in enumerate(views):
        _show(axes[0, c + 1], view[..., None], f"feature channel {c}, stretched")
    fig.tight_layout()
    return fig


def to_displayable(array: np.ndarray) -> np.ndarray:
    """Min-max scale any array to [0, 1] per channel so it can be drawn as an image."""
    from aecrypt.data import stretch

    return stretch(np.asarray(array, np.float32), axis=(0, 1))


def image_journey(panels: list[tuple[str, np.ndarray]]) -> plt.Figure:
    """Figure 6: the image's journey, one labelled panel per stage."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.4), squeeze=False)
    for ax, (title, image) in zip(axes[0], panels):
        _show(ax, image, title)
    fig.tight_layout()
    return fig


def leakage_histograms(per_split: dict[str, np.ndarray], threshold: float) -> plt.Figure:
    """Nearest-training SSIM of each test image, one histogram per split, with the
    near-duplicate threshold marked."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    bins = np.linspace(min(0.3, min(float(np.min(v)) for v in per_split.values())), 1.0, 36)
    for name, values in per_split.items():
        ax.hist(values, bins=bins, alpha=0.55, label=f"{name} (median {np.median(values):.3f})")
    ax.axvline(threshold, color="black", linestyle=":", label=f"near-duplicate ({threshold:g})")
    ax.set_xlabel("SSIM of each test image to its most similar training image (64 px, grey, mirrors included)")
    ax.set_ylabel("test images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def method_colours(methods) -> dict[str, tuple]:
    """One colour per denoising method, the same in every noise figure whatever subset it shows."""
    known = ["noisy input", "autoencoder pipeline", "median 3x3", "non-local means", "BM3D", "denoising autoencoder pipeline"]
    order = known + [m for m in dict.fromkeys(methods) if m not in known]
    palette = sns.color_palette("deep", len(order))
    return {m: palette[order.index(m)] for m in dict.fromkeys(methods)}


def noise_methods(long: pd.DataFrame) -> plt.Figure:
    """SSIM against the clean original for every method and noise kind (bars)."""
    from aecrypt.noise import NOISE_LABELS

    shown = long.assign(noise=long["noise"].map(NOISE_LABELS))
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(shown, x="noise", y="ssim_mean", hue="method", palette=method_colours(shown["method"]), ax=ax)
    ax.set_xlabel("noise added to the test images")
    ax.set_ylabel("SSIM against the clean original")
    ax.legend(fontsize=8, title="output of", title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside, not over, the bars
    fig.tight_layout()
    return fig


def noise_examples(original: np.ndarray, examples: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """One row per noise kind: the original, then each method's output for the first image."""
    from aecrypt.noise import NOISE_LABELS

    kinds = list(examples)
    methods = list(examples[kinds[0]])
    fig, axes = plt.subplots(len(kinds), len(methods) + 1, figsize=(2.2 * (len(methods) + 1), 2.3 * len(kinds)), squeeze=False)
    for row, kind in enumerate(kinds):
        panels = [("original", original)] + [(m, examples[kind][m][0]) for m in methods]
        for col, (title, image) in enumerate(panels):
            _show(axes[row, col], np.clip(image, 0, 1), f"{NOISE_LABELS.get(kind, kind)}: {title}" if col == 0 else title)
    fig.tight_layout()
    return fig


def noise_sweep(sweep: pd.DataFrame) -> plt.Figure:
    """SSIM of each method's output against noise strength, one panel per noise kind."""
    from aecrypt.noise import NOISE_LABELS, STRENGTH_LABELS, STRENGTH_PARAMETER

    kinds = list(dict.fromkeys(sweep["noise"]))
    colours = method_colours(sweep["method"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 3.9), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        part = sweep[sweep["noise"] == kind]
        for method, rows in part.groupby("method", sort=False):
            ax.plot(rows["strength"], rows["ssim_mean"], marker="o", label=method, color=colours[method])
        ax.set_xscale("log")
        ax.set_title(NOISE_LABELS[kind])
        ax.set_xlabel(f"{STRENGTH_LABELS[STRENGTH_PARAMETER[kind]]} (log scale)")
    axes[0, 0].set_ylabel("SSIM against the clean original")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=min(len(labels), 3), loc="lower center", frameon=False)  # below the panels, over no data
    fig.tight_layout(rect=(0, 0.12 if len(labels) > 3 else 0.07, 1, 1))
    return fig


# ------------------------------------------------------------ notebooks 03 and 04

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from aecrypt.security import ByteFlip, Journey


def journey_figure(trip: Journey) -> plt.Figure:
    """Figure 6 from ``security.journey``: original, features, ciphertext bytes, decrypted
    features (both stretched per channel to be visible) and the decoder's output."""
    from aecrypt.security import ciphertext_picture

    return image_journey([
        ("(a) original", trip.image), ("(b) encoder output (features)", to_displayable(trip.features)),
        ("(c) after encryption (bytes)", ciphertext_picture(trip.payload)),
        ("(d) after decryption", to_displayable(trip.decrypted)), ("(e) decoder output", trip.output),
    ])


def byte_flip_figure(flip: ByteFlip) -> plt.Figure:
    """The clean decoding, the decoding after one flipped ciphertext byte under the paper's
    scheme, and their difference stretched to be visible."""
    difference = np.abs(flip.garbled_output - flip.clean_output)
    return image_journey([("clean decoding", flip.clean_output), ("after one flipped byte (paper scheme)", flip.garbled_output),
                          ("difference (scaled)", to_displayable(difference))])


def time_breakdown(end_to_end: pd.DataFrame) -> plt.Figure:
    """Milliseconds per image of sender and receiver, AES and network stacked on one linear
    axis (bar lengths proportional to time), each bar labelled with its total and AES's share."""
    sides = list(dict.fromkeys(end_to_end["side"]))
    fig, axes = plt.subplots(len(sides), 1, figsize=(8, 1.2 + 0.55 * len(end_to_end)), sharex=True, squeeze=False)
    for ax, side in zip(axes[:, 0], sides):
        rows = end_to_end[end_to_end["side"] == side]
        aes_ms, model_ms = rows["aes_s"].to_numpy() * 1e3, rows["model_s"].to_numpy() * 1e3
        ax.barh(rows["method"], aes_ms, color="tab:orange", label="AES-256-GCM (encrypt or decrypt)")
        ax.barh(rows["method"], model_ms, left=aes_ms, color="tab:blue", label="encoder or decoder network")
        for y, (aes, total) in enumerate(zip(aes_ms, aes_ms + model_ms)):
            ax.annotate(f"{total:.3g} ms, AES {100 * aes / total:.0f} %", (total, y), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{side}: {'encode, then encrypt' if side == 'sender' else 'decrypt, then decode'}", fontsize=10)
        ax.margins(x=0.25)
    axes[-1, 0].set_xlabel("milliseconds per image (linear scale: bar length is time)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=2, loc="upper center", frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def size_vs_quality(size_quality: pd.DataFrame) -> plt.Figure:
    """Kilobytes each method gives AES to encrypt against the SSIM after the round trip, one
    point per method, named in a legend (labels beside points collide when sizes are close)."""
    from matplotlib.ticker import NullFormatter

    from aecrypt.timing import SEALED_SUFFIX

    fig, ax = plt.subplots(figsize=(8, 4))
    kilobytes = size_quality["bytes"] / 1e3
    markers = "osD^vP*Xph"
    for i, (index, row) in enumerate(size_quality.iterrows()):
        ax.scatter(kilobytes[index], row["ssim"], s=45, marker=markers[i % len(markers)], label=row["method"].removesuffix(SEALED_SUFFIX))
    ax.set_xscale("log")
    ticks = [m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5) if kilobytes.min() / 1.5 <= m * 10.0**e <= kilobytes.max() * 1.5]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("kilobytes to encrypt (log scale)")
    ax.set_ylabel("SSIM after decryption and decoding")
    ax.legend(fontsize=8, title="then AES-GCM", title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def attack_curve(curve: pd.DataFrame, receiver_ssim: float) -> plt.Figure:
    """The attacker's test SSIM against how many images it trained its decoder on (error
    bars: standard deviation over test images), with the real decoder's SSIM as a line."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.errorbar(curve["trained_on"], curve["ssim"], yerr=curve["ssim_std"], marker="o", capsize=3,
                label="attacker's decoder (trained from scratch)")
    ax.axhline(receiver_ssim, color="black", linestyle=":", label=f"real decoder ({receiver_ssim:.3f})")
    ax.set_xscale("log")
    ax.set_xticks(curve["trained_on"], [f"{n}" for n in curve["trained_on"]])
    ax.minorticks_off()
    ax.set_xlabel("images the attacker trained on (log scale; none of them the owner's training images)")
    ax.set_ylabel("SSIM on the test images")
    ax.set_title(f"An attacker with the encoder: {int(curve['epochs'].iloc[0])} epochs per point")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
