"""Quality metrics and cipher statistics against known values."""

import math

import numpy as np
import pytest

from aecrypt.method.metrics import (
    IDEAL_NPCR,
    IDEAL_UACI,
    adjacent_correlation,
    byte_chi_square,
    byte_entropy,
    global_ssim,
    ssim_and_foreground,
    image_quality,
    mse,
    npcr,
    npcr_critical,
    psnr,
    ssim,
    summarize_quality,
    uaci,
    uaci_critical_interval,
)


def test_identical_images(rng):
    image = rng.random((32, 32, 3))
    assert ssim(image, image) == pytest.approx(1.0)
    assert mse(image, image) == 0.0
    assert psnr(image, image) == math.inf


def test_known_mse_and_psnr():
    a = np.zeros((8, 8))
    b = np.full((8, 8), 0.1)
    assert mse(a, b) == pytest.approx(0.01)
    assert psnr(a, b) == pytest.approx(20.0)


def test_ssim_drops_with_noise(rng):
    image = rng.random((32, 32))
    noisy = np.clip(image + rng.normal(0, 0.3, image.shape), 0, 1)
    assert ssim(image, noisy) < 0.9


def test_global_ssim_is_equation_1_over_the_whole_image(rng):
    image = rng.random((16, 16))
    assert global_ssim(image, image) == pytest.approx(1.0)
    # Eq. 1 by hand, with one window over every pixel
    other = np.clip(image + 0.2, 0, 1)
    x, y = image.ravel(), other.ravel()
    c1, c2 = 0.01**2, 0.03**2
    cov = np.cov(x, y)[0, 1]
    expected = (2 * x.mean() * y.mean() + c1) * (2 * cov + c2) / ((x.mean() ** 2 + y.mean() ** 2 + c1) * (x.var(ddof=1) + y.var(ddof=1) + c2))
    assert global_ssim(image, other) == pytest.approx(expected)
    # shuffling pixels within a region keeps global statistics but destroys local structure
    shuffled = image.copy()
    shuffled[:8] = rng.permutation(shuffled[:8].ravel()).reshape(8, 16)
    assert ssim(image, shuffled) < global_ssim(image, shuffled)
    # colour: the mean over channels
    colour = rng.random((16, 16, 3))
    noisy = np.clip(colour + rng.normal(0, 0.1, colour.shape), 0, 1)
    per_channel = [global_ssim(colour[..., c], noisy[..., c]) for c in range(3)]
    assert global_ssim(colour, noisy) == pytest.approx(np.mean(per_channel))


def test_batch_summary(rng):
    originals = rng.random((4, 16, 16, 3))
    table = image_quality(originals, originals * 0.9)
    assert list(table.columns) == ["mse", "psnr", "ssim", "ssim_foreground", "ssim_global"] and len(table) == 4
    summary = summarize_quality(table)
    assert summary["mse_mean"] == pytest.approx(table["mse"].mean())
    assert summary["ssim_std"] >= 0


def test_entropy_of_uniform_and_constant_bytes(rng):
    assert byte_entropy(rng.integers(0, 256, 1_000_000, dtype=np.uint8)) == pytest.approx(8.0, abs=0.001)
    assert byte_entropy(np.zeros(100, np.uint8)) == 0.0


def test_chi_square_accepts_uniform_and_rejects_constant(rng):
    _, p_uniform = byte_chi_square(rng.integers(0, 256, 100_000, dtype=np.uint8))
    _, p_constant = byte_chi_square(np.full(100_000, 7, np.uint8))
    assert p_uniform > 0.001 and p_constant < 1e-10


def test_npcr_uaci_identical_inputs_are_zero(rng):
    c = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert npcr(c, c) == 0.0 and uaci(c, c) == 0.0


def test_npcr_uaci_of_independent_uniform_bytes_pass_the_published_test(rng):
    n = 256 * 256
    a = rng.integers(0, 256, n, dtype=np.uint8)
    b = rng.integers(0, 256, n, dtype=np.uint8)
    assert npcr(a, b) >= npcr_critical(n)
    low, high = uaci_critical_interval(n)
    assert low <= uaci(a, b) <= high


def test_critical_values_match_wu_et_al_table():
    # Wu, Noonan & Agaian (2011), 256x256 images, alpha = 0.05.
    assert npcr_critical(256 * 256) == pytest.approx(99.5693, abs=1e-4)
    low, high = uaci_critical_interval(256 * 256)
    assert low == pytest.approx(33.2824, abs=1e-4) and high == pytest.approx(33.6447, abs=1e-4)
    assert npcr_critical(10**9) == pytest.approx(IDEAL_NPCR, abs=1e-3)
    assert sum(uaci_critical_interval(10**9)) / 2 == pytest.approx(IDEAL_UACI, abs=1e-4)


def test_adjacent_correlation(rng):
    smooth = np.add.outer(np.arange(64.0), np.arange(64.0))
    assert adjacent_correlation(smooth, "horizontal") > 0.99
    noise = rng.random((64, 64))
    for direction in ("horizontal", "vertical", "diagonal"):
        assert abs(adjacent_correlation(noise, direction)) < 0.05
    with pytest.raises(ValueError):
        adjacent_correlation(noise, "sideways")


def test_foreground_ssim_looks_inside_the_body_only(rng):
    # a bright square (the body) on black; haze on the background alone leaves the body's SSIM at 1
    image = np.zeros((32, 32, 1))
    image[8:24, 8:24] = 0.5 + 0.4 * rng.random((16, 16, 1))
    hazy = image.copy()
    hazy[image < 0.05] = 0.04 * rng.random(int((image < 0.05).sum()))
    whole, body = ssim_and_foreground(image, hazy)
    assert body == pytest.approx(1.0, abs=0.02) and whole < 0.9
    assert np.isnan(ssim_and_foreground(np.zeros((16, 16, 1)), np.zeros((16, 16, 1)))[1])  # no body: not measured
