"""The leakage measurement: SSIM as scikit-image computes it, near-copies and mirrors found."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from aecrypt.errors import ParameterError
from aecrypt.experiments.leakage import guard_sweep, nearest_training, ssim_to_many, summarize_leakage, thumbnails


def test_ssim_to_many_matches_scikit_image(rng):
    query = rng.random((32, 32))
    refs = np.stack([np.clip(query + rng.normal(0, s, query.shape), 0, 1) for s in (0.01, 0.1, 0.5)])
    expected = [structural_similarity(query, r, data_range=1.0) for r in refs]
    assert np.allclose(ssim_to_many(query, refs), expected, atol=1e-5)


def test_nearest_training_finds_copies_and_mirrors(rng):
    train = rng.random((5, 16, 16))
    test = np.stack([train[3], train[1][:, ::-1], rng.random((16, 16))])
    best, index, mirrored = nearest_training(test, train)
    assert index[0] == 3 and not mirrored[0] and best[0] == pytest.approx(1.0)
    assert index[1] == 1 and mirrored[1] and best[1] == pytest.approx(1.0)
    assert best[2] < 0.5
    _, _, mirrored_off = nearest_training(test, train, mirror=False)
    assert not mirrored_off.any()
    with pytest.raises(ParameterError, match="no training images"):
        nearest_training(test, train[:0])


def test_thumbnails_are_grey_and_small(rng):
    images = rng.random((2, 40, 40, 3)).astype(np.float32)
    assert thumbnails(images, 8).shape == (2, 8, 8)
    with pytest.raises(ParameterError):
        thumbnails(rng.random(10))


def test_guard_sweep_shows_leakage_falling_with_the_gap():
    # a smooth synthetic "volume": slices 1 mm apart change slowly, so neighbours look alike
    z = np.arange(80.0)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    images = np.stack([0.5 + 0.5 * np.sin(6 * xx + 0.08 * k) * np.cos(5 * yy - 0.05 * k) for k in z])
    planes, positions = np.repeat(["axial"], 80), z
    table, per_split = guard_sweep(images, planes, positions, 0.2, 0.1, seed=0, guards_mm=(0.0, 8.0))
    medians = table.set_index("split")["median_ssim"]
    assert medians["random (old)"] > medians["slabs, guard 0 mm"] > medians["slabs, guard 8 mm"]
    assert set(per_split) == set(medians.index)
    assert summarize_leakage(per_split["random (old)"])["test_images"] == len(per_split["random (old)"])
