"""Every figure drawn from small synthetic tables: human labels (no raw column names) and
no empty panels; every registered figure redrawn from saved files alone, byte for byte, in
the house style (TrueType fonts in the PDF, 300 dpi and journal widths for a paper); the
draw functions import nothing that computes, and a notebook shows every figure it publishes."""

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
from aecrypt.errors import FigureDataError  # noqa: E402
from aecrypt.experiments import aes_timing, cipher_statistics, feature_similarity, journey, robustness  # noqa: E402
from aecrypt.experiments import rate_distortion  # noqa: E402
from aecrypt.experiments.codecs import stored_image  # noqa: E402
from aecrypt.method.noise import NOISE_KINDS, NOISE_LABELS, STRENGTH_AXIS_LABELS, sweep_strengths  # noqa: E402
from aecrypt.study import table_names as tables  # noqa: E402
from aecrypt.study.figures import draw, prepare, registry, storage, style  # noqa: E402
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
    long, examples = robustness.noise_table(images, identity, NOISE_KINDS, 0, baselines=baselines)
    sweep = robustness.strength_sweep(images[:2], identity, sweep_strengths(2), 0, baselines=baselines)
    return images, long, examples, sweep


def _end_to_end():
    rows = []
    for side in ("sender", "receiver"):
        for method, model_s in (("AES on raw image", 0.0), ("encoder + AES (1 image)", 6e-3), ("encoder + AES (batch 32)", 4e-3)):
            rows.append({"side": side, "method": method, "model_s": model_s, "aes_s": 2.8e-4, "total_s": model_s + 2.8e-4})
    return pd.DataFrame(rows)


def _rate_distortion():
    """A rate-distortion table measured on four small images: real codecs, and the stand-in autoencoder below."""
    stored = [stored_image(image) for image in _images(4, size=24)]
    measured = pd.concat([rate_distortion.codec_measurements(stored, points=3),
                          rate_distortion.autoencoder_measurements(stored, lambda b: b[:, ::2, ::2], lambda f: _decode_batch(f))],
                         ignore_index=True)
    return rate_distortion.rd_table(measured)


def _decode_batch(features):
    return np.repeat(np.repeat(features, 2, axis=1), 2, axis=2)


def _figures():
    """(name, function that draws it) for every figure function in aecrypt.study.figures.draw."""
    images = _images(12)
    labels = np.array(["axial", "coronal", "sagittal"] * 4)
    image, features = images[0], _encode(images[0])
    samples = cipher_statistics.cipher_samples(image, features, KEY, cipher_statistics.SCHEMES_COMPARED, rng=np.random.default_rng(0))
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.1, 0.05, 0.04], "val_loss": [0.12, 0.06, 0.05]})
    trip = journey.journey(image, _encode, _decode, KEY, rng=np.random.default_rng(0))
    views = feature_similarity.feature_channel_views(features, image.shape[0])
    per_split = {"random (old)": np.linspace(0.9, 1, 20), "slabs, guard 4 mm": np.linspace(0.5, 0.8, 20)}
    return {
        "sample_grid": lambda: draw.sample_grid(images, labels, per_class=3),
        "intensity_histograms": lambda: draw.intensity_histograms(**prepare.intensity_counts(images, labels)),
        "training_history": lambda: draw.training_history(history, 2, "early stopping"),
        "image_rows": lambda: draw.image_rows([("original", images), ("reconstruction", images[::-1])], count=3),
        "image_panels": lambda: draw.image_panels(trip.panels()),
        "byte_images": lambda: draw.byte_images(samples),
        "byte_histograms": lambda: draw.byte_histograms(samples),
        "feature_views": lambda: draw.feature_views(image, views),
        "leakage_histograms": lambda: draw.leakage_histograms(per_split, 0.9),
        "noise_methods": lambda: draw.noise_methods(_noise_tables()[1], NOISE_LABELS),
        "noise_examples": lambda: draw.noise_examples(image, _noise_tables()[2], NOISE_LABELS),
        "noise_sweep": lambda: draw.noise_sweep(_noise_tables()[3], NOISE_LABELS, STRENGTH_AXIS_LABELS),
        "time_breakdown": lambda: draw.time_breakdown(_end_to_end()),
        "aes_size_sweep": lambda: draw.aes_size_sweep(_aes_sweep()),
        "rate_distortion": lambda: draw.rate_distortion(_rate_distortion(), rate_distortion.METRICS, rate_distortion.FIGURE_KINDS),
        "attack_curve": lambda: draw.attack_curve(_attack_curve(), 0.95),
        "seeds_training_history": lambda: draw.seeds_training_history(_across(history)),
        "seeds_noise_methods": lambda: draw.seeds_noise_methods(_across(_noise_tables()[1]), NOISE_LABELS),
        "seeds_noise_sweep": lambda: draw.seeds_noise_sweep(_across(_noise_tables()[3]), NOISE_LABELS, STRENGTH_AXIS_LABELS),
        "seeds_attack_curve": lambda: draw.seeds_attack_curve(_across(_attack_curve()), _across(_decoders())),
    }


