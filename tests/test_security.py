"""Security statistics: byte entropy, chi-square and correlation, NPCR/UACI and their critical
values, block repetition, byte statistics, differential tests, feature
resemblance and the substitute-decoder attacker, on known cases; notebook 06's verdicts at
their thresholds and notebook 03's journey and flipped byte, with stand-in networks."""

import numpy as np
import pandas as pd
import pytest

from aecrypt.experiments import cipher_statistics, differential, feature_similarity, journey, security_verdicts, substitute_decoder
from aecrypt.errors import ParameterError
from aecrypt.experiments.cipher_statistics import adjacent_correlation, byte_chi_square, byte_entropy
from aecrypt.experiments.differential import IDEAL_NPCR, IDEAL_UACI, npcr, npcr_critical, uaci, uaci_critical_interval
from aecrypt.method.pipeline import encode


def _brain_like(size=16):
    """A bright disc on a black background, like an MRI slice."""
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2).astype(np.float32)
    image = disc * (0.5 + 0.4 * np.sin(xx / 2.0)) + 0.0
    return np.repeat(image[..., None], 3, -1).astype(np.float32)


# ------------------------------------------------- cipher statistics and NPCR/UACI against known values


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


def test_repeated_blocks_of_random_and_constant_bytes(rng):
    assert cipher_statistics.repeated_block_share(rng.integers(0, 256, 4096, dtype=np.uint8)) == 0.0
    assert cipher_statistics.repeated_block_share(np.zeros(4096, np.uint8)) == 1.0
    half = np.concatenate([np.zeros(2048, np.uint8), rng.integers(0, 256, 2048, dtype=np.uint8)])
    assert cipher_statistics.repeated_block_share(half) == pytest.approx(0.5)


def test_byte_statistics_of_uniform_bytes(rng):
    stats = cipher_statistics.byte_statistics(rng.integers(0, 256, 64 * 1024, dtype=np.uint8), rows=64)
    assert stats["entropy_bits"] > 7.99
    assert stats["chi_square"] < 2 * cipher_statistics.CHI_SQUARE_CRITICAL
    assert all(abs(stats[f"corr_{d}"]) < 0.05 for d in cipher_statistics.DIRECTIONS)


def test_ecb_keeps_the_background_visible_and_gcm_does_not(key):
    image = np.zeros((64, 64, 3), np.float32)
    image[16:48, 16:48] = 0.8
    features = image[::2, ::2]  # any float map with a constant background will do
    samples = cipher_statistics.cipher_samples(image, features, key, ("gcm", "paper", "ecb"))
    table = cipher_statistics.statistics_table(samples).set_index("data")
    assert table.loc["gcm: feature map", "repeated_blocks"] == 0.0
    assert table.loc["gcm: feature map", "entropy_bits"] > 7.9
    for leaky in ("ecb: feature map", "paper: feature map", "ecb: raw image", "paper: raw image"):
        assert table.loc[leaky, "repeated_blocks"] > 0.5, leaky
    # One key for every row: few distinct blocks, low entropy. The paper's row keys spread
    # the byte values (entropy looks fine) while the repeats within each row remain.
    assert table.loc["ecb: feature map", "entropy_bits"] < 7.0


def test_one_bit_key_and_one_pixel_changes():
    key = bytes(32)
    assert differential.flip_key_bit(key, 9) == bytes([0, 2]) + bytes(30)
    image = np.full((4, 4, 3), 0.5, np.float32)
    changed = differential.change_one_pixel(image, 1, 2)
    assert np.argwhere(changed != image).tolist() == [[1, 2, 0], [1, 2, 1], [1, 2, 2]]
    assert changed[1, 2, 0] - image[1, 2, 0] == pytest.approx(1 / 255)
    white = np.ones((2, 2, 3), np.float32)
    assert differential.change_one_pixel(white, 0, 0)[0, 0, 0] == pytest.approx(254 / 255)  # stays in range


def test_differential_table_tells_deterministic_modes_from_nonce_modes(tiny_models, key):
    _, encoder, _ = tiny_models
    image = _brain_like()
    table = differential.differential_table(lambda x: encode(encoder, x), image, key, ("gcm", "ecb"), pixel=(8, 8))
    get = table.set_index(["scheme", "test"])["npcr"]
    assert get[("ecb", "same plaintext, same key")] == 0.0  # deterministic
    assert get[("gcm", "same plaintext, same key")] > 99.0  # fresh nonce: everything changes
    assert get[("ecb", "one key bit changed")] > 99.0  # key avalanche
    assert get[("ecb", "one pixel changed")] < get[("ecb", "one key bit changed")]  # only the changed blocks
    assert 0 < get[("feature map (not encrypted)", "one pixel changed")] < 100


