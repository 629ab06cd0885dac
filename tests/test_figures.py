"""Every figure drawn from small synthetic tables: human labels (no raw column names) and
no empty panels; every registered figure redrawn from saved files alone, byte for byte, in
the house style (TrueType fonts in the PDF, 300 dpi and journal widths for a paper)."""

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from aecrypt import config  # noqa: E402
from aecrypt.study import figures
from aecrypt.experiments import robustness, security
from aecrypt.method.noise import sweep_strengths  # noqa: E402
from aecrypt.study.profiles import FIGURE_STYLES, PROFILES  # noqa: E402
from aecrypt.study.results import header_label, write_table  # noqa: E402

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
    """(name, function that draws it) for every figure in aecrypt.study.figures."""
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
        "intensity_histograms": lambda: figures.intensity_histograms(**figures.intensity_counts(images, labels)),
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


def _drawn_by_registry() -> set[str]:
    """The figure functions the registry's draw functions call (by the names they use)."""
    return {name for spec in figures.FIGURES.values() for name in spec.draw.__code__.co_names}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("name", sorted(set(_figures()) - _drawn_by_registry()))  # the rest: from saved files, below
def test_figure_has_human_labels_and_no_empty_panel(name):
    fig = _figures()[name]()
    raw = [t for t in _texts(fig) if RAW_NAME.search(t) or FACET_TITLE.match(t) or SCHEME_KEY.match(t)]
    assert not raw, f"{name} shows raw names: {raw}"
    empty = [ax for ax in fig.axes if ax.get_visible() and _is_empty(ax)]
    assert not empty, f"{name} has {len(empty)} empty panel(s) of {len(fig.axes)}"


def test_every_figure_function_is_tested():
    drawn = set(_figures()) | _drawn_by_registry()
    public = {n for n, f in vars(figures).items() if inspect.isfunction(f) and not n.startswith("_")
              and f.__module__ == figures.__name__ and inspect.signature(f).return_annotation == "plt.Figure"}
    helpers = {"image_rows", "image_journey"}  # drawn through the registry (test_every_registered_figure_...)
    assert public - helpers <= drawn, f"no test draws {sorted(public - helpers - drawn)}"


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


# ------------------------------------------------------------ figures drawn from saved data


def _saved_values():
    """What each figure's notebook passes to ``figures.publish``, from small synthetic data."""
    images, long, examples, sweep = _noise_tables()
    labels = np.array(["axial", "coronal", "sagittal"] * 4)
    image, features = images[0], _encode(images[0])
    many = _images(12)
    return {
        "fig_leakage": {"per_split": {"random (old)": np.linspace(0.9, 1, 20), "slabs, guard 4 mm": np.linspace(0.5, 0.8, 20)},
                        "threshold": 0.9},
        "fig_dataset_samples": {"images": many, "labels": labels},
        "fig_dataset_intensities": {"images": many, "labels": labels},
        "fig5_training_loss": {"history": pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.1, 0.05, 0.04], "val_loss": [0.12, 0.06, 0.05]}),
                               "best_epoch": 2, "stopped_because": "early stopping"},
        "fig_reconstructions": {"originals": images, "others": images[::-1]},
        "fig_reconstructions_ood": {"originals": images, "others": images[::-1]},
        "fig6_image_journey": {"trip": security.journey(image, _encode, _decode, KEY, rng=np.random.default_rng(0))},
        "fig6_image_journey_retina": {"trip": security.journey(images[1], _encode, _decode, KEY, rng=np.random.default_rng(1))},
        "fig_paper_scheme_bitflip": {"flip": security.paper_scheme_byte_flip(features, KEY, _decode, rng=np.random.default_rng(0))},
        "fig_noise_examples": {"original": image, "examples": examples},
        "fig_cipher_bytes": {"samples": security.cipher_samples(image, features, KEY, security.SCHEMES_COMPARED,
                                                                rng=np.random.default_rng(0))},
        "fig_feature_views": {"image": image, "views": security.feature_channel_views(features, image.shape[0])},
        "fig_substitute_decoder": {"rows": [("original", images), ("real decoder", images), ("attacker's decoder", images[::-1])]},
    }, {
        "table_end_to_end": _end_to_end(), "table_size_vs_quality": _size_quality(),
        "table6_noise_robustness_all": long.assign(data="test"), "table_noise_sweep": sweep, "table_attack_curve": _attack_curve(),
        "table_substitute_decoder": pd.DataFrame({"decoder": ["real", "substitute"], "ssim": [0.95, 0.9]}),
    }


