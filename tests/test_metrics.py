"""Quality metrics against known values."""

import math

import numpy as np
import pytest

from aecrypt.method.metrics import global_ssim, image_quality, ms_ssim, ms_ssim_scales, mse, psnr, ssim, ssim_and_foreground, summarize_quality


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


def test_foreground_ssim_looks_inside_the_body_only(rng):
    # a bright square (the body) on black; haze on the background alone leaves the body's SSIM at 1
    image = np.zeros((32, 32, 1))
    image[8:24, 8:24] = 0.5 + 0.4 * rng.random((16, 16, 1))
    hazy = image.copy()
    hazy[image < 0.05] = 0.04 * rng.random(int((image < 0.05).sum()))
    whole, body = ssim_and_foreground(image, hazy)
    assert body == pytest.approx(1.0, abs=0.02) and whole < 0.9
    assert np.isnan(ssim_and_foreground(np.zeros((16, 16, 1)), np.zeros((16, 16, 1)))[1])  # no body: not measured


def test_ms_ssim_scales_fit_the_11_pixel_window():
    assert [ms_ssim_scales(side) for side in (16, 21, 22, 32, 96, 176, 224, 512)] == [1, 1, 2, 2, 4, 5, 5, 5]


def test_ms_ssim_at_one_scale_is_gaussian_ssim(rng):
    from skimage.metrics import structural_similarity

    for shape in ((20, 20), (16, 21, 3)):
        image = rng.random(shape)
        other = np.clip(image + rng.normal(0, 0.1, shape), 0, 1)
        expected = structural_similarity(image, other, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         channel_axis=-1 if len(shape) == 3 else None)
        assert ms_ssim(image, other) == pytest.approx(expected, rel=1e-12)


def test_ms_ssim_at_five_scales_matches_tensorflow(rng):
    import tensorflow as tf

    smooth = rng.random((192, 192)).astype(np.float32)
    smooth = (smooth + np.roll(smooth, 1, 0) + np.roll(smooth, 1, 1)) / 3
    other = np.clip(smooth + rng.normal(0, 0.05, smooth.shape), 0, 1)
    expected = float(tf.image.ssim_multiscale(smooth[None, ..., None].astype(np.float32), other[None, ..., None].astype(np.float32), 1.0)[0])
    assert ms_ssim(smooth, other) == pytest.approx(expected, abs=1e-5)  # TensorFlow computes in float32
    assert ms_ssim(smooth, smooth) == pytest.approx(1.0) and ms_ssim(smooth, other) < 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        ms_ssim(smooth, other[:-1])


def test_keras_accuracy_counts_pixels_whose_largest_channel_matches():
    from aecrypt.method.metrics import keras_accuracy

    y = np.zeros((1, 2, 2, 3), np.float32)
    y[..., 0] = 1.0
    p = y.copy()
    p[0, 0, 0] = [0.0, 1.0, 0.0]  # one of four pixels' largest channel moves
    assert keras_accuracy(y, p) == pytest.approx(0.75)