def test_feature_map_equal_to_the_image_is_found_similar(rng):
    images = np.stack([np.roll(_brain_like(32), shift, axis=1) for shift in (-6, 0, 6)])
    features = images[:, ::2, ::2, :]  # a "feature map" that is the image itself, half size
    table = feature_similarity.feature_similarity(images, features)
    assert len(table) == 3 and table["ssim_mean"].min() > 0.8
    assert table["abs_r_own_image"].min() > 0.9
    assert (table["identified"] == 1.0).all() and table["chance"].iloc[0] == pytest.approx(1 / 3)
    assert (table["abs_r_other_images"] < table["abs_r_own_image"]).all()
    noise = feature_similarity.feature_similarity(images, rng.standard_normal((3, 16, 16, 3)))
    assert noise["abs_r_own_image"].max() < 0.3


def test_substitute_decoder_learns_from_encoder_pairs(tiny_models):
    _, encoder, _ = tiny_models
    rng = np.random.default_rng(0)
    base = rng.random((24, 4, 4, 1), dtype=np.float32)
    images = np.repeat(np.repeat(np.repeat(base, 4, 1), 4, 2), 3, 3)
    decoder, result = substitute_decoder.train_substitute_decoder(encoder, images[:20], images[20:], epochs=4, batch_size=4, progress=False)
    assert decoder.output_shape[1:] == images.shape[1:]
    assert decoder.input_shape[1:] == encoder.output_shape[1:]
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]


def test_equal_steps_give_the_attacker_the_owners_gradient_steps():
    # the owner: 16 epochs over 238 images in batches of 4 = 16 * 60 steps; an attacker with 47 images needs 80 epochs
    owner_steps = 16 * substitute_decoder.steps_per_epoch(238, 4)
    assert owner_steps == 960
    epochs = substitute_decoder.equal_step_epochs(owner_steps, 47, 4)
    assert epochs == 80 and epochs * substitute_decoder.steps_per_epoch(47, 4) >= owner_steps
    assert substitute_decoder.equal_step_epochs(1, 1000, 4) == 1


@pytest.mark.slow
def test_attack_bounds_train_one_decoder_per_pool(tiny_models):
    _, encoder, _ = tiny_models
    rng = np.random.default_rng(0)
    images = np.repeat(np.repeat(np.repeat(rng.random((12, 4, 4, 1), dtype=np.float32), 4, 1), 4, 2), 3, 3)
    pools = {substitute_decoder.ATTACKER_EQUAL_STEPS: images[:8], substitute_decoder.ATTACKER_OTHER_SCANS: images[8:]}
    table, decoded = substitute_decoder.attack_bounds(encoder, pools, images, encode(encoder, images), owner_steps=6, batch_size=4)
    assert table["decoder"].tolist() == list(pools) and set(decoded) == set(pools)
    assert (table["attack_steps"] >= 6).all() and table["attack_epochs"].tolist() == [3, 6]  # 7 and 3 images: 2 and 1 steps an epoch
    assert decoded[substitute_decoder.ATTACKER_OTHER_SCANS].shape == images.shape


# ------------------------------------------------- notebook 06's tables and verdicts, by hand


def _similarity(identified, chance, other_channel=0.0):
    """A feature-similarity table: channel 1 identifies its image at ``identified``, channel 0 less often."""
    rows = [{"channel": c, "ssim_mean": 0.3, "ssim_std": 0.1, "abs_r_own_image": 0.6, "abs_r_other_images": 0.4,
             "identified": share, "chance": chance, "images": round(1 / chance)} for c, share in ((0, other_channel), (1, identified))]
    return pd.DataFrame(rows)


def _attack(receiver_ssim, attacker_ssim, reverse=False):
    """An attack table of ``attack_table``'s layout with the given SSIMs."""
    rows = [{"decoder": substitute_decoder.RECEIVER, "ssim": receiver_ssim, "ssim_std": 0.01, "psnr_db": 30.0, "psnr_std": 1.0, "mse": 0.001},
            {"decoder": substitute_decoder.ATTACKER, "ssim": attacker_ssim, "ssim_std": 0.02, "psnr_db": 25.0, "psnr_std": 1.5, "mse": 0.003}]
    table = pd.DataFrame(rows[::-1] if reverse else rows)
    return table.assign(public_images=120, attack_epochs=3, attack_minutes=1.5)


