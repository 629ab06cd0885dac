"""Notebook 04's rate-distortion section (issue 29): real codecs through imagecodecs, the
features' wire formats, BD-rate against known values, the tables, the fair hybrid end to end
and the verdicts, on small synthetic images."""

import math

import numpy as np
import pandas as pd
import pytest

from aecrypt.errors import CodecUnavailableError, ParameterError
from aecrypt.experiments import codecs, fair_hybrid, feature_coding
from aecrypt.experiments import rate_distortion as rdm
from aecrypt.experiments.bd_rate import bd_rate, rate_difference_at
from aecrypt.method.payload import decrypt_file, encrypt_file

SIDE = 24


def _scan(seed: int, side: int = SIDE, channels: int = 3) -> np.ndarray:
    """A grey 'scan' in [0, 1] kept as three equal channels (as the study holds MNI152 slices):
    a black surround and a smooth bright body with some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] / side
    body = ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.12) * (0.5 + 0.3 * np.sin(6 * x + seed) * np.cos(5 * y))
    grey = np.clip(body + rng.normal(0, 0.02, body.shape) * (body > 0), 0, 1).astype(np.float32)
    return np.repeat(grey[..., None], channels, axis=-1)


def _stored(count: int = 3, side: int = SIDE) -> list[np.ndarray]:
    return [codecs.stored_image(_scan(seed, side)) for seed in range(count)]


def _encode(batch: np.ndarray) -> np.ndarray:
    """A stand-in encoder: every other pixel (a feature map of half the side, three channels)."""
    return batch[:, ::2, ::2].astype(np.float32)


def _decode(batch: np.ndarray) -> np.ndarray:
    """The stand-in decoder: each feature repeated over a 2x2 block."""
    return np.repeat(np.repeat(batch, 2, axis=1), 2, axis=2)


# ------------------------------------------------------------ the stored image and bits per pixel


def test_a_grey_scan_is_stored_as_one_8_bit_channel_and_counted_so():
    scan = _scan(0, side=96)
    stored = codecs.stored_image(scan)
    assert stored.shape == (96, 96) and stored.dtype == np.uint8 and stored.flags["C_CONTIGUOUS"]
    assert stored.nbytes == 9216  # the scanner's 96x96 8-bit image, not the network's 27,648 bytes
    assert rdm.bits_per_pixel(stored.nbytes, stored) == 8.0
    colour = np.stack([scan[..., 0], 1 - scan[..., 0], scan[..., 0] / 2], axis=-1)
    assert codecs.stored_image(colour).shape == (96, 96, 3) and rdm.bits_per_pixel(codecs.stored_image(colour).nbytes, codecs.stored_image(colour)) == 24.0
    assert codecs.stored_image(scan[..., :1]).shape == (96, 96)


def test_bpp_in_the_table_counts_the_codec_bytes_of_the_stored_grey_image():
    stored = _stored(2)
    png = codecs.codec("PNG")
    measured = rdm.codec_measurements(stored, points=2, codecs=(png,))
    expected = [len(codecs.round_trip(png, image, None)[0]) for image in stored]
    assert measured["bytes"].tolist() == expected
    assert measured["bpp"].tolist() == pytest.approx([8 * b / SIDE**2 for b in expected])
    three = np.repeat(stored[0][..., None], 3, -1)  # the same scan as three channels would cost more
    assert len(codecs.round_trip(png, three, None)[0]) > expected[0]


# ------------------------------------------------------------ the codecs


@pytest.mark.parametrize("entry", [c for c in codecs.CODECS if c.lossless], ids=lambda c: c.name)
def test_every_codec_that_claims_lossless_gives_the_stored_image_back_exactly(entry):
    assert codecs.unavailable_reason(entry) == ""
    rng = np.random.default_rng(0)
    for image in (codecs.stored_image(_scan(3, side=40)), rng.integers(0, 256, (17, 23), dtype=np.uint8),
                  rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)):
        data, decoded = codecs.round_trip(entry, image, None)
        assert decoded.dtype == np.uint8 and np.array_equal(decoded, image), entry.name
        assert len(data) > 0


@pytest.mark.parametrize("entry", [c for c in codecs.CODECS if not c.lossless], ids=lambda c: c.name)
def test_each_lossy_codec_spends_more_bits_for_more_quality_across_its_ladder(entry):
    image = codecs.stored_image(_scan(1, side=64))
    low, high = (codecs.round_trip(entry, image, setting) for setting in (entry.ladder[0], entry.ladder[-1]))
    assert len(low[0]) < len(high[0])
    assert rdm.quality(image, low[1])["psnr_db"] < rdm.quality(image, high[1])["psnr_db"]
    assert codecs.library_version(entry).startswith(entry.library + " ") and "imagecodecs" in codecs.library_version(entry)


def test_settings_spread_over_the_ladder_and_name_themselves():
    jpeg, j2k = codecs.codec("JPEG"), codecs.codec(codecs.REFERENCE_CODEC)
    assert codecs.settings(jpeg, 3) == (10, 70, 95)
    assert codecs.settings(jpeg, 99) == jpeg.ladder and codecs.settings(codecs.codec("PNG"), 3) == (None,)
    assert [codecs.setting_label(jpeg, 75), codecs.setting_label(j2k, 40), codecs.setting_label(codecs.codec("PNG"), None)] == [
        "q75", "40 dB target", "lossless"]
    with pytest.raises(ParameterError, match="at least 2 points"):
        codecs.settings(jpeg, 1)
    with pytest.raises(ParameterError, match="no codec named"):
        codecs.codec("GIF")


def test_a_codec_missing_from_the_build_is_a_row_that_says_so():
    missing = codecs.Codec("JPEG 3000", "NOSUCHCODEC", "libnothing", "q{:g}", (10, 90), lambda ic, x, q: b"", lambda ic, b: b)
    assert "has no JPEG 3000 codec" in codecs.unavailable_reason(missing)
    with pytest.raises(CodecUnavailableError, match="JPEG 3000"):
        codecs.round_trip(missing, _stored(1)[0], 10)
    measured = rdm.codec_measurements(_stored(2), 2, codecs=(codecs.codec("PNG"), missing))
    table = rdm.rd_table(measured)
    row = table[table["method"] == "JPEG 3000"].iloc[0]
    assert (row["setting"], row["kind"]) == (rdm.UNAVAILABLE, rdm.UNAVAILABLE) and "has no JPEG 3000 codec" in row["note"]
    assert table["method"].tolist() == ["PNG", "JPEG 3000"]


# ------------------------------------------------------------ the features' wire formats


def test_every_wire_format_round_trips_within_its_precision():
    rng = np.random.default_rng(0)
    features = np.zeros((12, 12, 4), np.float32)  # a flat surround and a smooth middle, as a scan's feature maps are
    features[3:9, 3:9] = np.cumsum(rng.normal(0, 0.05, (6, 6, 4)), axis=0) + 1.0
    values = features.size
    sizes = {}
    for wire in feature_coding.WIRE_FORMATS:
        data = feature_coding.pack_features(features, wire)
        back = feature_coding.unpack_features(data, wire, features.shape)
        sizes[wire] = len(data)
        assert back.shape == features.shape and back.dtype == np.float32
        step = (features.max((0, 1)) - features.min((0, 1))) / 255
        tolerance = {"float32": 0.0, "float16": 1e-3}.get(wire, float(step.max()) / 2 + 1e-6)
        assert np.abs(back - features).max() <= tolerance, wire
    assert (sizes["float32"], sizes["float16"], sizes["uint8"]) == (4 * values, 2 * values, values + 8 * features.shape[-1])
    assert all(sizes[f"uint8 + {name}"] < sizes["uint8"] for name in feature_coding.COMPRESSORS)
    coded = feature_coding.unpack_features(feature_coding.pack_features(features, "uint8 + zstd"), "uint8 + zstd", features.shape)
    assert np.array_equal(coded, feature_coding.unpack_features(feature_coding.pack_features(features, "uint8"), "uint8", features.shape))
    with pytest.raises(ParameterError, match="unknown wire format"):
        feature_coding.pack_features(features, "uint8 + gzip")
    assert feature_coding.wire_unavailable("uint8 + lzma") == ""


# ------------------------------------------------------------ BD-rate


def _curve(rates, psnrs):
    return np.asarray(rates, float), np.asarray(psnrs, float)


def test_bd_rate_of_a_codec_against_itself_is_zero():
    curve = _curve([0.3, 0.6, 1.2, 2.4], [28.0, 33.0, 38.5, 44.0])
    result = bd_rate(curve, curve)
    assert result.percent == pytest.approx(0.0, abs=1e-12) and (result.low, result.high) == (28.0, 44.0)


def test_bd_rate_of_half_the_rate_everywhere_is_minus_fifty_percent():
    rates, psnrs = [0.3, 0.6, 1.2, 2.4], [28.0, 33.0, 38.5, 44.0]
    assert bd_rate(_curve(rates, psnrs), _curve(np.array(rates) / 2, psnrs)).percent == pytest.approx(-50.0)
    # points in any order; only the overlap of the quality ranges counts
    shifted = bd_rate(_curve(rates, psnrs), _curve(np.array(rates)[::-1] * 3, np.array(psnrs)[::-1] + 2))
    assert (shifted.low, shifted.high) == (30.0, 44.0)


def test_bd_rate_matches_the_bjontegaard_package():
    # The bjontegaard package's README example; bjontegaard 1.3.0, method="pchip", gives -0.8352743911891114.
    anchor = _curve([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 37.264, 36.010])
    test = _curve([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 37.226, 35.764])
    result = bd_rate(anchor, test)
    assert result.percent == pytest.approx(-0.8352743911891114, rel=1e-9)
    assert (result.low, result.high) == (36.010, 40.037)


def test_bd_rate_without_overlap_or_points_says_so():
    assert math.isnan(bd_rate(_curve([1, 2], [20, 25]), _curve([1, 2], [30, 35])).percent)
    with pytest.raises(ParameterError, match="at least 2 points"):
        bd_rate(_curve([1], [20]), _curve([1, 2], [20, 25]))
    with pytest.raises(ParameterError, match="distinct"):
        bd_rate(_curve([1, 2], [20, 20]), _curve([1, 2], [20, 25]))


def test_one_point_against_a_curve():
    curve = _curve([0.5, 1.0, 2.0], [30.0, 35.0, 40.0])
    assert rate_difference_at(curve, 1.0, 35.0) == pytest.approx(0.0)
    assert rate_difference_at(curve, 2.0, 35.0) == pytest.approx(100.0)
    assert math.isnan(rate_difference_at(curve, 1.0, 45.0))


# ------------------------------------------------------------ the tables


@pytest.fixture(scope="module")
def measured():
    stored = _stored(3)
    return stored, pd.concat([rdm.codec_measurements(stored, points=4), rdm.autoencoder_measurements(stored, _encode, _decode)],
                             ignore_index=True)


def test_the_rd_table_has_every_method_with_its_spread_over_images(measured):
    stored, rows = measured
    table = rdm.rd_table(rows)
    assert len(rows) == len(stored) * len(table)
    assert (table["images"] == len(stored)).all() and (table["kind"] != rdm.UNAVAILABLE).all()
    lossless = table[table["kind"] == rdm.LOSSLESS]
    assert lossless["exact"].all() and (lossless["psnr_db_mean"] == math.inf).all() and lossless["psnr_db_std"].isna().all()
    lossy = table[table["kind"] == rdm.LOSSY]
    assert not lossy["exact"].any() and (lossy["bpp_std"] >= 0).all() and (lossy["psnr_db_std"] > 0).any()
    ours = table[table["kind"] == rdm.AUTOENCODER].set_index("setting")
    assert ours.index.tolist() == list(feature_coding.WIRE_FORMATS)
    assert ours.loc["float32", "bpp_mean"] == 8 * 4 * (SIDE // 2) ** 2 * 3 / SIDE**2  # 24 bpp: three float32 channels at half the side
    assert ours["method"].iloc[0] == rdm.autoencoder_method((SIDE // 2, SIDE // 2, 3)) == "autoencoder 12x12x3"
    assert ours.loc["float32", "psnr_db_mean"] < math.inf  # the stand-in decoder loses the odd pixels
    assert (table[table["kind"] != rdm.AUTOENCODER]["library"].str.contains("imagecodecs")).all()


def _synthetic_rd(ours_bpp: float) -> pd.DataFrame:
    """An rd table by hand: a lossless codec at 2 bpp, JPEG 2000 and a codec at half its rate,
    and the autoencoder at PSNR 35 dB (where JPEG 2000 spends 1 bpp) at ``ours_bpp``."""
    rows = [{"method": "JPEG-LS", "setting": "lossless", "kind": rdm.LOSSLESS, "setting_value": math.nan, "bytes_mean": 2.0,
             "bpp_mean": 2.0, "bpp_std": 0.1, "psnr_db_mean": math.inf, "ssim_mean": 1.0, "ms_ssim_mean": 1.0, "exact": True}]
    for method, scale in (("JPEG 2000", 1.0), ("WebP", 0.5)):
        for q, bpp in ((30.0, 0.5), (35.0, 1.0), (40.0, 2.0)):
            rows.append({"method": method, "setting": f"{q:g} dB target", "kind": rdm.LOSSY, "setting_value": q, "bytes_mean": bpp * scale,
                         "bpp_mean": bpp * scale, "bpp_std": 0.1, "psnr_db_mean": q, "ssim_mean": 1 - 10 ** (-q / 10),
                         "ms_ssim_mean": 1 - 10 ** (-q / 10), "exact": False})
    rows.append({"method": "autoencoder 4x4x3", "setting": "uint8 + lzma", "kind": rdm.AUTOENCODER, "setting_value": math.nan,
                 "bytes_mean": ours_bpp, "bpp_mean": ours_bpp, "bpp_std": 0.1, "psnr_db_mean": 35.0,
                 "ssim_mean": 1 - 10 ** -3.5, "ms_ssim_mean": 1 - 10 ** -3.5, "exact": False})
    return pd.DataFrame(rows).assign(images=5, psnr_db_std=0.5)


def test_bd_rate_table_against_jpeg_2000_at_every_metric():
    table = rdm.bd_rate_table(_synthetic_rd(ours_bpp=3.0))
    assert set(table["metric"]) == set(rdm.METRICS.values()) and (table["reference"] == "JPEG 2000").all()
    webp = table[table["method"] == "WebP"]
    assert webp["bd_rate_percent"].tolist() == pytest.approx([-50.0] * 3)  # half the rate at every quality
    assert webp["quality_low"].tolist() == pytest.approx([30.0, 0.999, 0.999]) and (webp["points"] == 3).all()
    ours = table[table["method"] == "autoencoder 4x4x3"]
    assert ours["bd_rate_percent"].tolist() == pytest.approx([200.0] * 3)  # 3 bpp where JPEG 2000 needs 1
    assert (ours["setting"] == "uint8 + lzma").all() and (ours["points"] == 1).all()


@pytest.mark.parametrize("ours_bpp, verdict", [
    (3.0, "It does not hold against the codecs medical imaging uses."),
    (1.5, "It holds against lossless coding only."),
    (0.5, "It holds."),
    (9.0, "more data than the image itself. It does not hold."),
])
def test_the_verdict_on_less_data_follows_the_numbers(ours_bpp, verdict):
    rd = _synthetic_rd(ours_bpp)
    lines = rdm.rd_findings(rd, rdm.bd_rate_table(rd), stored_bpp=8.0)
    assert lines[0].startswith("Over 5 test images") and "JPEG-LS 2.00 ± 0.10 bpp, every image back bit for bit" in lines[1]
    assert f"{ours_bpp:.2f} bpp as uint8 + lzma" in lines[2]
    assert "WebP -50 % / -50 % / -50 %" in lines[4]
    assert lines[-1].endswith(verdict), lines[-1]
    assert f"{abs(100 * (ours_bpp - 1)):.0f} % {'more' if ours_bpp > 1 else 'fewer'} bits than JPEG 2000 at the same PSNR" in lines[-1]
    assert "JPEG-LS makes the least data that gives the image back exactly: 2 bytes (2.00 bpp)" in rdm.least_data_line(rd)


# ------------------------------------------------------------ the fair hybrid


def test_matched_rows_take_each_codecs_cheapest_setting_at_the_target():
    rd = _synthetic_rd(3.0)
    picked = fair_hybrid.matched_rows(rd, target_psnr=33.0)
    assert picked["method"].tolist() == ["JPEG-LS", "JPEG 2000", "WebP"] and picked["psnr_db_mean"].tolist()[1:] == [35.0, 35.0]
    assert fair_hybrid.matched_rows(rd, target_psnr=41.0)["method"].tolist() == ["JPEG-LS"]  # no lossy setting reaches it


def test_the_fair_hybrid_runs_end_to_end_with_real_codecs_and_aes(measured, key):
    stored, rows = measured
    rd = rdm.rd_table(rows)
    one = lambda f: _decode(f[None])[0]  # noqa: E731
    table = fair_hybrid.fair_hybrid_table(rd, stored, lambda x: _encode(x[None])[0], one, (SIDE // 2, SIDE // 2, 3), key,
                                          images=1, repeats=2)
    ours = table[table["kind"] == rdm.AUTOENCODER]
    assert ours["setting"].tolist()[0] == "float32" and len(ours) == 2
    target = ours["psnr_db"].iloc[0]
    assert (table["target_psnr_db"] == target).all() and (table["psnr_db"] >= target - 1e-9).all()
    overhead = fair_hybrid.container_overhead(key)
    assert overhead == len(encrypt_file(b"x" * 1000, key)) - 1000
    merged = table.merge(rd, on=["method", "setting"])
    assert (merged["sealed_bytes_mean"] == merged["bytes_mean"] + overhead).all()
    assert (table["sender_median_s"] > 0).all() and (table["receiver_median_s"] > 0).all() and (table["timed_images"] == 1).all()
    send, receive = fair_hybrid.codec_ends("JPEG-LS", math.nan, key)
    payload = send(stored[0])
    assert np.array_equal(receive(payload, stored[0]), stored[0]) and len(decrypt_file(payload, key)) < stored[0].nbytes
    lines = fair_hybrid.fair_findings(table, stored[0].shape)
    assert lines[0].startswith(f"End to end at {SIDE}x{SIDE} px") and "the fewest bytes at that quality" in lines[3]
