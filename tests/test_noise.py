"""Each noise kind changes the image, stays in range, and is reproducible from the seed."""

import numpy as np
import pytest

from aecrypt.errors import ParameterError
from aecrypt.method import noise
from aecrypt.method.noise import (
    CALIBRATION_RANGES, CALIBRATION_TOLERANCE, NOISE_KINDS, POISSON_PEAK, add_noise, calibrate, calibrate_strength,
    matched_parameters, mean_noisy_ssim, noise_parameters, oracle_sigma,
)
from aecrypt.paper import PAPER_TABLE6

KINDS = [k for k in NOISE_KINDS if k != "none"]


def test_every_table_of_noise_kinds_names_the_same_kinds():
    assert list(noise.NOISE_MODES) == list(noise.NOISE_DEFAULTS) == list(noise.NOISE_LABELS) == list(NOISE_KINDS)
    for by_kind in (noise.STRENGTH_PARAMETER, noise.STRENGTH_AXIS_LABELS, noise.CALIBRATION_RANGES):
        assert list(by_kind) == KINDS
    assert set(noise.SWEEP_RANGES) <= set(KINDS)
    assert PAPER_TABLE6["noise"].tolist() == list(NOISE_KINDS)  # the paper's rows, in our names (aecrypt.paper lies below the method)


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


# ------------------------------------------------------ Poisson noise with a photon count


def _ssim_mean(clean, noisy):
    from aecrypt.method.metrics import ssim

    return float(np.mean([ssim(a, b) for a, b in zip(clean, noisy)]))


def test_poisson_default_degrades_the_image(images):
    # scikit-image's own Poisson mode on float images adds almost nothing (SSIM 1.000); ours must not be a no-op
    noisy = add_noise(images, "poisson", np.random.default_rng(0))
    assert noise_parameters("poisson") == {"peak": POISSON_PEAK}
    assert not np.array_equal(noisy, images)
    assert _ssim_mean(images, noisy) < 0.99


def test_fewer_photons_more_noise(images):
    few = add_noise(images, "poisson", np.random.default_rng(0), peak=5.0)
    many = add_noise(images, "poisson", np.random.default_rng(0), peak=5000.0)
    assert _ssim_mean(images, few) < _ssim_mean(images, many) - 0.2
    assert few.min() >= 0.0 and few.max() <= 1.0
    with pytest.raises(ParameterError, match="positive photon count"):
        add_noise(images, "poisson", np.random.default_rng(0), peak=0.0)


def test_oracle_sigma_is_the_models_for_gaussian_and_measured_otherwise(images):
    rng = np.random.default_rng(0)
    assert np.allclose(oracle_sigma("gaussian", images, images, {"var": 0.04}), 0.2)
    assert np.array_equal(oracle_sigma("none", images, images, {}), np.zeros(len(images)))
    noisy = add_noise(images, "salt_pepper", rng, amount=0.1)
    measured = oracle_sigma("salt_pepper", images, noisy, {"amount": 0.1})
    assert measured.shape == (len(images),) and np.allclose(measured[0], np.std(noisy[0] - images[0]))


# ------------------------------------------------------- strengths matched to a target SSIM


@pytest.fixture
def scans(rng):
    """Synthetic grey 'scans': a textured disc on a black background, three equal channels."""
    yy, xx = np.mgrid[:32, :32]
    disc = ((yy - 16) ** 2 + (xx - 16) ** 2 < 12**2).astype(np.float32)
    texture = rng.uniform(0.3, 0.8, size=(3, 32, 32)).astype(np.float32)
    grey = disc * (0.5 * texture + 0.25)
    return np.repeat(grey[..., None], 3, -1)


@pytest.mark.parametrize("kind,target", [("salt_pepper", 0.93), ("poisson", 0.79), ("gaussian", 0.13), ("speckle", 0.6)])
def test_calibration_hits_the_target_ssim(scans, kind, target):
    row = calibrate_strength(scans, kind, target, seed=0)
    assert row["reached"] and abs(row["ssim"] - target) <= CALIBRATION_TOLERANCE
    # the value found gives that SSIM again (deterministic, same noise stream)
    assert mean_noisy_ssim(scans, kind, 0, **{row["parameter"]: row["value"]}) == pytest.approx(row["ssim"])
    assert calibrate_strength(scans, kind, target, seed=0) == row


def test_calibration_says_when_a_target_is_unreachable(scans):
    # speckle multiplies the image: a black background stays black, so SSIM cannot fall near 0
    table = calibrate(scans, {"speckle": 0.06, "gaussian": 0.5}, seed=0)
    speckle, gaussian = table.set_index("noise").loc["speckle"], table.set_index("noise").loc["gaussian"]
    assert not speckle["reached"] and speckle["note"].startswith("unreachable")
    assert speckle["value"] == pytest.approx(CALIBRATION_RANGES["speckle"][1]) and speckle["ssim"] > 0.06 + CALIBRATION_TOLERANCE
    assert gaussian["reached"] and gaussian["note"].startswith("reached")
    assert matched_parameters(table) == {"gaussian": {"var": gaussian["value"]}}  # no matched level for speckle
    with pytest.raises(ParameterError):
        calibrate_strength(scans, "none", 0.5, seed=0)


@pytest.mark.parametrize("kind", KINDS)
def test_grey_images_get_one_noise_field_and_colour_images_one_per_channel(kind):
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.uniform(0.2, 0.8, (2, 16, 16, 1)), 3, axis=-1)
    noisy = add_noise(grey, kind, np.random.default_rng(1))
    assert np.array_equal(noisy, np.repeat(noisy[..., :1], 3, axis=-1)) and not np.array_equal(noisy, grey)
    # the same draw as noise added to the single grey channel
    assert np.array_equal(noisy[..., :1], add_noise(grey[..., :1], kind, np.random.default_rng(1)))
    colour = grey.copy()
    colour[..., 0] *= 0.5
    noisy_colour = add_noise(colour, kind, np.random.default_rng(1))
    assert not np.array_equal(noisy_colour[..., 1], noisy_colour[..., 2])
