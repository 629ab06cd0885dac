"""Every notebook runs end to end through papermill at smoke size, via the real workflow
(``aecrypt reproduce``, one smoke study per session: conftest's ``smoke_project``); the
model's manifest fixes every notebook's data; every parameter is checked before any work."""

import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aecrypt.config as config
from aecrypt.errors import ParameterError
from aecrypt.method.noise import NOISE_KINDS
from aecrypt.study.notebooks import notebook_paths
from aecrypt.study.profiles import PROFILES
from aecrypt.study.job import kernel_name
from aecrypt.study.parameters import declared_parameters as notebook_parameters
from aecrypt.study.workflow import reproduce as run_study

ENV_DIRS = (("AECRYPT_RESULTS_DIR", "RESULTS_DIR"), ("AECRYPT_MODELS_DIR", "MODELS_DIR"), ("AECRYPT_DATA_DIR", "DATA_DIR"))


@contextmanager
def study_dirs(root: Path, folders: dict[str, Path] | None = None):
    """Results, models and caches under ``root`` (or in ``folders``, by variable), for this
    process and the kernels it starts."""
    saved_env = {name: os.environ.get(name) for name, _ in ENV_DIRS}
    saved = {attr: getattr(config, attr) for _, attr in ENV_DIRS} | {"PROCESSED_DIR": config.PROCESSED_DIR}
    for name, attr in ENV_DIRS:
        folder = (folders or {}).get(name, root / name.lower())
        os.environ[name] = str(folder)
        setattr(config, attr, folder)
    config.PROCESSED_DIR = config.DATA_DIR / "processed"
    try:
        yield root
    finally:
        for name, value in saved_env.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        for attr, value in saved.items():
            setattr(config, attr, value)


def results_of(root: Path, profile: str = "smoke") -> Path:
    """A run's results in a project (``smoke_project``) or under ``study_dirs``."""
    return (root / "results" if (root / "results").is_dir() else root / "aecrypt_results_dir") / profile


def executed_copy(out: Path, path: Path) -> Path:
    """Where a notebook's executed copy lies: 01 in the run's folder, the rest in seed-0/."""
    return (out if path.name.startswith("01_") else out / "seed-0") / "executed" / path.name


@pytest.fixture
def smoke_study(smoke_project):
    """The session's smoke study (two seeds) and what ``aecrypt reproduce`` printed."""
    return smoke_project


@pytest.mark.notebooks
def test_smoke_study_runs_every_notebook(smoke_study):
    root, _ = smoke_study
    top = results_of(root)
    out = top / "seed-0"  # the first training seed's outputs; the data's (notebook 01) in the run's folder
    expected = {p.stem if p.name.startswith("01_") else f"{p.stem} (seed 0)" for p in notebook_paths()}
    expected |= {f"{name} (seed 1)" for name in PROFILES["smoke"]["partial_notebooks"]}
    assert set(json.loads((top / "runs" / "study.json").read_text())["seconds"]) == expected
    for path in notebook_paths():
        assert executed_copy(top, path).exists(), path.name
    report = (top / "REPORT.md").read_text()
    assert "table_reconstruction" in report and "fig5_training_loss.png" in report
    assert "only check the plumbing" in report  # the smoke banner
    assert "epochs ran" in report
    for folder, stem in ((out, "fig5_training_loss"), (out, "fig_reconstructions"), (top, "fig_dataset_samples"), (top, "fig_leakage")):
        assert (folder / f"{stem}.png").exists() and (folder / f"{stem}.pdf").exists()
    for folder, stem in ((out, "table_reconstruction"), (top, "table_dataset"), (top, "table_leakage_by_gap"), (out, "table_training")):
        for suffix in ("csv", "md", "tex"):
            assert (folder / f"{stem}.{suffix}").exists()
    models = root / "models" / "smoke" / "main" / "seed-0"
    assert (models / "encoder.keras").exists() and (models / "manifest.json").exists()
    recon = pd.read_csv(out / "table_reconstruction.csv")
    assert {"test", "training", "other heads (OOD)", "other body parts (OOD)"} <= set(recon["images"])
    # notebook 05: every method, with BM3D where it installs and the denoising variant, for both image sets
    from aecrypt.experiments.robustness import bm3d_available

    long = pd.read_csv(out / "table6_noise_robustness_all.csv")
    from aecrypt.experiments.robustness import NLM_ESTIMATED, NLM_ORACLE, bm3d_methods

    methods = set(long["method"])
    assert {"noisy input", "autoencoder pipeline", "median 3x3", NLM_ESTIMATED, NLM_ORACLE, "denoising autoencoder pipeline"} <= methods
    assert (set(bm3d_methods(2)) <= methods) == bm3d_available()  # the smoke profile's bm3d_images, named in the method
    assert set(pd.read_csv(out / "table6_noise_robustness.csv")["data"]) == {"test", "other people's scans (OOD)"}
    poisson = long[(long["noise"] == "poisson") & (long["method"] == "noisy input")]
    assert (poisson["ssim_mean"] < 0.999).all() and (poisson["parameters"] == "peak=256").all()  # Poisson degrades now
    matched = pd.read_csv(out / "table6_matched.csv")
    assert set(matched["noise"]) == set(NOISE_KINDS) - {"none"} and matched["calibration"].notna().all()
    # notebook 06: the security tables and figures
    for stem in ("table_cipher_statistics", "table_differential", "table_feature_similarity", "table_substitute_decoder",
                 "table_attack_curve"):
        assert (out / f"{stem}.csv").exists(), stem
    curve = pd.read_csv(out / "table_attack_curve.csv")
    assert curve["attacker_images"].iloc[-1] == "all" and curve["trained_on"].is_monotonic_increasing
    assert (curve["epochs"] == pd.read_csv(out / "table_training.csv")["epochs_run"].iloc[0]).all()  # the owner's epochs
    assert {"gcm", "paper", "ecb"} <= set(pd.read_csv(out / "table_differential.csv")["scheme"])


