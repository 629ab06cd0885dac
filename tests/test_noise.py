"""Each noise kind changes the image, stays in range, and is reproducible from the seed."""

import numpy as np
import pytest

from aecrypt.noise import NOISE_MODES, add_noise, noise_parameters

KINDS = [k for k in NOISE_MODES if k != "none"]


@pytest.fixture
def images(rng):
    return rng.uniform(0.2, 0.8, size=(2, 16, 16, 3)).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_noise_changes_the_image_and_stays_in_range(images, kind):
    noisy = add_noise(images, kind, np.random.default_rng(0))
    assert noisy.shape == images.shape and noisy.dtype == np.float32
    assert not np.allclose(noisy, images)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_noise_is_reproducible_from_the_seed(images, kind):
    a = add_noise(images, kind, np.random.default_rng(7))
    b = add_noise(images, kind, np.random.default_rng(7))
    c = add_noise(images, kind, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_none_returns_the_image(images):
    assert np.array_equal(add_noise(images, "none", np.random.default_rng(0)), images)


def test_parameters_are_recorded_and_checked():
    assert noise_parameters("gaussian", var=0.05) == {"mean": 0.0, "var": 0.05}
    with pytest.raises(ValueError, match="takes"):
        noise_parameters("gaussian", amount=0.1)
    with pytest.raises(ValueError, match="noise kind"):
        noise_parameters("pink")


def test_strength_changes_the_amount_of_noise(images):
    weak = add_noise(images, "gaussian", np.random.default_rng(0), var=0.001)
    strong = add_noise(images, "gaussian", np.random.default_rng(0), var=0.1)
    assert np.abs(strong - images).mean() > np.abs(weak - images).mean()
