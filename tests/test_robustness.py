"""The classical denoising baselines behind Table 6."""

import numpy as np
import pytest

from aecrypt import noise, robustness


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