@pytest.mark.notebooks
def test_the_terminal_shows_live_progress_and_no_kernel_noise(smoke_study):
    _, done = smoke_study
    assert "training, epoch 1/1: loss" in done.stdout  # notebook 02's training, live, not only in the notebook
    assert "gaussian noise:" in done.stdout  # notebook 05's Table 6, kind by kind
    for noise in ("IPKernelApp", "KeyboardInterrupt", "without encryption", "tensorflow", "oneDNN", "absl", "Traceback"):
        assert noise not in done.stdout + done.stderr, noise
    assert done.stderr == ""


@pytest.mark.notebooks
def test_executed_copies_are_clean_enough_to_commit(smoke_study):
    import nbformat

    root, _ = smoke_study
    for path in notebook_paths():
        nb = nbformat.read(executed_copy(results_of(root), path), as_version=4)
        outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
        assert not [o for o in outputs if o.get("name") == "stderr"], path.name
        text = json.dumps(outputs)
        assert "\\u001b[" not in text and "PosixPath(" not in text, path.name
        assert "WARNING:tensorflow" not in text and "retracing" not in text, path.name  # library warnings go to the log
        for cell in (c for c in nb.cells if c.cell_type == "code"):  # issue 31: every published figure shown in its cell
            shown = sum("image/png" in o.get("data", {}) for o in cell.outputs)
            figures = cell.source.count("figures.publish(") + cell.source.count("explore.show(")  # an explorer: its default state
            assert shown == figures, f"{path.name}: {cell.source[:60]!r} shows {shown} image(s)"
            assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs), path.name
    assert (results_of(root) / "seed-0" / "executed" / "02_train_autoencoder.stderr.log").is_file()


@pytest.mark.notebooks
def test_figures_command_redraws_every_figure_byte_for_byte_from_saved_data(smoke_study, tmp_path):
    # A copy of the smoke run without its figures: ``aecrypt figures`` draws every one again
    # from the tables and figure_data/ alone, identical to what the notebooks saved.
    import shutil

    from aecrypt.cli.main import main

    root, _ = smoke_study
    copy = shutil.copytree(results_of(root), config.RESULTS_DIR / "smoke", ignore=shutil.ignore_patterns("executed"))
    drawn = {path.relative_to(copy): path.read_bytes() for path in copy.rglob("fig*.*") if path.suffix in (".png", ".pdf")}
    assert len(drawn) >= 2 * 19, sorted(drawn)
    for name in drawn:
        (copy / name).unlink()
    assert main(["figures", "--profile", "smoke"]) == 0
    redrawn = {path.relative_to(copy): path.read_bytes() for path in copy.rglob("fig*.*") if path.suffix in (".png", ".pdf")}
    assert sorted(redrawn) == sorted(drawn)
    assert [str(name) for name in drawn if redrawn[name] != drawn[name]] == []


@pytest.mark.notebooks
def test_data_parameters_that_contradict_the_manifest_fail_first(smoke_study, smoke_data, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    root, _ = smoke_study
    path = config.NOTEBOOKS_DIR / "05_noise_robustness.ipynb"
    with study_dirs(tmp_path, {"AECRYPT_MODELS_DIR": root / "models", "AECRYPT_DATA_DIR": smoke_data}), \
            pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters={"profile": "smoke", "image_size": 48},
                                   kernel_name=kernel_name(), progress_bar=False, cwd=str(path.parent))
    assert info.value.ename == "ManifestMismatchError"
    assert "image_size=48" in info.value.evalue and "manifest has 32" in info.value.evalue