def _saved_run(folder: Path, style: str = "paper", names=None) -> Path:
    """A run folder as a study leaves it: its tables, its figures' saved values and its recorded style."""
    values, tables = _saved_values()
    names = set(figures.FIGURES if names is None else names)
    for name, table in tables.items():
        if any(name in figures.FIGURES[n].tables for n in names):
            table.to_csv(folder / f"{name}.csv", index=False)
    for name, given in values.items():
        if name in names:
            figures.save_data(name, folder, figures.FIGURES[name].prepare(**given))
    (folder / "runs").mkdir()
    (folder / "runs" / "01_data_prep.json").write_text(json.dumps({"parameters": {"figure_style": style}}))
    return folder


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    return _saved_run(tmp_path_factory.mktemp("run"))


def test_every_registered_figure_has_saved_data_here(saved_run):
    assert [name for name in figures.FIGURES if not figures.has_data(name, saved_run)] == []


def test_registered_figures_drawn_from_files_have_human_labels(saved_run):
    style = "paper"  # the narrowest: labels wrap, legends must fit two columns
    for name in figures.FIGURES:
        with figures.styled(style):
            fig = figures.FIGURES[name].draw(figures.load_data(name, saved_run))
            raw = [t for t in _texts(fig) if RAW_NAME.search(t) or FACET_TITLE.match(t) or SCHEME_KEY.match(t)]
            assert not raw, f"{name} ({style}) shows raw names: {raw}"
            assert not [ax for ax in fig.axes if ax.get_visible() and _is_empty(ax)], f"{name} ({style}) has an empty panel"
            assert fig.get_figwidth() <= figures.WIDTHS[style]["double"], name
        plt.close(fig)


#: One figure of each kind, for the slow checks (each redraw at 300 dpi takes a second or two):
#: image panels, and a table's bars with wrapped text. The smoke study's test
#: (test_notebooks) redraws every figure.
SAMPLE = ("fig6_image_journey", "fig_time_breakdown")


def test_redrawing_gives_the_same_bytes_in_the_journal_format(tmp_path):
    from PIL import Image

    _saved_run(tmp_path, "paper", SAMPLE)
    first = {path: path.read_bytes() for path in figures.redraw_all(tmp_path)}
    assert len(first) == 2 * len(SAMPLE) and all(path.parent == tmp_path for path in first)  # the recorded style, in place
    second = {path: path.read_bytes() for path in figures.redraw_all(tmp_path)}
    assert [p.name for p in first if first[p] != second[p]] == []
    for path, data in first.items():
        if path.suffix == ".pdf":
            assert b"/FontFile2" in data and b"/Type3" not in data, f"{path.name}: fonts not embedded as TrueType"
        else:
            with Image.open(path) as png:
                assert round(png.info["dpi"][0]) == 300, path.name
                assert png.width / 300 <= 7.2 * 1.02, f"{path.name} is {png.width / 300:.2f} in wide, wider than two columns"


def test_another_style_goes_beside_the_run_s_own(saved_run):
    own = (saved_run / "fig_attack_curve.png").read_bytes() if (saved_run / "fig_attack_curve.png").exists() else None
    saved = figures.redraw("fig_attack_curve", saved_run, "slides")
    assert saved["png"] == saved_run / "slides" / "fig_attack_curve.png" and saved["pdf"].is_file()
    assert own is None or (saved_run / "fig_attack_curve.png").read_bytes() == own
    assert figures.recorded_style(saved_run) == "paper" and figures.recorded_style(saved_run / "slides") == figures.DEFAULT_STYLE


