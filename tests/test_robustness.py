"""The classical denoising baselines behind Table 6."""

import numpy as np
import pandas as pd
import pytest

from aecrypt.method import noise
from aecrypt.experiments import robustness


@pytest.mark.slow
@pytest.mark.skipif(not robustness.bm3d_available(), reason="the optional bm3d package is not installed here")
def test_bm3d_in_parallel_gives_the_same_images_as_one_at_a_time():
    rng = np.random.default_rng(3)
    clean = np.zeros((3, 24, 24, 3), np.float32)
    clean[:, 6:18, 6:18] = 0.7
    clean[2, ..., 0] += 0.2  # one colour image among grey ones
    noisy = noise.add_noise(clean, "gaussian", rng, **noise.noise_parameters("gaussian"))
    serial = robustness.bm3d_baseline(noisy, workers=1)
    parallel = robustness.bm3d_baseline(noisy, workers=3)
    assert serial.shape == noisy.shape and serial.dtype == np.float32
    np.testing.assert_array_equal(parallel, serial)
    assert np.mean((serial - clean) ** 2) < np.mean((noisy - clean) ** 2) / 2  # it does denoise
    assert robustness.bm3d_baseline(noisy[:0]).shape[0] == 0


def _noisy_square(kind="gaussian", **params):
    """A grey square on black, three equal channels, with noise; and the clean images."""
    clean = np.zeros((2, 24, 24, 3), np.float32)
    clean[:, 6:18, 6:18] = 0.6
    return clean, noise.add_noise(clean, kind, np.random.default_rng(1), **noise.noise_parameters(kind, **params))


def test_non_local_means_takes_an_oracle_sigma_and_leaves_clean_images_alone():
    clean, noisy = _noisy_square(var=0.01)
    oracle = robustness.nl_means_baseline(noisy, sigmas=np.full(2, 0.1))
    assert oracle.shape == noisy.shape and not np.array_equal(oracle, robustness.nl_means_baseline(noisy))
    assert np.mean((oracle - clean) ** 2) < np.mean((noisy - clean) ** 2)
    np.testing.assert_array_equal(robustness.nl_means_baseline(noisy, sigmas=np.zeros(2)), noisy)


def test_non_local_means_in_threads_gives_the_same_images_as_one_at_a_time():
    rng = np.random.default_rng(4)
    clean = np.zeros((5, 24, 24, 3), np.float32)
    clean[:, 6:18, 6:18] = 0.6
    clean[3, ..., 1] += 0.3  # one colour image among grey ones
    noisy = noise.add_noise(clean, "gaussian", rng, **noise.noise_parameters("gaussian", var=0.01))
    sigmas = np.array([0.1, 0.0, 0.1, 0.05, 0.1])
    for given in (None, sigmas):
        serial = robustness.nl_means_baseline(noisy, given, workers=1)
        assert serial.dtype == np.float32 and serial.shape == noisy.shape
        np.testing.assert_array_equal(robustness.nl_means_baseline(noisy, given, workers=3), serial)
    np.testing.assert_array_equal(robustness.nl_means_baseline(noisy, sigmas)[1], noisy[1])  # sigma 0: untouched
    assert robustness.nl_means_baseline(noisy[:0]).shape[0] == 0


def test_noise_table_gives_oracles_the_true_sigma_and_names_the_bm3d_subset():
    clean, _ = _noisy_square()
    seen = {}

    def spy(images, sigmas):
        seen["sigmas"] = sigmas
        return images

    baselines = {"median 3x3": robustness.median_baseline, "spy": robustness.Oracle(spy, 1)}
    long, _ = robustness.noise_table(clean, lambda x: x, ["gaussian"], seed=0, baselines=baselines, params={"gaussian": {"var": 0.04}})
    np.testing.assert_allclose(seen["sigmas"], [0.2])  # sqrt(var), first image only
    rows = long.set_index("method")
    assert rows.loc["spy", "images"] == 1 and rows.loc["median 3x3", "images"] == 2
    assert rows.loc["noisy input", "parameters"] == "mean=0, var=0.04"
    names = list(robustness.bm3d_methods(12))
    assert names == ["BM3D (estimated sigma, first 12 images)", "BM3D (oracle sigma, first 12 images)"]
    assert robustness.bm3d_name("oracle", 1) == "BM3D (oracle sigma, first image only)"
    assert {robustness.NLM_ESTIMATED, robustness.NLM_ORACLE} <= set(robustness.BASELINES)


def test_matched_table6_states_parameters_targets_and_unreachable_kinds():
    clean, _ = _noisy_square()
    calibration = noise.calibrate(clean, {"gaussian": 0.5, "speckle": 0.06}, seed=0)
    matched = noise.matched_parameters(calibration)
    long, _ = robustness.noise_table(clean, lambda x: x, list(matched), seed=0, baselines={}, params=matched)
    assert set(long["noise"]) == {"gaussian"}  # speckle has no matched level, so it is not measured
    table = robustness.matched_table6(long, calibration, "test")
    assert table["noise"].tolist() == ["speckle", "gaussian"] and (table["data"] == "test").all()
    assert list(table.columns[:4]) == ["data", "noise", "parameters", "images"]  # Table 6's layout, parameters stated
    table = table.set_index("noise")
    assert table.loc["gaussian", "target_ssim_noisy"] == 0.5 and table.loc["gaussian", "calibration"].startswith("reached")
    assert abs(table.loc["gaussian", "ssim_noisy"] - 0.5) < 0.05
    assert table.loc["speckle", "calibration"].startswith("unreachable") and pd.isna(table.loc["speckle", "ssim_pipeline"])
    assert table.loc["speckle", "paper_ssim_noisy"] == 0.06 and table.loc["speckle", "parameters"] == "none matches"
    lines = robustness.findings(robustness.matched_table6(long, calibration, "test"), long, "test")
    assert lines[0].startswith("test, speckle: not measured (unreachable") and lines[1].startswith("test, gaussian: SSIM noisy")
    assert table.loc["gaussian", "parameters"].startswith("mean=0, var=")
    assert robustness.paper_noisy_ssim() == {"salt_pepper": 0.93, "speckle": 0.06, "poisson": 0.79, "gaussian": 0.13}


@pytest.mark.skipif(not robustness.bm3d_available(), reason="the optional bm3d package is not installed here")
def test_bm3d_takes_an_oracle_sigma():
    clean, noisy = _noisy_square(var=0.01)
    oracle = robustness.bm3d_baseline(noisy, sigmas=np.full(2, 0.1))
    assert np.mean((oracle - clean) ** 2) < np.mean((noisy - clean) ** 2) / 2
    np.testing.assert_array_equal(robustness.bm3d_baseline(noisy, sigmas=np.zeros(2)), noisy)
