"""Table builders, verdicts and parameter checks that the notebooks call: each on hand-made inputs."""

import numpy as np
import pandas as pd
import pytest

from aecrypt.errors import ManifestMismatchError, ParameterError
from aecrypt.method.metrics import reconstruction_findings, reconstruction_table
from aecrypt.method.noise import SWEEP_RANGES, sweep_strengths
from aecrypt.study.parameters import check_value, check_values
from aecrypt.experiments.robustness import NOISY, PIPELINE, best_methods, findings, table6
from aecrypt.study.runs import MANIFEST_FILE, manifest_data, model_folder, model_source, output_folder


def _long(ssim_noisy: float, ssim_pipeline: float, kinds=("none", "gaussian")) -> pd.DataFrame:
    rows = []
    for kind in kinds:
        for method, ssim in ((NOISY, ssim_noisy), (PIPELINE, ssim_pipeline), ("median 3x3", 0.5)):
            rows.append({"noise": kind, "parameters": f"{kind} parameters", "method": method, "images": 4, "ssim_mean": ssim,
                         "mse_mean": 1 - ssim})
    return pd.DataFrame(rows)


def test_table6_puts_each_image_set_beside_the_papers_numbers():
    table = table6({"test": _long(0.2, 0.9), "other": _long(0.3, 0.4)})
    assert list(table["data"]) == ["test", "test", "other", "other"]
    row = table[(table["data"] == "test") & (table["noise"] == "gaussian")].iloc[0]
    assert (row["ssim_noisy"], row["ssim_pipeline"], row["images"]) == (0.2, 0.9, 4)
    assert row["parameters"] == "gaussian parameters"  # each table states its noise parameters
    assert row["paper_ssim_noisy"] == 0.13 and row["paper_ssim_pipeline"] == 0.41  # Table 6 as printed
    assert table[table["noise"] == "none"]["paper_ssim_pipeline"].iloc[0] == 0.9528
    assert "global_ssim_noisy" not in table  # only when the long table has it


def test_table6_gives_the_global_ssim_beside_the_windowed_one():
    long = _long(0.2, 0.9)
    long["ssim_global_mean"] = long["ssim_mean"] + 0.05
    row = table6({"test": long}).set_index("noise").loc["gaussian"]
    assert (row["global_ssim_noisy"], row["global_ssim_pipeline"]) == pytest.approx((0.25, 0.95))


def test_noise_findings_say_better_or_worse_and_the_best_method():
    long = _long(0.2, 0.9)
    better = findings(table6({"test": long}), long, "test")
    assert len(better) == 1 and "better by 0.700" in better[0] and f"ssim: {PIPELINE}" in better[0]
    assert "lowers MSE" in better[0] and "all metrics agree" in better[0]
    long = _long(0.6, 0.1)
    worse = findings(table6({"test": long}), long, "test")
    assert "worse by 0.500" in worse[0] and f"ssim: {NOISY}" in worse[0] and "RAISES MSE" in worse[0]


def test_best_method_is_decided_per_metric_and_disagreement_is_said():
    # by SSIM the pipeline wins, by MSE a median filter: as on the MRI's black background
    long = pd.DataFrame([
        {"noise": "gaussian", "parameters": "p", "method": NOISY, "images": 4, "ssim_mean": 0.2, "mse_mean": 0.010, "psnr_mean": 20.0},
        {"noise": "gaussian", "parameters": "p", "method": PIPELINE, "images": 4, "ssim_mean": 0.9, "mse_mean": 0.008, "psnr_mean": 21.0},
        {"noise": "gaussian", "parameters": "p", "method": "median 3x3", "images": 4, "ssim_mean": 0.5, "mse_mean": 0.004, "psnr_mean": 24.0},
        {"noise": "gaussian", "parameters": "p", "method": "BM3D (2 images)", "images": 2, "ssim_mean": 0.99, "mse_mean": 0.001, "psnr_mean": 30.0},
    ])
    best = best_methods(long).set_index("metric")["best_method"]
    assert best.to_dict() == {"ssim": PIPELINE, "mse": "median 3x3", "psnr": "median 3x3"}  # BM3D ran on a subset only
    line = findings(table6({"test": long}), long, "test")[0]
    assert "the metrics disagree" in line and "lowers MSE" in line


def test_sweep_strengths_span_each_range():
    strengths = sweep_strengths(4)
    assert set(strengths) == set(SWEEP_RANGES)
    for kind, (low, high) in SWEEP_RANGES.items():
        assert len(strengths[kind]) == 4 and strengths[kind][0] == pytest.approx(low) and strengths[kind][-1] == pytest.approx(high)
    with pytest.raises(ParameterError):
        sweep_strengths(1)