def test_a_run_recorded_before_figure_styles_takes_its_profile_s(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "04_timing.json").write_text(json.dumps({"parameters": {"profile": "default"}}))
    assert figures.recorded_style(tmp_path) == FIGURE_STYLES["default"]


def test_figures_command_needs_no_tensorflow(tmp_path):
    """``aecrypt figures`` redraws a run (and its seed folders) without importing TensorFlow or Keras."""
    for folder in (tmp_path / "smoke", tmp_path / "smoke" / "seed-1"):
        folder.mkdir(parents=True)
        _saved_run(folder, "notebook", names={"fig_attack_curve"})
    code = ("import sys; from aecrypt.cli.main import main; code = main(['figures', '--profile', 'smoke']); "
            "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules); print('imported:', heavy); sys.exit(code or bool(heavy))")
    env = {**os.environ, "AECRYPT_RESULTS_DIR": str(tmp_path), "PYTHONPATH": str(config.PROJ_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported: []" in done.stdout and "1 seed folder" in done.stdout
    for folder in (tmp_path / "smoke", tmp_path / "smoke" / "seed-1"):
        assert {p.name for p in folder.glob("fig*")} == {f"{n}.{s}" for n in figures.FIGURES if figures.has_data(n, folder) for s in ("png", "pdf")}
    # its forked workers draw the bytes this process draws alone
    forked = {path: path.read_bytes() for path in (tmp_path / "smoke").rglob("fig*.p*")}
    alone = {path: path.read_bytes() for path in figures.redraw_all(tmp_path / "smoke", workers=1)}
    assert set(alone) == set(forked) and [p.name for p in alone if alone[p] != forked[p]] == []


def test_the_slowest_figures_are_drawn_first():
    assert set(figures.SLOWEST_FIGURES) <= set(figures.FIGURES)
    order = sorted(figures.FIGURES, key=figures._draw_order)
    assert order[: len(figures.SLOWEST_FIGURES)] == list(figures.SLOWEST_FIGURES)


def test_every_profile_has_a_figure_style():
    assert set(FIGURE_STYLES) == set(PROFILES) and set(FIGURE_STYLES.values()) <= set(config.STYLES)
    assert FIGURE_STYLES["default"] == "paper"


def test_one_colour_per_method_whatever_the_figure_shows():
    every = figures.method_colours(["noisy input", "autoencoder pipeline", "median 3x3", robustness.NLM_ESTIMATED, robustness.NLM_ORACLE,
                                    "BM3D (estimated sigma, first 8 images)", "BM3D (oracle sigma, first 8 images)",
                                    "denoising autoencoder pipeline"])
    assert len(set(every.values())) == len(every) and set(every.values()) <= set(figures.OKABE_ITO.values())
    assert figures.method_colours([robustness.NLM_ORACLE])[robustness.NLM_ORACLE] == every[robustness.NLM_ORACLE]


def test_latex_tables_have_booktabs_rules_and_units(tmp_path):
    table = pd.DataFrame({"method": ["AES"], "encrypt_median_s": [0.5], "psnr_db_mean": [30.1], "npcr": [99.6]})
    tex = write_table(table, "table_x", tmp_path, caption="x")["tex"].read_text()
    assert all(rule in tex for rule in (r"\toprule", r"\midrule", r"\bottomrule")) and r"\begin{tabular}{lrrr}" in tex
    assert "encrypt median (s) & PSNR mean (dB) & NPCR (\\%)" in tex and "\\_" not in tex
    assert header_label("encrypt_MB_s") == "encrypt (MB/s)" and header_label("guard_mm") == "guard (mm)"


def test_style_sheets_ship_with_the_package():
    assert all(path.is_file() for style in config.STYLES for path in figures.style_sheets(style))
    import tomllib

    setuptools = tomllib.loads((config.PROJ_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "aecrypt.study.styles" in setuptools["packages"]  # data only, listed so an install ships it
    assert setuptools["package-data"]["aecrypt.study.styles"] == ["*.mplstyle"]
    with pytest.raises(ValueError, match="choose one of paper, slides, notebook"):
        figures.style_sheets("poster")