def _fundus_folder(root: Path, rng: np.random.Generator) -> Path:
    """A small labelled folder of photographs with black borders, as Messidor-2 has."""
    from PIL import Image

    for grade in range(3):
        for index in range(8):
            image = np.zeros((40, 48, 3), np.uint8)
            image[4:36, 8:40] = rng.integers(40, 255, (32, 32, 3), dtype=np.uint8)
            (root / str(grade)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / str(grade) / f"eye_{index}.png")
    return root


@pytest.mark.notebooks
def test_readme_folder_example_uses_one_split_in_every_notebook(tmp_path, rng):
    # README: aecrypt reproduce --dataset folder --data-dir ... -p per_class 5 -p fundus_crop True
    folder = _fundus_folder(tmp_path / "photos", rng)
    with study_dirs(tmp_path / "study"):
        run_study("smoke", only=["02", "03"], overrides={"dataset": "folder", "data_dir": str(folder), "per_class": 5, "fundus_crop": True})
    runs = results_of(tmp_path / "study") / "seed-0" / "runs"
    trained, tested = (json.loads((runs / f"{name}.json").read_text()) for name in ("02_train_autoencoder", "03_encrypt_decrypt"))
    assert trained["data"]["test_hash"] == tested["data"]["test_hash"]
    assert trained["data"]["train_hash"] == tested["data"]["train_hash"]
    assert tested["parameters"]["per_class"] == 5 and tested["parameters"]["fundus_crop"] is True
    assert trained["data"]["train"] + trained["data"]["validation"] + trained["data"]["test"] == 15


@pytest.mark.notebooks
def test_a_folder_of_dicom_series_runs_through_notebooks_01_and_02_split_by_patient(tmp_path, scan_folder):
    from pydicom import dcmread

    from aecrypt.data.loader import load_dataset
    from aecrypt.study.runs import MANIFEST_FILE, model_folder

    with study_dirs(tmp_path / "study"):
        run_study("smoke", only=["01", "02"], overrides={"dataset": "folder", "data_dir": str(scan_folder)})
        manifest = json.loads((model_folder("smoke") / MANIFEST_FILE).read_text())
        split = load_dataset(**manifest["data_parameters"])  # the split the model was trained on, from the cache
    top = results_of(tmp_path / "study")
    assert "Split by patient, never by slice: 3 patients" in (top / "executed" / "01_data_prep.ipynb").read_text()
    assert (top / "seed-0" / "executed" / "02_train_autoencoder.ipynb").is_file()

    def patient(name: str) -> str:  # the Patient ID in the file itself, not the study's record of it
        return dcmread(scan_folder / name.split("#")[0], stop_before_pixels=True).PatientID

    sides = {role: {patient(name) for name in names} for role, names in
             (("train", split.names_train), ("validation", split.names_val), ("test", manifest["data"]["test_images"]))}
    assert sorted(manifest["data"]["test_images"]) == sorted(split.names_test)
    assert all(sides.values()) and not (sides["train"] & sides["test"] or sides["train"] & sides["validation"]
                                        or sides["validation"] & sides["test"]), sides
    by_patient = pd.read_csv(top / "table_split_by_patient.csv")
    assert len(by_patient) == 3 and not by_patient["roles"].str.contains(",").any()
    per_image = pd.read_csv(top / "table_leakage_per_image.csv")
    assert len(per_image) == len(split.names_test)
    assert all(patient(test) != patient(nearest) for test, nearest in zip(per_image["test_image"], per_image["nearest_training_image"]))


@pytest.mark.parametrize("value, expected", [("abc", "must be an integer"), (-32, "between 8 and 4096"), (0, "between 8 and 4096"), (True, "must be an integer")])
def test_bad_parameter_values_are_rejected_before_running(tmp_path, value, expected):
    with study_dirs(tmp_path), pytest.raises(ParameterError, match=f"{expected}.*nothing was run"):
        run_study("smoke", overrides={"image_size": value})
    assert not (results_of(tmp_path) / "executed").exists()


def test_unknown_parameter_is_rejected_before_running(tmp_path):
    with study_dirs(tmp_path), pytest.raises(ParameterError, match="unknown parameter.*epohcs.*nothing was run") as info:
        run_study("smoke", overrides={"epohcs": 3})
    assert "02_train_autoencoder: " in str(info.value)  # lists what the notebooks take
    assert not (results_of(tmp_path) / "executed").exists()