def test_reconstruction_table_and_findings(rng):
    clean = rng.random((3, 16, 16, 3)).astype(np.float32)
    table = reconstruction_table({"test": (clean, clean), "guard (1 to 4 mm)": (clean, np.clip(clean + 0.1, 0, 1)),
                                  "empty": (clean[:0], clean[:0]), "other heads (OOD)": (clean, clean * 0.5)})
    assert list(table["images"]) == ["test", "guard (1 to 4 mm)", "other heads (OOD)"]  # empty sets left out
    test = table.set_index("images").loc["test"]
    assert test["ssim"] == pytest.approx(1.0) and test["mse"] == 0 and test["count"] == 3
    lines = reconstruction_findings(table, 0.9528)
    assert "the paper reports SSIM 0.9528 on other images" in lines[0] and "meets" not in lines[0]
    assert any(line.startswith("Neighbours of training slices") and "-0." in line for line in lines)
    assert any(line.startswith("other heads (OOD)") for line in lines)


def test_reconstruction_table_reconstructs_a_few_images_at_a_time(rng):
    # a set kept on disk is reconstructed and measured in chunks; the rows match the whole-array form
    clean = rng.random((7, 16, 16, 3)).astype(np.float32)
    seen = []

    def darken(images):
        seen.append(len(images))
        return images * 0.8

    whole = reconstruction_table({"test": (clean, clean * 0.8)})
    chunked = reconstruction_table({"test": clean}, darken, chunk=3)
    assert seen == [3, 3, 1]
    pd.testing.assert_frame_equal(chunked, whole, rtol=1e-12)


@pytest.mark.parametrize("name, value, type_name, expected", [
    ("image_size", 64, "Optional[int]", 64), ("image_size", None, "Optional[int]", None),
    ("guard_mm", 2, "float", 2.0), ("split", "random", "Optional[str]", "random"), ("fundus_crop", True, "bool", True),
])
def test_check_value_accepts_and_converts(name, value, type_name, expected):
    assert check_value(name, value, type_name) == expected


@pytest.mark.parametrize("name, value, type_name, message", [
    ("image_size", "abc", "Optional[int]", "must be an integer"), ("image_size", 2.5, "Optional[int]", "must be an integer"),
    ("epochs", 0, "Optional[int]", "at least 1"), ("test_fraction", 1.0, "float", "between 0 and 1"),
    ("split", "slices", "Optional[str]", "one of slabs, random"), ("seed", None, "int", "needs a value"),
    ("fundus_crop", 1, "bool", "True or False"),
])
def test_check_value_refuses_with_the_expected_type(name, value, type_name, message):
    with pytest.raises(ParameterError, match=message):
        check_value(name, value, type_name)


def test_check_values_names_unknown_parameters():
    with pytest.raises(ParameterError, match="unknown parameter.*imgsize"):
        check_values({"imgsize": 3}, {"image_size": {"inferred_type_name": "int"}})


def test_manifest_fills_data_parameters_and_refuses_contradictions():
    manifest = {"data_parameters": {"dataset": "mni152", "image_size": 96, "seed": 0, "max_images": None}}
    filled = manifest_data(manifest, {"image_size": 96}, ["dataset", "image_size", "seed", "max_images"])
    assert filled == {"dataset": "mni152", "image_size": 96, "seed": 0, "max_images": None}
    with pytest.raises(ManifestMismatchError, match=r"image_size=64 \(the model's manifest has 96\); seed=1"):
        manifest_data(manifest, {"image_size": 64, "seed": 1}, ["image_size", "seed"])


def test_ad_hoc_runs_write_to_scratch():
    assert output_folder("default", "main", publish=True).parts[-1] == "default"
    assert output_folder("default", "main", publish=True, seed=1).parts[-2:] == ("default", "seed-1")
    assert output_folder("default", "wide", publish=True, seed=0).parts[-3:] == ("default", "wide", "seed-0")
    assert output_folder("default", "main", publish=False).parts[-2:] == ("scratch", "default")


def test_training_by_hand_never_replaces_a_published_model(tmp_path, monkeypatch):
    import aecrypt.config as config

    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    published, scratch = tmp_path / "default" / "main" / "seed-0", tmp_path / "scratch" / "default" / "main" / "seed-0"
    assert model_folder("default", "main") == published
    assert model_folder("default", "main", seed=2) == published.parent / "seed-2"
    assert model_source("02_train_autoencoder", "default", "main", True, 0) == published
    assert model_source("02_train_autoencoder", "default", "main", False, 0) == scratch
    # by hand, the other notebooks use the committed model until a hand-trained one exists
    assert model_source("03_encrypt_decrypt", "default", "main", False, 0) == published
    scratch.mkdir(parents=True)
    (scratch / MANIFEST_FILE).write_text("{}")
    assert model_source("03_encrypt_decrypt", "default", "main", False, 0) == scratch
    assert model_source("03_encrypt_decrypt", "default", "main", True, 0) == published


def test_a_model_from_before_split_seed_keeps_its_split():
    # its manifest has no split_seed: its seed drew the split, so that seed is the split seed
    manifest = {"data_parameters": {"dataset": "mni152", "seed": 2}}
    assert manifest_data(manifest, {}, ["dataset", "split_seed"]) == {"dataset": "mni152", "split_seed": 2}
    assert manifest_data({"data_parameters": {"split_seed": 1, "seed": 2}}, {}, ["split_seed"]) == {"split_seed": 1}