def _across(table: pd.DataFrame) -> pd.DataFrame:
    """A table as two training seeds would give it, stacked with a seed column (the second a little apart)."""
    shifted = table.copy()
    numeric = [c for c in shifted.columns if c in ("ssim", "ssim_mean", "loss", "val_loss")]
    shifted[numeric] = shifted[numeric] * 0.97
    return pd.concat([table.assign(seed=0), shifted.assign(seed=1)], ignore_index=True)


def _decoders():
    return pd.DataFrame({"decoder": ["real decoder (the receiver)", "substitute decoder (the attacker)",
                                     "substitute decoder, equal steps (the attacker)"], "ssim": [0.95, 0.9, 0.92]})


def _aes_sweep():
    return aes_timing.size_sweep_table(KEY, 3, np.random.default_rng(0), sizes=(10_000, 100_000))


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
    return {name for spec in registry.FIGURES.values() for name in spec.draw.__code__.co_names}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("name", sorted(_figures()))  # in the default style; from saved files in the paper style, below
def test_figure_has_human_labels_and_no_empty_panel(name):
    fig = _figures()[name]()
    raw = [t for t in _texts(fig) if RAW_NAME.search(t) or FACET_TITLE.match(t) or SCHEME_KEY.match(t)]
    assert not raw, f"{name} shows raw names: {raw}"
    empty = [ax for ax in fig.axes if ax.get_visible() and _is_empty(ax)]
    assert not empty, f"{name} has {len(empty)} empty panel(s) of {len(fig.axes)}"


def test_every_figure_function_is_tested():
    public = {n for n, f in vars(draw).items() if inspect.isfunction(f) and not n.startswith("_")
              and f.__module__ == draw.__name__ and inspect.signature(f).return_annotation == "plt.Figure"}
    assert public == set(_figures()), f"draw functions no test draws: {sorted(public - set(_figures()))}"
    assert public <= _drawn_by_registry() | {"image_panels", "image_rows"}, "a draw function no registered figure uses"


def test_drawing_imports_nothing_that_computes():
    """The figures package (style, layout, draw, prepare, storage, registry) imports no experiment,
    no noise model, no profile and no data loader, even inside a function."""
    import ast

    computing = ("aecrypt.experiments", "aecrypt.method.noise", "aecrypt.study.profiles", "aecrypt.data", "aecrypt.method.cipher")
    folder = Path(draw.__file__).parent
    imported = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.setdefault(path.name, []).append(node.module)
            elif isinstance(node, ast.Import):
                imported.setdefault(path.name, []).extend(alias.name for alias in node.names)
    wrong = {name: [m for m in modules if m.startswith(computing)] for name, modules in imported.items()}
    assert {name: modules for name, modules in wrong.items() if modules} == {}
    assert "aecrypt.study.figures.style" in imported["draw.py"]  # the check sees the package's own imports