@pytest.mark.parametrize("only", [[""], [","], ["0"], ["7"], ["1"]])
def test_empty_or_unknown_selections_are_rejected(only):
    with pytest.raises(ParameterError, match="names no notebook|no notebook matches"):
        run_study("smoke", only=[item for chunk in only for item in chunk.split(",")])


def test_seeds_must_be_distinct_and_alone():
    with pytest.raises(ParameterError, match="distinct"):
        run_study("smoke", seeds=[1, 1])
    with pytest.raises(ParameterError, match="with --seeds"):
        run_study("smoke", seeds=[0, 1], overrides={"seed": 3})


def _assigned_names(path):
    """Names assigned in a notebook's parameters cell, as Python itself parses it."""
    import ast

    import nbformat

    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    return {node.target.id for node in ast.parse(cell.source).body if isinstance(node, ast.AnnAssign)}


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_papermill_sees_every_parameter(path):
    # papermill's own parser skips lines it cannot read, which would hide a parameter
    # from the runner's checks; every line must be typed and readable.
    params = notebook_parameters(path)
    assert {"profile", "publish"} <= set(params)
    assert set(params) == _assigned_names(path)


def test_defaults_in_parameters_cells_are_the_package_constants():
    from aecrypt.data.splits import DEFAULT_GUARD_MM, DEFAULT_TEST_FRACTION, DEFAULT_VALIDATION_FRACTION

    for name in ("01_data_prep", "02_train_autoencoder"):
        params = notebook_parameters(config.NOTEBOOKS_DIR / f"{name}.ipynb")
        assert float(params["guard_mm"]["default"]) == DEFAULT_GUARD_MM
        assert float(params["test_fraction"]["default"]) == DEFAULT_TEST_FRACTION
        assert float(params["validation_fraction"]["default"]) == DEFAULT_VALIDATION_FRACTION


def test_one_name_one_meaning():
    # a name declared by several notebooks has one type everywhere (notebook 04's inference
    # batch is inference_batch, not the training batch_size)
    types: dict[str, set[str]] = {}
    for path in notebook_paths():
        for name, info in notebook_parameters(path).items():
            types.setdefault(name, set()).add(info["inferred_type_name"].removeprefix("Optional[").rstrip("]"))
    assert {name: t for name, t in types.items() if len(t) > 1} == {}
    assert "batch_size" not in notebook_parameters(config.NOTEBOOKS_DIR / "04_timing.ipynb")


def test_profiles_fix_the_work_not_the_time():
    declared = set().union(*(notebook_parameters(p) for p in notebook_paths()))
    from aecrypt.study.profiles import RUNNER_KEYS

    for name, profile in PROFILES.items():
        assert set(profile) - set(RUNNER_KEYS) <= declared, name
        assert "time_budget_minutes" not in profile and profile["precision"] == "float32"


def test_unknown_profile_and_notebook():
    with pytest.raises(ParameterError, match="unknown profile"):
        run_study("huge")
    with pytest.raises(ParameterError, match="no notebook matches 99"):
        run_study("smoke", only=["99"])


@pytest.mark.notebooks
def test_notebook_03_by_hand_runs_on_the_committed_model_and_leaves_git_clean(tmp_path):
    # A fresh clone holds the default run's model: notebook 03 runs at the default profile
    # with no training; run by hand, it writes into results/scratch/ and leaves the tree clean.
    import papermill

    from aecrypt.study.runs import MANIFEST_FILE

    def status() -> str:
        return subprocess.run(["git", "status", "--porcelain"], cwd=config.PROJ_ROOT, capture_output=True, text=True).stdout

    committed = config.COMMITTED_MODEL_DIR  # the repository's (the tests point MODELS_DIR elsewhere)
    tracked = subprocess.run(["git", "ls-files", str(committed)], cwd=config.PROJ_ROOT, capture_output=True, text=True).stdout.split()
    assert {Path(name).name for name in tracked} >= {"encoder.keras", "decoder.keras", MANIFEST_FILE}
    before = status()
    path = config.NOTEBOOKS_DIR / "03_encrypt_decrypt.ipynb"
    nb = papermill.execute_notebook(str(path), str(tmp_path / "03.ipynb"), parameters={"profile": "default"},
                                    kernel_name=kernel_name(), progress_bar=False, cwd=str(path.parent))
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "Model: models/default/main" in text
    assert "Ad-hoc run: outputs go to results/scratch/default" in text
    assert status() == before
