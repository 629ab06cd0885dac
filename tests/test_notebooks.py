"""Every notebook runs end to end through papermill at smoke size, via the real batch runner."""

import pytest

from aecrypt.errors import ParameterError
from aecrypt.notebooks import notebook_paths
from aecrypt.profiles import PROFILES
from aecrypt.runner import check_overrides, notebook_parameters, run_study


@pytest.fixture
def study_dirs(tmp_path, monkeypatch):
    """Results, models and caches in a temporary folder, for this process and the kernels it starts."""
    import aecrypt.config as config

    for name, attr in (("AECRYPT_RESULTS_DIR", "RESULTS_DIR"), ("AECRYPT_MODELS_DIR", "MODELS_DIR"), ("AECRYPT_DATA_DIR", "DATA_DIR")):
        folder = tmp_path / name.lower()
        monkeypatch.setenv(name, str(folder))
        monkeypatch.setattr(config, attr, folder)
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "aecrypt_data_dir" / "processed")
    return tmp_path


@pytest.mark.notebooks
def test_smoke_study_runs_every_notebook(study_dirs):
    import aecrypt.config as config

    study = run_study("smoke")
    out = config.results_dir("smoke")
    assert list(study.seconds) == [p.stem for p in notebook_paths()]
    for name, path in study.executed.items():
        assert path.exists(), name
    report = (out / "REPORT.md").read_text()
    assert "table_reconstruction" in report and "fig5_training_loss.png" in report
    for stem in ("fig5_training_loss", "fig_reconstructions", "fig_dataset_samples"):
        assert (out / f"{stem}.png").exists() and (out / f"{stem}.pdf").exists()
    for stem in ("table_reconstruction", "table_dataset"):
        for suffix in ("csv", "md", "tex"):
            assert (out / f"{stem}.{suffix}").exists()
    assert (config.models_dir("smoke") / "main" / "encoder.keras").exists()
    assert (out / "runs" / "02_train_autoencoder.json").exists()
    # notebook 05: every method, with BM3D where it installs and the denoising variant
    import pandas as pd

    from aecrypt.robustness import bm3d_available

    methods = set(pd.read_csv(out / "table6_noise_robustness_all.csv")["method"])
    assert {"noisy input", "autoencoder pipeline", "median 3x3", "non-local means", "denoising autoencoder pipeline"} <= methods
    assert ("BM3D" in methods) == bm3d_available()
    # notebook 06: the security tables and figures
    for stem in ("table_cipher_statistics", "table_differential", "table_feature_similarity", "table_substitute_decoder"):
        assert (out / f"{stem}.csv").exists(), stem
    for stem in ("fig_cipher_bytes", "fig_byte_histograms", "fig_feature_views", "fig_substitute_decoder"):
        assert (out / f"{stem}.png").exists(), stem
    schemes = set(pd.read_csv(out / "table_differential.csv")["scheme"])
    assert {"gcm", "paper", "ecb"} <= schemes


def test_unknown_parameter_is_rejected_before_running(study_dirs):
    import aecrypt.config as config

    with pytest.raises(ParameterError, match="unknown parameter.*epohcs.*nothing was run") as info:
        run_study("smoke", overrides={"epohcs": 3})
    assert "02_train_autoencoder: " in str(info.value)  # lists what the notebooks take
    assert not (config.results_dir("smoke") / "executed" / "01_data_prep.ipynb").exists()


def _assigned_names(path):
    """Names assigned in a notebook's parameters cell, as Python itself parses it."""
    import ast

    import nbformat

    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    return {node.target.id for node in ast.parse(cell.source).body if isinstance(node, ast.AnnAssign)}


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_papermill_sees_every_parameter(path):
    # papermill's own parser skips lines it cannot read, which would hide a parameter
    # from the runner's unknown-name check; every line must be typed and readable.
    params = notebook_parameters(path)
    assert "profile" in params
    assert set(params) == _assigned_names(path)
    check_overrides([path], {name: None for name in params})


def test_profile_parameters_exist_in_some_notebook():
    declared = set().union(*(notebook_parameters(p) for p in notebook_paths()))
    used = {name for profile in PROFILES.values() for name in profile}
    # every profile key that a notebook takes is declared with the same name
    assert used & declared, "profiles and notebooks share no parameter names"


def test_unknown_profile_and_notebook():
    with pytest.raises(ParameterError, match="unknown profile"):
        run_study("huge")
    with pytest.raises(ParameterError, match="no notebook matches 99"):
        run_study("smoke", only=["99"])