def test_attack_table_rows_and_columns():
    rng = np.random.default_rng(0)
    originals = rng.random((3, 16, 16, 3), dtype=np.float32)
    table = substitute_decoder.attack_table(originals, originals, np.zeros_like(originals), public_images=40, epochs=2, seconds=90.0)
    assert list(table.columns) == ["decoder", "ssim", "ssim_std", "psnr_db", "psnr_std", "mse", "assumes", "public_images",
                                   "attack_epochs", "attack_minutes"]
    assert all(table["assumes"])  # each row says what its decoder's holder has
    assert table["decoder"].tolist() == [substitute_decoder.RECEIVER, substitute_decoder.ATTACKER]
    assert table["ssim"].iloc[0] == pytest.approx(1.0) and table["mse"].iloc[0] == 0.0
    assert table["ssim"].iloc[1] < 0.1 and table["mse"].iloc[1] == pytest.approx(float(np.mean(originals.astype(np.float64) ** 2)))
    assert (table["public_images"] == 40).all() and (table["attack_epochs"] == 2).all() and (table["attack_minutes"] == 1.5).all()


def test_no_verdict_below_the_receiver_threshold():
    lines = security_verdicts.claim_verdicts(_similarity(1.0, 0.01), _attack(security_verdicts.RECEIVER_MIN_SSIM - 0.01, 0.99))
    assert len(lines) == 1 and lines[0].startswith("Inconclusive: the real decoder reaches SSIM 0.79")
    assert len(security_verdicts.claim_verdicts(_similarity(1.0, 0.01), _attack(security_verdicts.RECEIVER_MIN_SSIM, 0.0))) == 2


@pytest.mark.parametrize("reverse", [False, True])
def test_attacker_verdict_flips_at_the_ssim_ratio(reverse):
    at = security_verdicts.claim_verdicts(_similarity(0.0, 0.01), _attack(1.0, security_verdicts.ATTACK_SSIM_RATIO, reverse))
    below = security_verdicts.claim_verdicts(_similarity(0.0, 0.01), _attack(1.0, security_verdicts.ATTACK_SSIM_RATIO - 0.01, reverse))
    assert at[1] == "Claim 'no conclusions can be built without the decoder': DOES NOT HOLD"
    assert below[1] == "Claim 'no conclusions can be built without the decoder': holds on this run"


def test_image_verdict_needs_both_the_share_and_the_chance_factor():
    claim = "Claim 'features cannot be viewed as a representation of the original data': "
    attack = _attack(0.95, 0.5)
    # 40 images: chance 2.5 %, ten times chance 25 %, so the 50 % share decides
    assert security_verdicts.claim_verdicts(_similarity(0.5, 1 / 40), attack)[0] == claim + "DOES NOT HOLD"
    assert security_verdicts.claim_verdicts(_similarity(0.49, 1 / 40), attack)[0] == claim + "holds on this run"
    # 10 images: chance 10 %, so even 90 % is not ten times chance
    assert security_verdicts.claim_verdicts(_similarity(0.9, 1 / 10), attack)[0] == claim + "holds on this run"
    assert security_verdicts.claim_verdicts(_similarity(1.0, 1 / 10), attack)[0] == claim + "DOES NOT HOLD"
    # the best channel counts, wherever it is in the table
    assert security_verdicts.claim_verdicts(_similarity(0.0, 1 / 40, other_channel=0.6), attack)[0] == claim + "DOES NOT HOLD"


def test_best_view_takes_the_last_of_equal_channels():
    table = pd.concat([_similarity(0.5, 0.1, other_channel=0.5), _similarity(0.2, 0.1).assign(channel=[2, 3])], ignore_index=True)
    assert int(security_verdicts.best_view(table)["channel"]) == 1


def test_findings_and_rules_state_the_numbers():
    stats = pd.DataFrame({"data": ["image (not encrypted)", "gcm: feature map", "ecb: raw image", "ideal (uniform random bytes)"],
                          "repeated_blocks": [0.9, 0.0, 0.36, 0.0]})
    lines = security_verdicts.findings(_similarity(0.5, 0.25), _attack(0.9, 0.8, reverse=True), stats)
    assert lines[0].startswith("Feature map: channel 1 correlates with its own image at |r| = 0.60 (other test images: 0.40")
    assert "among 4 in 50% of cases (chance 25%)" in lines[0]
    assert lines[1] == ("Substitute decoder after 3 epochs on 120 images the owner did not train on (1.5 min on this CPU): test SSIM 0.800, "
                        "PSNR 25.0 dB, against the real decoder's 0.900 and 30.0 dB.")
    assert lines[2] == "Repeated 16-byte blocks in the ciphertext: gcm: feature map: 0%, ecb: raw image: 36%"
    rules = security_verdicts.verdict_rules()
    assert "50%" in rules and "10 times chance" in rules and "90%" in rules and "0.8" in rules


