"""One function per figure of the study, drawn from prepared data only: tables, arrays, and
the labels and panel titles the computing side made and saved with them. Nothing here
computes a result or knows a method's names; each function sizes itself by the current style.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from aecrypt.study.figures.layout import axis_labels, centred_panels, image_grid, log_y, panel_title, points, show_image, wrap
from aecrypt.study.figures.style import AES_COLOUR, NETWORK_COLOUR, OKABE_ITO, figsize, method_colours

#: Colour of the single points of a rate-distortion figure (the autoencoder's wire formats):
#: the first of the palette its codec curves, which take the colours in order, leave free.
POINTS_COLOUR = OKABE_ITO["vermillion"]

# ------------------------------------------------------------ notebook 01: the data


def sample_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 6) -> plt.Figure:
    """A row of sample images for each class (as many columns as the largest class fills)."""
    classes = sorted(set(labels.tolist()))
    per_class = max(1, min(per_class, max(int(np.sum(labels == c)) for c in classes)))
    fig, axes = image_grid(len(classes), per_class)
    for row, label in enumerate(classes):
        members = np.flatnonzero(labels == label)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            if col < len(members):
                show_image(ax, images[members[col]], label if col == 0 else "")
            else:
                fig.delaxes(ax)  # a class with fewer images: no empty panel
    fig.tight_layout()
    return fig


def intensity_histograms(edges: np.ndarray, counts: dict[str, np.ndarray]) -> plt.Figure:
    """Distribution of pixel intensities per class (non-background pixels: those above the first edge), as densities."""
    fig, ax = plt.subplots(figsize=figsize("single", 0.7))
    for label, count in counts.items():
        ax.stairs(count / max(1, count.sum()) / np.diff(edges), edges, label=label, linewidth=plt.rcParams["lines.linewidth"])
    axis_labels(ax, f"intensity (0 black, 1 white; background below {edges[0]:g} left out)", "density")
    ax.legend(title="class")
    fig.tight_layout()
    return fig


def leakage_histograms(per_split: dict[str, np.ndarray], threshold: float) -> plt.Figure:
    """Nearest-training SSIM of each test image, one histogram per split, with the
    near-duplicate threshold marked."""
    fig, ax = plt.subplots(figsize=figsize("double", 0.42))
    bins = np.linspace(min(0.3, min(float(np.min(v)) for v in per_split.values())), 1.0, 36)
    for name, values in per_split.items():
        ax.hist(values, bins=bins, alpha=0.55, label=f"{name} (median {np.median(values):.3f})")
    ax.axvline(threshold, color="black", linestyle=":", label=f"near-duplicate ({threshold:g})")
    axis_labels(ax, "SSIM of each test image to its most similar training image (64 px, grey, mirrors included)", "test images")
    ax.legend()
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ notebook 02: training


def training_history(history: pd.DataFrame, best_epoch: int | None = None, stopped_because: str = "") -> plt.Figure:
    """Figure 5: training and validation loss per epoch; the caption says how many epochs
    ran and why training stopped."""
    fig, ax = plt.subplots(figsize=figsize("single", 0.75))
    ax.plot(history["epoch"], history["loss"], marker="o", label="training loss")
    ax.plot(history["epoch"], history["val_loss"], marker="s", label="validation loss")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch ({best_epoch})")
    axis_labels(ax, "epoch", "mean squared error (log scale)")
    log_y(ax)
    if len(history) <= 12:
        ax.set_xticks(history["epoch"])  # epochs are whole
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    panel_title(ax, "Training and validation loss (cf. the paper's Figure 5)")
    if stopped_because:
        fig.text(0.5, -0.02, wrap(f"{len(history)} epochs ran; {stopped_because}.", fig.get_figwidth()),
                 ha="center", va="top", fontsize=points("legend.fontsize"))
    ax.legend()
    fig.tight_layout()
    return fig


def image_rows(rows: list[tuple[str, np.ndarray]], count: int = 6) -> plt.Figure:
    """One labelled row of images per batch, the same images in each column."""
    count = min(count, *(len(images) for _, images in rows))
    fig, axes = image_grid(len(rows), count)
    for r, (text, images) in enumerate(rows):
        for col in range(count):
            show_image(axes[r, col], images[col], text if col == 0 else "")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ notebooks 01 and 03: titled panels


def image_panels(panels: list[tuple[str, np.ndarray]]) -> plt.Figure:
    """One row of titled image panels: Figure 6's journey, one stage a panel."""
    fig, axes = image_grid(1, len(panels), title_lines=2)
    for ax, (text, image) in zip(axes[0], panels):
        show_image(ax, image, text)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ notebook 04: timing