def test_setting_the_style_loads_no_figure():
    code = ("import sys; from aecrypt.study.figures import use_style; use_style('paper'); "
            "print(sorted(m for m in sys.modules if m.startswith('aecrypt.study.figures.') or m.startswith('aecrypt.experiments')))")
    env = {**os.environ, "PYTHONPATH": str(config.PROJ_ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['aecrypt.study.figures.style']"


def test_the_checks_catch_a_raw_label_and_an_empty_panel():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([1, 2], [3, 4])
    axes[0].set_ylabel("ssim_mean")
    assert any(RAW_NAME.search(t) for t in _texts(fig))
    assert _is_empty(axes[1]) and not _is_empty(axes[0])


def test_sample_labels_are_words():
    assert draw.sample_label("gcm: feature map") == "AES-GCM: feature map"
    assert draw.sample_label("paper: raw image") == "paper's keys per row (ours): raw image"
    assert draw.sample_label("paper-blocks: feature map") == "paper's keys per block (ours): feature map"
    assert draw.sample_label("image (not encrypted)") == "image (not encrypted)"


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
        "fig_retina": {"panels": [("skimage retina (CC0), cropped and resized", images[2])]},
        "fig_reconstructions": {"originals": images, "others": images[::-1]},
        "fig_reconstructions_ood": {"originals": images, "others": images[::-1]},
        "fig6_image_journey": {"panels": journey.journey(image, _encode, _decode, KEY, rng=np.random.default_rng(0)).panels()},
        "fig6_image_journey_retina": {"panels": journey.journey(images[1], _encode, _decode, KEY, rng=np.random.default_rng(1)).panels()},
        "fig_paper_scheme_bitflip": {"panels": journey.paper_scheme_byte_flip(features, KEY, _decode, rng=np.random.default_rng(0)).panels()},
        "fig_rate_distortion": {"metrics": rate_distortion.METRICS, "kinds": rate_distortion.FIGURE_KINDS},
        "fig_noise_methods": {"labels": NOISE_LABELS},
        "fig_noise_examples": {"original": image, "examples": examples, "labels": NOISE_LABELS},
        "fig_noise_sweep": {"labels": NOISE_LABELS, "strength_labels": STRENGTH_AXIS_LABELS},
        "fig_cipher_bytes": {"samples": cipher_statistics.cipher_samples(image, features, KEY, cipher_statistics.SCHEMES_COMPARED,
                                                                         rng=np.random.default_rng(0))},
        "fig_feature_views": {"image": image, "views": feature_similarity.feature_channel_views(features, image.shape[0])},
        "fig_substitute_decoder": {"rows": [("original", images), ("real decoder", images), ("attacker's decoder", images[::-1])]},
        "fig_seeds_noise_methods": {"labels": NOISE_LABELS},
        "fig_seeds_noise_sweep": {"labels": NOISE_LABELS, "strength_labels": STRENGTH_AXIS_LABELS},
    }, {
        tables.END_TO_END: _end_to_end(), tables.RATE_DISTORTION: _rate_distortion(), tables.AES_SIZE_SWEEP: _aes_sweep(),
        tables.NOISE_ALL: long.assign(data="test"), tables.NOISE_SWEEP: sweep, tables.ATTACK_CURVE: _attack_curve(),
        tables.SUBSTITUTE_DECODER: pd.DataFrame({"decoder": ["real", "substitute"], "ssim": [0.95, 0.9]}),
        tables.ACROSS_SEEDS["training_history"]: _across(pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.1, 0.05, 0.04],
                                                                        "val_loss": [0.12, 0.06, 0.05]})),
        tables.ACROSS_SEEDS[tables.NOISE_ALL]: _across(long.assign(data="test")), tables.ACROSS_SEEDS[tables.NOISE_SWEEP]: _across(sweep),
        tables.ACROSS_SEEDS[tables.ATTACK_CURVE]: _across(_attack_curve()),
        tables.ACROSS_SEEDS[tables.SUBSTITUTE_DECODER]: _across(_decoders()),
    }


def _saved_run(folder: Path, style: str = "paper", names=None) -> Path:
    """A run folder as a study leaves it: its tables, its figures' saved values and its recorded style."""
    values, saved_tables = _saved_values()
    names = set(registry.FIGURES if names is None else names)
    for name, table in saved_tables.items():
        if any(name in registry.FIGURES[n].tables for n in names):
            table.to_csv(folder / f"{name}.csv", index=False)
    for name, given in values.items():
        if name in names:
            registry.save_data(name, folder, registry.FIGURES[name].prepare(**given))
    (folder / "runs").mkdir()
    (folder / "runs" / "01_data_prep.json").write_text(json.dumps({"parameters": {"figure_style": style}}))
    return folder


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    return _saved_run(tmp_path_factory.mktemp("run"))


def test_every_registered_figure_has_saved_data_here(saved_run):
    assert [name for name in registry.FIGURES if not registry.has_data(name, saved_run)] == []


@pytest.mark.slow
def test_registered_figures_drawn_from_files_have_human_labels(saved_run):
    paper = "paper"  # the narrowest: labels wrap, legends must fit two columns
    for name in registry.FIGURES:
        with style.styled(paper):
            fig = registry.FIGURES[name].draw(registry.load_data(name, saved_run))
            raw = [t for t in _texts(fig) if RAW_NAME.search(t) or FACET_TITLE.match(t) or SCHEME_KEY.match(t)]
            assert not raw, f"{name} ({paper}) shows raw names: {raw}"
            assert not [ax for ax in fig.axes if ax.get_visible() and _is_empty(ax)], f"{name} ({paper}) has an empty panel"
            assert fig.get_figwidth() <= style.WIDTHS[paper]["double"], name
        plt.close(fig)