def test_a_missing_decoder_row_is_an_error():
    with pytest.raises(ParameterError, match="substitute decoder"):
        security_verdicts.claim_verdicts(_similarity(0.5, 0.1), _attack(0.9, 0.8).iloc[:1])


# ------------------------------------------------- notebook 03: the journey and one flipped byte


def _halve(image):
    """A stand-in encoder: every second pixel, as float32 features."""
    return np.ascontiguousarray(image[::2, ::2], np.float32)


def _double(features):
    """A stand-in decoder: each feature repeated 2x2."""
    return np.repeat(np.repeat(features, 2, 0), 2, 1)


def test_journey_keeps_every_stage_and_repeats_with_the_seed(key):
    image = _brain_like(16)
    trip = journey.journey(image, _halve, _double, key, rng=np.random.default_rng(5))
    assert trip.bit_exact and trip.features.shape == (8, 8, 3) and trip.output.shape == image.shape
    assert trip.payload == journey.journey(image, _halve, _double, key, rng=np.random.default_rng(5)).payload
    assert trip.payload != journey.journey(image, _halve, _double, key, rng=np.random.default_rng(6)).payload
    assert "payload" in trip.summary("toy") and "bit for bit: True" in trip.summary("toy")
    picture = journey.ciphertext_picture(trip.payload)
    assert picture.shape == (16, 16, 3) and 0.0 <= picture.min() and picture.max() <= 1.0  # 8*8*3 float32 = 16*16*3 bytes


def test_one_flipped_byte_passes_the_paper_scheme_and_not_gcm(key):
    features = _halve(_brain_like(32))
    flip = journey.paper_scheme_byte_flip(features, key, _double, rng=np.random.default_rng(7))
    again = journey.paper_scheme_byte_flip(features, key, _double, rng=np.random.default_rng(7))
    assert flip.gcm_rejected and flip.position == again.position
    assert 1 <= flip.changed <= 4  # one 16-byte block: four float32 values at most
    assert flip.clean_output.shape == flip.garbled_output.shape == (32, 32, 3)
    assert flip.summary()[1] == "a GCM payload of the same features, its first ciphertext byte flipped: WrongKeyOrTamperedError"


def test_attack_sizes_stop_at_what_the_attacker_has():
    assert substitute_decoder.attack_sizes(57) == [("10", 10), ("all", 57)]
    assert substitute_decoder.attack_sizes(200) == [("10", 10), ("100", 100), ("all", 200)]
    assert substitute_decoder.attack_sizes(100) == [("10", 10), ("all", 100)]
    assert substitute_decoder.attack_sizes(200, sizes=(10, 30)) == [("10", 10), ("30", 30), ("all", 200)]
    assert substitute_decoder.attack_sizes(4) == [("all", 4)]


def test_journey_and_flip_make_their_figures_titled_panels_in_range(key):
    image = _brain_like(32)
    trip = journey.journey(image, _halve, _double, key, rng=np.random.default_rng(5))
    panels = trip.panels()
    assert [title for title, _ in panels] == ["(a) original", "(b) encoder output (features)", "(c) after encryption (bytes)",
                                              "(d) after decryption", "(e) decoder output"]
    assert all(0.0 <= panel.min() and panel.max() <= 1.0 for _, panel in panels)
    features = panels[1][1]  # stretched per channel to be visible: each spans [0, 1]
    assert np.allclose(features.min(axis=(0, 1)), 0.0) and np.allclose(features.max(axis=(0, 1)), 1.0)
    assert np.array_equal(panels[2][1], journey.ciphertext_picture(trip.payload))
    flip = journey.paper_scheme_byte_flip(trip.features, key, _double, rng=np.random.default_rng(7))
    titles, images = zip(*flip.panels())
    assert titles == ("clean decoding", "after one flipped byte (paper scheme)", "difference (scaled)")
    assert images[2].max() == pytest.approx(1.0) and images[2].min() == 0.0  # one block changed, stretched to be seen
