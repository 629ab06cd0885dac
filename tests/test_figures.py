"""Every figure drawn from small synthetic tables: human labels (no raw column names) and
no empty panels."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from aecrypt import figures, robustness, security  # noqa: E402
from aecrypt.noise import sweep_strengths  # noqa: E402

#: A raw column or key name: lower-case words joined by underscores (ssim_mean, salt_pepper).
RAW_NAME = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
#: seaborn's automatic facet titles ("noise = salt_pepper").
FACET_TITLE = re.compile(r"^\w+ = ")
#: A scheme's code name where a reader needs its name ("gcm: feature map").
SCHEME_KEY = re.compile(r"^(gcm|ecb|cbc|ctr|paper|paper-blocks): ")
KEY = bytes(range(32))


def _images(count=4, size=16, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((count, size, size, channels), np.float32)
    x[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = rng.uniform(0.3, 1, (count, size // 2, size // 2, 1))
    return x


def _encode(image):
    return image[::2, ::2].astype(np.float32)


def _decode(features):
    return np.repeat(np.repeat(features, 2, axis=0), 2, axis=1)


def _noise_tables():
    images = _images()
    identity = lambda x: np.clip(x, 0, 1)  # noqa: E731
    baselines = {"median 3x3": robustness.median_baseline, "denoising autoencoder pipeline": identity}
    long, examples = robustness.noise_table(images, identity, robustness.TABLE6_KINDS, 0, baselines=baselines)
    sweep = robustness.strength_sweep(images[:2], identity, sweep_strengths(2), 0, baselines=baselines)
    return images, long, examples, sweep


def _end_to_end():
    rows = []
    for side in ("sender", "receiver"):
        for method, model_s in (("AES on raw image", 0.0), ("encoder + AES (1 image)", 6e-3), ("encoder + AES (batch 32)", 4e-3)):
            rows.append({"side": side, "method": method, "model_s": model_s, "aes_s": 2.8e-4, "total_s": model_s + 2.8e-4})
    return pd.DataFrame(rows)


def _size_quality():
    return pd.DataFrame({"method": ["raw image + AES-GCM", "autoencoder features float32 + AES-GCM", "JPEG q75 + AES-GCM"],
                         "bytes": [27708, 27708, 1507], "ssim": [1.0, 0.97, 0.95]})


def _figures():
    """(name, function that draws it) for every figure in aecrypt.figures."""
    images = _images(12)
    labels = np.array(["axial", "coronal", "sagittal"] * 4)
    image, features = images[0], _encode(images[0])
    samples = security.cipher_samples(image, features, KEY, security.SCHEMES_COMPARED, rng=np.random.default_rng(0))
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.1, 0.05, 0.04], "val_loss": [0.12, 0.06, 0.05]})
    trip = security.journey(image, _encode, _decode, KEY, rng=np.random.default_rng(0))
    flip = security.paper_scheme_byte_flip(features, KEY, _decode, rng=np.random.default_rng(0))
    views = security.feature_channel_views(features, image.shape[0])
    per_split = {"random (old)": np.linspace(0.9, 1, 20), "slabs, guard 4 mm": np.linspace(0.5, 0.8, 20)}
    return {
        "sample_grid": lambda: figures.sample_grid(images, labels, per_class=3),
        "intensity_histograms": lambda: figures.intensity_histograms(images, labels),
        "training_history": lambda: figures.training_history(history, 2, "early stopping"),
        "image_pairs": lambda: figures.image_pairs(images, images[::-1], count=3),
        "byte_images": lambda: figures.byte_images(samples),
        "byte_histograms": lambda: figures.byte_histograms(samples),
        "feature_views": lambda: figures.feature_views(image, views),
        "leakage_histograms": lambda: figures.leakage_histograms(per_split, 0.9),
        "noise_methods": lambda: figures.noise_methods(_noise_tables()[1]),
        "noise_examples": lambda: figures.noise_examples(image, _noise_tables()[2]),
        "noise_sweep": lambda: figures.noise_sweep(_noise_tables()[3]),
        "journey_figure": lambda: figures.journey_figure(trip),
        "byte_flip_figure": lambda: figures.byte_flip_figure(flip),
        "time_breakdown": lambda: figures.time_breakdown(_end_to_end()),
        "size_vs_quality": lambda: figures.size_vs_quality(_size_quality()),
        "attack_curve": lambda: figures.attack_curve(_attack_curve(), 0.95),
    }


def _attack_curve():
    return pd.DataFrame({"attacker_images": ["10", "30", "all"], "trained_on": [9, 27, 51], "epochs": [24] * 3,
                         "ssim": [0.6, 0.8, 0.9], "ssim_std": [0.05, 0.03, 0.02]})


def _texts(fig) -> list[str]:
    """Every piece of text a reader sees: titles, axis labels, tick labels, legend entries
    and titles, and free text on the figure."""
    fig.canvas.draw()  # tick labels are set on drawing
    texts = [t.get_text() for t in fig.texts]
    texts += [t.get_text() for legend in fig.legends for t in [*legend.get_texts(), legend.get_title()]]
    for ax in fig.axes:
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")]
        texts += [ax.get_xlabel(), ax.get_ylabel()]
        texts += [t.get_text() for t in [*ax.get_xticklabels(), *ax.get_yticklabels()]]
        texts += [t.get_text() for t in ax.texts]
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in [*ax.get_legend().get_texts(), ax.get_legend().get_title()]]
    return [t for t in texts if t]


def _is_empty(ax) -> bool:
    return not (ax.images or ax.lines or ax.patches or ax.collections)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("name", list(_figures()))
def test_figure_has_human_labels_and_no_empty_panel(name):
    fig = _figures()[name]()
    raw = [t for t in _texts(fig) if RAW_NAME.search(t) or FACET_TITLE.match(t) or SCHEME_KEY.match(t)]
    assert not raw, f"{name} shows raw names: {raw}"
    empty = [ax for ax in fig.axes if ax.get_visible() and _is_empty(ax)]
    assert not empty, f"{name} has {len(empty)} empty panel(s) of {len(fig.axes)}"


def test_every_figure_function_is_tested():
    drawn = set(_figures())
    public = {n for n, f in vars(figures).items() if callable(f) and not n.startswith("_") and getattr(f, "__module__", "") == figures.__name__
              and n not in ("use_style", "to_displayable", "sample_label", "method_colours", "image_rows", "image_journey")}
    assert public <= drawn, f"no test draws {sorted(public - drawn)}"


def test_the_checks_catch_a_raw_label_and_an_empty_panel():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([1, 2], [3, 4])
    axes[0].set_ylabel("ssim_mean")
    assert any(RAW_NAME.search(t) for t in _texts(fig))
    assert _is_empty(axes[1]) and not _is_empty(axes[0])


def test_sample_labels_are_words():
    assert figures.sample_label("gcm: feature map") == "AES-GCM: feature map"
    assert figures.sample_label("paper: raw image") == "paper's keys per row (ours): raw image"
    assert figures.sample_label("paper-blocks: feature map") == "paper's keys per block (ours): feature map"
    assert figures.sample_label("image (not encrypted)") == "image (not encrypted)"