#: One figure of each kind, for the slow checks (each redraw at 300 dpi takes a second or two):
#: image panels, and a table's bars with wrapped text. The smoke study's test
#: (test_notebooks) redraws every figure.
SAMPLE = ("fig6_image_journey", "fig_time_breakdown")


@pytest.mark.slow
def test_redrawing_gives_the_same_bytes_in_the_journal_format(tmp_path):
    from PIL import Image

    _saved_run(tmp_path, "paper", SAMPLE)
    first = {path: path.read_bytes() for path in registry.redraw_all(tmp_path)}
    assert len(first) == 2 * len(SAMPLE) and all(path.parent == tmp_path for path in first)  # the recorded style, in place
    second = {path: path.read_bytes() for path in registry.redraw_all(tmp_path)}
    assert [p.name for p in first if first[p] != second[p]] == []
    for path, data in first.items():
        if path.suffix == ".pdf":
            assert b"/FontFile2" in data and b"/Type3" not in data, f"{path.name}: fonts not embedded as TrueType"
        else:
            with Image.open(path) as png:
                assert round(png.info["dpi"][0]) == 300, path.name
                assert png.width / 300 <= 7.2 * 1.02, f"{path.name} is {png.width / 300:.2f} in wide, wider than two columns"


@pytest.mark.slow
def test_another_style_goes_beside_the_run_s_own(saved_run):
    own = (saved_run / "fig_attack_curve.png").read_bytes() if (saved_run / "fig_attack_curve.png").exists() else None
    saved = registry.redraw("fig_attack_curve", saved_run, "slides")
    assert saved["png"] == saved_run / "slides" / "fig_attack_curve.png" and saved["pdf"].is_file()
    assert own is None or (saved_run / "fig_attack_curve.png").read_bytes() == own
    assert registry.recorded_style(saved_run) == "paper" and registry.recorded_style(saved_run / "slides") == style.DEFAULT_STYLE


def _save_in_layout_1(path: Path, values: dict) -> None:
    """Figure data as aecrypt saved it before the layout was numbered (and before labels were saved)."""
    arrays: dict = {}
    np.savez_compressed(path, values=np.array(json.dumps(storage._encode(values, arrays))), **arrays)


