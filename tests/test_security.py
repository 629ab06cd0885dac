"""Security statistics: block repetition, byte statistics, differential tests, feature
resemblance and the substitute-decoder attacker, on known cases."""

import numpy as np
import pytest

from aecrypt import security
from aecrypt.pipeline import encode


def _brain_like(size=16):
    """A bright disc on a black background, like an MRI slice."""
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2).astype(np.float32)
    image = disc * (0.5 + 0.4 * np.sin(xx / 2.0)) + 0.0
    return np.repeat(image[..., None], 3, -1).astype(np.float32)


def test_repeated_blocks_of_random_and_constant_bytes(rng):
    assert security.repeated_block_share(rng.integers(0, 256, 4096, dtype=np.uint8)) == 0.0
    assert security.repeated_block_share(np.zeros(4096, np.uint8)) == 1.0
    half = np.concatenate([np.zeros(2048, np.uint8), rng.integers(0, 256, 2048, dtype=np.uint8)])
    assert security.repeated_block_share(half) == pytest.approx(0.5)


def test_byte_statistics_of_uniform_bytes(rng):
    stats = security.byte_statistics(rng.integers(0, 256, 64 * 1024, dtype=np.uint8), rows=64)
    assert stats["entropy_bits"] > 7.99
    assert stats["chi_square"] < 2 * security.CHI_SQUARE_CRITICAL
    assert all(abs(stats[f"corr_{d}"]) < 0.05 for d in security.DIRECTIONS)


def test_ecb_keeps_the_background_visible_and_gcm_does_not(key):
    image = np.zeros((64, 64, 3), np.float32)
    image[16:48, 16:48] = 0.8
    features = image[::2, ::2]  # any float map with a constant background will do
    samples = security.cipher_samples(image, features, key, ("gcm", "paper", "ecb"))
    table = security.statistics_table(samples).set_index("data")
    assert table.loc["gcm: feature map", "repeated_blocks"] == 0.0
    assert table.loc["gcm: feature map", "entropy_bits"] > 7.9
    for leaky in ("ecb: feature map", "paper: feature map", "ecb: raw image", "paper: raw image"):
        assert table.loc[leaky, "repeated_blocks"] > 0.5, leaky
    # One key for every row: few distinct blocks, low entropy. The paper's row keys spread
    # the byte values (entropy looks fine) while the repeats within each row remain.
    assert table.loc["ecb: feature map", "entropy_bits"] < 7.0


def test_one_bit_key_and_one_pixel_changes():
    key = bytes(32)
    assert security.flip_key_bit(key, 9) == bytes([0, 2]) + bytes(30)
    image = np.full((4, 4, 3), 0.5, np.float32)
    changed = security.change_one_pixel(image, 1, 2)
    assert np.argwhere(changed != image).tolist() == [[1, 2, 0], [1, 2, 1], [1, 2, 2]]
    assert changed[1, 2, 0] - image[1, 2, 0] == pytest.approx(1 / 255)
    white = np.ones((2, 2, 3), np.float32)
    assert security.change_one_pixel(white, 0, 0)[0, 0, 0] == pytest.approx(254 / 255)  # stays in range


def test_differential_table_tells_deterministic_modes_from_nonce_modes(tiny_models, key):
    _, encoder, _ = tiny_models
    image = _brain_like()
    table = security.differential_table(lambda x: encode(encoder, x), image, key, ("gcm", "ecb"), pixel=(8, 8))
    get = table.set_index(["scheme", "test"])["npcr"]
    assert get[("ecb", "same plaintext, same key")] == 0.0  # deterministic
    assert get[("gcm", "same plaintext, same key")] > 99.0  # fresh nonce: everything changes
    assert get[("ecb", "one key bit changed")] > 99.0  # key avalanche
    assert get[("ecb", "one pixel changed")] < get[("ecb", "one key bit changed")]  # only the changed blocks
    assert 0 < get[("feature map (not encrypted)", "one pixel changed")] < 100


def test_feature_map_equal_to_the_image_is_found_similar(rng):
    images = np.stack([np.roll(_brain_like(32), shift, axis=1) for shift in (-6, 0, 6)])
    features = images[:, ::2, ::2, :]  # a "feature map" that is the image itself, half size
    table = security.feature_similarity(images, features)
    assert len(table) == 3 and table["ssim_mean"].min() > 0.8
    assert table["abs_r_own_image"].min() > 0.9
    assert (table["identified"] == 1.0).all() and table["chance"].iloc[0] == pytest.approx(1 / 3)
    assert (table["abs_r_other_images"] < table["abs_r_own_image"]).all()
    noise = security.feature_similarity(images, rng.standard_normal((3, 16, 16, 3)))
    assert noise["abs_r_own_image"].max() < 0.3


def test_substitute_decoder_learns_from_encoder_pairs(tiny_models):
    _, encoder, _ = tiny_models
    rng = np.random.default_rng(0)
    base = rng.random((24, 4, 4, 1), dtype=np.float32)
    images = np.repeat(np.repeat(np.repeat(base, 4, 1), 4, 2), 3, 3)
    decoder, result = security.train_substitute_decoder(encoder, images[:20], images[20:], epochs=4, batch_size=4, progress=False)
    assert decoder.output_shape[1:] == images.shape[1:]
    assert decoder.input_shape[1:] == encoder.output_shape[1:]
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]