def time_breakdown(end_to_end: pd.DataFrame) -> plt.Figure:
    """Milliseconds per image of sender and receiver, AES and network stacked on one linear
    axis (bar lengths proportional to time), each bar labelled with its total and AES's share."""
    sides = list(dict.fromkeys(end_to_end["side"]))
    fig, axes = plt.subplots(len(sides), 1, figsize=figsize("double", 0.16 + 0.06 * len(end_to_end)), sharex=True, squeeze=False)
    for ax, side in zip(axes[:, 0], sides):
        rows = end_to_end[end_to_end["side"] == side]
        aes_ms, model_ms = rows["aes_s"].to_numpy() * 1e3, rows["model_s"].to_numpy() * 1e3
        ax.barh(rows["method"], aes_ms, color=AES_COLOUR, label="AES-256-GCM (encrypt or decrypt)")
        ax.barh(rows["method"], model_ms, left=aes_ms, color=NETWORK_COLOUR, label="encoder or decoder network")
        for y, (aes, total) in enumerate(zip(aes_ms, aes_ms + model_ms)):
            ax.annotate(f"{total:.3g} ms, AES {100 * aes / total:.0f} %", (total, y), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=points("legend.fontsize"))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_title(f"{side}: {'encode, then encrypt' if side == 'sender' else 'decrypt, then decode'}")
        ax.margins(x=0.3)
    axes[-1, 0].set_xlabel("milliseconds per image (linear scale: bar length is time)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, ncol=2, loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def aes_size_sweep(sweep: pd.DataFrame) -> plt.Figure:
    """AES-GCM's time and throughput against payload bytes, one line per library, both axes
    logarithmic: where the fixed cost of a call gives way to the bytes."""
    fig, (time_ax, rate_ax) = plt.subplots(1, 2, figsize=figsize("double", 0.36))
    for backend, rows in sweep.groupby("backend", sort=False):
        kilobytes = rows["plaintext_bytes"] / 1e3
        time_ax.plot(kilobytes, rows["encrypt_median_s"] * 1e3, marker="o", label=backend)
        rate_ax.plot(kilobytes, rows["encrypt_MB_s"], marker="o", label=backend)
    for ax, label in ((time_ax, "encryption time (ms, log scale)"), (rate_ax, "throughput (MB/s, log scale)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        axis_labels(ax, "payload (kB, log scale)", label)
    rate_ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def rate_distortion(rd: pd.DataFrame, metrics: dict[str, str], kinds: dict[str, str]) -> plt.Figure:
    """Rate-distortion curves over a set of images: each metric (``metrics``: column stem ->
    label) against bits per pixel on a log axis, one panel per metric. Rows of kind
    ``kinds['curve']`` are lines through a method's settings, those of ``kinds['point']``
    single markers, both with bars of one standard deviation over images on each axis; those
    of ``kinds['lossless']`` are dotted vertical lines at their rate (exact, so no quality to plot)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize("double", 0.42), squeeze=False)
    curves, points_ = rd[rd["kind"] == kinds["curve"]], rd[rd["kind"] == kinds["point"]]
    lossless = rd[rd["kind"] == kinds["lossless"]]
    markers = "os^vDPX*hp"
    for ax, (metric, label) in zip(axes[0], metrics.items()):
        for i, (method, rows) in enumerate(curves.groupby("method", sort=False)):
            ax.errorbar(rows["bpp_mean"], rows[f"{metric}_mean"], xerr=rows["bpp_std"], yerr=rows[f"{metric}_std"],
                        marker=markers[i % len(markers)], markersize=3, elinewidth=0.6, capsize=0, label=method)
        for i, (_, row) in enumerate(points_.iterrows()):
            ax.errorbar(row["bpp_mean"], row[f"{metric}_mean"], xerr=row["bpp_std"], yerr=row[f"{metric}_std"],
                        marker=markers[-1 - i % len(markers)], markersize=5, linestyle="none", color=POINTS_COLOUR,
                        markerfacecolor="white", elinewidth=0.6, capsize=0, label=f"{row['method']} {row['setting']}")
        for i, (_, row) in enumerate(lossless.iterrows()):
            ax.axvline(row["bpp_mean"], color="black", linewidth=0.8, linestyle=(0, (1, 1 + i)), label=row["method"])
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        axis_labels(ax, "bits per pixel of the stored image (log scale)", label)
    handles, names = axes[0, 0].get_legend_handles_labels()
    count = int(rd["images"].max()) if len(rd) else 0
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               title=f"mean over {count} images, bars one standard deviation; dotted: lossless codecs (exact)")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ notebook 05: noise


def noise_methods(long: pd.DataFrame, kind_labels: dict[str, str]) -> plt.Figure:
    """SSIM against the clean original for every method and noise kind (grouped bars), the
    kinds named by ``kind_labels``."""
    kinds = list(dict.fromkeys(long["noise"]))
    methods = list(dict.fromkeys(long["method"]))
    colours = method_colours(methods)
    fig, ax = plt.subplots(figsize=figsize("double", 0.42))
    bar = 0.8 / len(methods)
    for i, method in enumerate(methods):
        rows = long[long["method"] == method].set_index("noise").reindex(kinds)
        ax.bar(np.arange(len(kinds)) + (i - (len(methods) - 1) / 2) * bar, rows["ssim_mean"], bar, color=colours[method], label=method)
    ax.set_xticks(np.arange(len(kinds)), [kind_labels.get(k, k) for k in kinds])
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("noise added to the test images")
    ax.set_ylabel("SSIM against the clean original")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)  # below, over no bar
    fig.tight_layout()
    return fig


def noise_examples(original: np.ndarray, examples: dict[str, dict[str, np.ndarray]], kind_labels: dict[str, str]) -> plt.Figure:
    """One row per noise kind (named on the left by ``kind_labels``): the original, then each
    method's output for the first image (methods named once, above their column)."""
    kinds = list(examples)
    methods = list(examples[kinds[0]])
    fig, axes = image_grid(len(kinds), len(methods) + 1, title_lines=4, titled_rows=1)  # method names wrap in narrow columns
    for row, kind in enumerate(kinds):
        panels = [("original", original)] + [(m, examples[kind][m][0]) for m in methods]
        for col, (text, image) in enumerate(panels):
            show_image(axes[row, col], image, text if row == 0 else "")
        ax, size = axes[row, 0], points("axes.titlesize")
        label = wrap(kind_labels.get(kind, kind), ax.get_position().height * fig.get_figheight() * 0.8, size)  # fits beside its row
        ax.text(-0.08, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center", fontsize=size)
    fig.tight_layout()
    return fig


def noise_sweep(sweep: pd.DataFrame, kind_labels: dict[str, str], strength_labels: dict[str, str]) -> plt.Figure:
    """SSIM of each method's output against noise strength, one panel per noise kind (titled by
    ``kind_labels``, its axis named by ``strength_labels``)."""
    kinds = list(dict.fromkeys(sweep["noise"]))
    colours = method_colours(sweep["method"])
    fig, axes = plt.subplots(1, len(kinds), figsize=figsize("double", 0.45), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        part = sweep[sweep["noise"] == kind]
        for method, rows in part.groupby("method", sort=False):
            ax.plot(rows["strength"], rows["ssim_mean"], marker="o", label=method, color=colours[method])
        ax.set_xscale("log")
        ax.set_title(kind_labels[kind])
        axis_labels(ax, f"{strength_labels[kind]} (log scale)")
    axes[0, 0].set_ylabel("SSIM against the clean original")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, ncol=min(len(names), 3), loc="lower center")  # below the panels, over no data
    rows = -(-len(names) // 3)
    fig.tight_layout(rect=(0, min(0.4, rows * 2.2 * points("legend.fontsize") / 72 / fig.get_figheight()), 1, 1))
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


def byte_images(samples: dict[str, tuple[bytes, int]], columns: int = 3) -> plt.Figure:
    """Each byte string drawn as a grey image, rows as in its plaintext: structure shows as pattern."""
    names = list(samples)
    fig, axes = centred_panels(len(names), columns, aspect=0.8)
    for ax, name in zip(axes, names):
        data, rows = samples[name]
        grid = np.frombuffer(data, np.uint8)[: len(data) - len(data) % rows].reshape(rows, -1)
        ax.imshow(grid, cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="nearest")
        panel_title(ax, sample_label(name))
        ax.axis("off")
    fig.tight_layout()
    return fig


def byte_histograms(samples: dict[str, tuple[bytes, int]], columns: int = 3) -> plt.Figure:
    """Histogram of byte values for each byte string (flat for a good cipher), every panel on
    one log scale so spikes compare across panels; axis labels on the outer panels only."""
    names = list(samples)
    fig, axes = centred_panels(len(names), columns, aspect=0.7)
    counts = {name: np.bincount(np.frombuffer(samples[name][0], np.uint8), minlength=256) for name in names}
    positive = np.concatenate([c[c > 0] for c in counts.values()])
    limits = (positive.min() / 1.5, positive.max() * 1.5) if positive.size else (0.5, 2)
    columns = min(columns, len(names))
    for index, (ax, name) in enumerate(zip(axes, names)):
        ax.stairs(counts[name], np.arange(257) - 0.5, fill=True, color=NETWORK_COLOUR)  # one shape, not 256 bars: fast, no white edges
        ax.set_ylim(*limits)
        log_y(ax)
        panel_title(ax, sample_label(name))
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


def feature_views(image: np.ndarray, views: np.ndarray) -> plt.Figure:
    """An image beside each of its feature channels stretched to [0, 1] and drawn in grey."""
    fig, axes = image_grid(1, len(views) + 1, title_lines=2)
    show_image(axes[0, 0], image, "original")
    for c, view in enumerate(views):
        show_image(axes[0, c + 1], view[..., None], f"feature channel {c} (stretched)")
    fig.tight_layout()
    return fig


def attack_curve(curve: pd.DataFrame, receiver_ssim: float) -> plt.Figure:
    """The attacker's test SSIM against how many images it trained its decoder on (error
    bars: standard deviation over test images), with the real decoder's SSIM as a line."""
    fig, ax = plt.subplots(figsize=figsize("single", 0.8))
    ax.errorbar(curve["trained_on"], curve["ssim"], yerr=curve["ssim_std"], marker="o", capsize=3,
                label="attacker's decoder (trained from scratch; bars: ± 1 sd over test images)")
    ax.axhline(receiver_ssim, color="black", linestyle=":", label=f"real decoder ({receiver_ssim:.3f})")
    ax.set_xscale("log")
    ax.set_xticks(curve["trained_on"], [f"{n}" for n in curve["trained_on"]])
    ax.minorticks_off()
    axis_labels(ax, "images the attacker trained on (log scale; none of them the owner's training images)", "SSIM on the test images")
    panel_title(ax, f"An attacker with the encoder: {int(curve['epochs'].iloc[0])} epochs per point")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ across training seeds (the report)
#: How the spread across seeds is drawn and named: the band or bar is one standard deviation.
SEED_SPREAD = "sd"


def _seeds_note(long: pd.DataFrame) -> str:
    """'mean over seeds 0, 1, 2; band or bars: ± 1 sd across seeds' for a figure drawn from a long table with a seed column."""
    seeds = sorted(long["seed"].unique())
    return f"mean over training seeds {', '.join(map(str, seeds))}; band or bars: ± 1 standard deviation across seeds"


def seeds_training_history(long: pd.DataFrame) -> plt.Figure:
    """Figure 5 across seeds: training and validation loss per epoch, mean with its spread across seeds."""
    import seaborn as sns

    melted = long.melt(id_vars=["seed", "epoch"], value_vars=["loss", "val_loss"], var_name="curve", value_name="mse")
    melted["curve"] = melted["curve"].map({"loss": "training loss", "val_loss": "validation loss"})
    fig, ax = plt.subplots(figsize=figsize("single", 0.8))
    sns.lineplot(data=melted, x="epoch", y="mse", hue="curve", errorbar=SEED_SPREAD, marker="o", ax=ax)
    axis_labels(ax, "epoch", "mean squared error (log scale)")
    log_y(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    panel_title(ax, "Training and validation loss (cf. the paper's Figure 5)")
    ax.legend(title=None)
    fig.text(0.5, -0.02, wrap(_seeds_note(long) + ".", fig.get_figwidth()), ha="center", va="top", fontsize=points("legend.fontsize"))
    fig.tight_layout()
    return fig


def seeds_noise_sweep(long: pd.DataFrame, kind_labels: dict[str, str], strength_labels: dict[str, str]) -> plt.Figure:
    """The noise sweep across seeds: each method's SSIM against noise strength, mean with its spread across seeds."""
    import seaborn as sns

    kinds = list(dict.fromkeys(long["noise"]))
    colours = method_colours(long["method"])
    fig, axes = plt.subplots(1, len(kinds), figsize=figsize("double", 0.5), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        sns.lineplot(data=long[long["noise"] == kind], x="strength", y="ssim_mean", hue="method", palette=colours,
                     errorbar=SEED_SPREAD, marker="o", ax=ax, legend=ax is axes[0, 0])
        ax.set_xscale("log")
        ax.set_title(kind_labels[kind])
        ax.set_ylabel("")
        axis_labels(ax, f"{strength_labels[kind]} (log scale)")
    axes[0, 0].set_ylabel("SSIM against the clean original")
    handles, names = axes[0, 0].get_legend_handles_labels()
    axes[0, 0].get_legend().remove()
    fig.legend(handles, names, ncol=min(len(names), 3), loc="lower center")
    rows = -(-len(names) // 3) + 1
    fig.text(0.5, 1.0, wrap(_seeds_note(long), fig.get_figwidth()), ha="center", va="bottom", fontsize=points("legend.fontsize"))
    fig.tight_layout(rect=(0, min(0.45, rows * 2.2 * points("legend.fontsize") / 72 / fig.get_figheight()), 1, 1))
    return fig


def seeds_noise_methods(long: pd.DataFrame, kind_labels: dict[str, str]) -> plt.Figure:
    """SSIM of every method per noise kind across seeds: bars at the mean, error bars ± 1 sd across seeds."""
    import seaborn as sns

    data = long.assign(kind=long["noise"].map(lambda k: kind_labels.get(k, k)))
    colours = method_colours(data["method"])
    fig, ax = plt.subplots(figsize=figsize("double", 0.45))
    sns.barplot(data=data, x="kind", y="ssim_mean", hue="method", palette=colours, errorbar=SEED_SPREAD, capsize=0.1, ax=ax)
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("noise added to the test images")
    ax.set_ylabel("SSIM against the clean original")
    panel_title(ax, _seeds_note(long))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, title=None)
    fig.tight_layout()
    return fig


def seeds_attack_curve(curve: pd.DataFrame, decoders: pd.DataFrame) -> plt.Figure:
    """The attacker's test SSIM against its number of images, mean with its spread across seeds,
    and every decoder of ``table_substitute_decoder`` (the receiver, the bounds) as mean ± sd lines."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=figsize("double", 0.45))
    order = list(dict.fromkeys(curve["attacker_images"].astype(str)))
    trained = curve.assign(attacker_images=curve["attacker_images"].astype(str)).groupby("attacker_images")["trained_on"].mean()
    sns.pointplot(data=curve.assign(attacker_images=curve["attacker_images"].astype(str)), x="attacker_images", y="ssim",
                  order=order, errorbar=SEED_SPREAD, capsize=0.1, ax=ax, label="attacker's decoder, as many epochs as the owner")
    ax.set_xticks(range(len(order)), [f"{label} ({trained[label]:.0f} trained on)" for label in order])
    spread = decoders.groupby("decoder", sort=False)["ssim"].agg(["mean", "std"])
    for (name, row), style in zip(spread.iterrows(), (":", "--", "-.", (0, (1, 3)))):
        if name.startswith("substitute decoder (the attacker)"):
            continue  # the curve's last point
        ax.axhline(row["mean"], color="black", linestyle=style, label=f"{name}: {row['mean']:.3f} ± {row['std']:.3f}")
    axis_labels(ax, "images the attacker has (a tenth kept for validation; none of them the owner's training images)", "SSIM on the test images")
    panel_title(ax, _seeds_note(curve))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1)
    fig.tight_layout()
    return fig