def test_figure_data_of_an_older_layout_is_refused_in_one_line(tmp_path, capsys):
    from aecrypt.cli.main import main

    run = config.results_dir("smoke")  # under tmp_path (conftest)
    run.mkdir(parents=True)
    _saved_run(run, "notebook", names={"fig_attack_curve", "fig_noise_examples"})
    old = registry.data_path("fig_noise_examples", run)
    _save_in_layout_1(old, {"original": np.zeros((4, 4, 1), np.uint8), "examples": {}})
    with pytest.raises(FigureDataError, match="saved by an older aecrypt .*re-run the study"):
        registry.redraw_all(run)
    assert not list(run.glob("fig*.p*"))  # refused before anything was drawn
    assert main(["figures", "--profile", "smoke"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("aecrypt: error: ") and str(old) in error and "aecrypt reproduce" in error


@pytest.mark.slow
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
        assert {p.name for p in folder.glob("fig*")} == {f"{n}.{s}" for n in registry.FIGURES if registry.has_data(n, folder) for s in ("png", "pdf")}
    # its forked workers draw the bytes this process draws alone
    forked = {path: path.read_bytes() for path in (tmp_path / "smoke").rglob("fig*.p*")}
    alone = {path: path.read_bytes() for path in registry.redraw_all(tmp_path / "smoke", workers=1)}
    assert set(alone) == set(forked) and [p.name for p in alone if alone[p] != forked[p]] == []


def test_the_slowest_figures_are_drawn_first():
    assert set(registry.SLOWEST_FIGURES) <= set(registry.FIGURES)
    order = sorted(registry.FIGURES, key=registry._draw_order)
    assert order[: len(registry.SLOWEST_FIGURES)] == list(registry.SLOWEST_FIGURES)


def test_every_profile_has_a_figure_style():
    assert set(FIGURE_STYLES) == set(PROFILES) and set(FIGURE_STYLES.values()) <= set(config.STYLES)
    assert FIGURE_STYLES["default"] == "paper"


def test_one_colour_per_method_whatever_the_figure_shows():
    every = style.method_colours(["noisy input", "autoencoder pipeline", "median 3x3", robustness.NLM_ESTIMATED, robustness.NLM_ORACLE,
                                    "BM3D (estimated sigma, first 8 images)", "BM3D (oracle sigma, first 8 images)",
                                    "denoising autoencoder pipeline"])
    assert len(set(every.values())) == len(every) and set(every.values()) <= set(style.OKABE_ITO.values())
    assert style.method_colours([robustness.NLM_ORACLE])[robustness.NLM_ORACLE] == every[robustness.NLM_ORACLE]


def test_latex_tables_have_booktabs_rules_and_units(tmp_path):
    table = pd.DataFrame({"method": ["AES"], "encrypt_median_s": [0.5], "psnr_db_mean": [30.1], "npcr": [99.6]})
    tex = write_table(table, "table_x", tmp_path, caption="x")["tex"].read_text()
    assert all(rule in tex for rule in (r"\toprule", r"\midrule", r"\bottomrule")) and r"\begin{tabular}{lrrr}" in tex
    assert "encrypt median (s) & PSNR mean (dB) & NPCR (\\%)" in tex and "\\_" not in tex
    assert header_label("encrypt_MB_s") == "encrypt (MB/s)" and header_label("guard_mm") == "guard (mm)"


def test_style_sheets_ship_with_the_package():
    assert all(path.is_file() for name in config.STYLES for path in style.style_sheets(name))
    import tomllib

    setuptools = tomllib.loads((config.PROJ_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "aecrypt.study.styles" in setuptools["packages"]  # data only, listed so an install ships it
    assert setuptools["package-data"]["aecrypt.study.styles"] == ["*.mplstyle"]
    with pytest.raises(ValueError, match="choose one of paper, slides, notebook"):
        style.style_sheets("poster")


@pytest.mark.slow
def test_a_notebook_shows_every_figure_it_publishes(tmp_path, monkeypatch):
    """Each ``publish`` shows its figure as an image in its own cell's output, not only a
    notebook's first one; a figure drawn by hand afterwards still shows too."""
    import nbformat
    import papermill

    from aecrypt.study.job import kernel_name

    cells = [
        "import numpy as np\nfrom aecrypt.study import figures\nfigures.use_style('notebook')  # as study.start does",
        "figures.publish('fig_leakage', '.', per_split={'random': np.linspace(0.5, 1, 20)}, threshold=0.9)",
        "figures.publish('fig_dataset_intensities', '.', images=np.random.default_rng(0).random((4, 8, 8, 3)),\n"
        "                labels=np.array(['axial', 'coronal'] * 2))",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4]);",
    ]
    source, executed = tmp_path / "figures.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), source)
    monkeypatch.setenv("PYTHONPATH", str(config.PROJ_ROOT))  # the kernel imports this aecrypt
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as a kernel has it (pytest set Agg)
    papermill.execute_notebook(str(source), str(executed), kernel_name=kernel_name(), cwd=str(tmp_path), progress_bar=False)
    shown = [sum("image/png" in output.get("data", {}) for output in cell.outputs) for cell in nbformat.read(executed, 4).cells]
    assert shown == [0, 1, 1, 1]
    assert {p.name for p in tmp_path.glob("fig_*")} == {f"{n}.{s}" for n in ("fig_leakage", "fig_dataset_intensities") for s in ("png", "pdf")}


def test_the_report_redraws_a_committed_runs_slides(tmp_path):
    # the report of a committed profile's main run (report.write_slides): its own figures and each seed's, slides style
    from aecrypt.study.report import write_slides

    run = _saved_run(tmp_path / "run", names=["fig_time_breakdown"]) if (tmp_path / "run").mkdir() is None else None
    seed = _saved_run(run / "seed-0", names=["fig_aes_size_sweep"]) if (run / "seed-0").mkdir() is None else None
    (seed / "runs" / "02_train_autoencoder.json").write_text(json.dumps({"parameters": {"figure_style": "paper"}}))
    written = write_slides(run)
    assert {path.relative_to(run).as_posix() for path in written} >= {
        "slides/fig_time_breakdown.png", "slides/fig_time_breakdown.pdf", "seed-0/slides/fig_aes_size_sweep.png"}
