"""Timing helpers return well-formed measurements (correctness only; nothing here asserts speed),
and notebook 04's tables, conclusions and figure are built right from hand-made inputs."""

import math

import numpy as np
import pandas as pd
import pytest

from aecrypt.errors import ParameterError
from aecrypt.experiments import aes_timing, pipeline_timing, rate_distortion, timing_tables
from aecrypt.experiments.aes_timing import aes_table, openssl_gcm_table
from aecrypt.experiments.timing import time_call, time_interleaved
from aecrypt.method.schemes import SCHEMES
from aecrypt.paper import PAPER_TABLE3


def test_time_call_counts_and_orders_quantiles():
    calls = []
    result = time_call(lambda: calls.append(1), repeats=7, warmup=2)
    assert len(calls) == 9 and result["repeats"] == 7
    assert result["min_s"] <= result["q25_s"] <= result["median_s"] <= result["q75_s"]


def test_interleaved_calls_alternate_after_every_warm_up():
    calls = []
    result = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] + ["a", "b"] * 3 and set(result) == {"a", "b"}
    assert all(r["repeats"] == 3 and r["min_s"] <= r["median_s"] for r in result.values())


def test_aes_table_covers_every_payload_and_scheme(rng, key):
    payloads = {"raw image uint8": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                "features float32": rng.normal(size=(4, 4, 3)).astype(np.float32)}
    table = aes_table(payloads, key, SCHEMES, repeats=3)
    assert len(table) == 2 * len(SCHEMES)
    assert set(table["plaintext_bytes"]) == {192}  # 8*8*3 uint8 == 4*4*3 float32
    assert (table["encrypt_median_s"] > 0).all()
    ossl = openssl_gcm_table(payloads, key, repeats=3)
    assert list(ossl["payload_bytes"]) == [192 + 16, 192 + 16]


# ------------------------------------------------- notebook 04's tables, from hand-made inputs

BATCH = 4


def _t(median, q25=None, q75=None, repeats=10):
    """A time_call result with the given median (quartiles default to +-10 %)."""
    return {"median_s": median, "q25_s": median * 0.9 if q25 is None else q25,
            "q75_s": median * 1.1 if q75 is None else q75, "min_s": median * 0.8, "repeats": repeats}


def _parts():
    """Step times by hand; the batch steps hold the time of a whole batch of BATCH images."""
    return {
        pipeline_timing.ENCODER_STEP: _t(0.010), pipeline_timing.ENCRYPT_FEATURES_STEP: _t(0.002), pipeline_timing.DECRYPT_FEATURES_STEP: _t(0.003),
        pipeline_timing.DECODER_STEP: _t(0.020), pipeline_timing.ENCRYPT_RAW_STEP: _t(0.001, q25=0.0009, q75=0.0012),
        pipeline_timing.DECRYPT_RAW_STEP: _t(0.0015),
        pipeline_timing.batch_step("encoder", BATCH): _t(0.008), pipeline_timing.batch_step("decoder", BATCH): _t(0.040),
    }


def _aes_row(payload, scheme, backend, enc, dec, plain=3072, iqr=0.0001, repeats=10, shape="32x32x3"):
    """One row of ``aes_table``'s layout."""
    return {"payload": payload, "shape": shape, "scheme": scheme, "backend": backend, "plaintext_bytes": plain, "payload_bytes": plain + 60,
            "encrypt_median_s": enc, "encrypt_iqr_s": iqr, "decrypt_median_s": dec, "decrypt_iqr_s": iqr,
            "encrypt_MB_s": plain / 1e6 / enc, "repeats": repeats}


def _aes(shuffle=False):
    """An AES table as notebook 04 concatenates it, with OpenSSL and CBC rows that must not be taken."""
    raw, f32, f16, u8 = aes_timing.RAW_PAYLOAD, *(aes_timing.feature_payload(d) for d in ("float32", "float16", "uint8"))
    image = aes_timing.FLOAT_IMAGE_PAYLOAD
    py, ossl = aes_timing.PYCRYPTODOME, aes_timing.OPENSSL
    rows = [
        _aes_row(raw, "gcm", py, 0.002, 0.0021), _aes_row(f32, "gcm", py, 0.002, 0.0022, shape="16x16x3"),
        _aes_row(image, "gcm", py, 0.008, 0.0081, plain=12288),
        _aes_row(f16, "gcm", py, 0.001, 0.0011, plain=1536, shape="16x16x3"),
        _aes_row(u8, "gcm", py, 0.003, 0.0031, plain=768, shape="16x16x3"),
        _aes_row(raw, "paper", py, 0.005, 0.0051), _aes_row(f32, "paper", py, 0.004, 0.0041, shape="16x16x3"),
        _aes_row(image, "paper", py, 0.010, 0.0101, plain=12288),
        _aes_row(raw, "cbc", py, 0.9, 0.9), _aes_row(f32, "cbc", py, 0.9, 0.9),
        _aes_row(raw, "gcm", ossl, 0.000002, 0.000003), _aes_row(f32, "gcm", ossl, 0.7, 0.7),
    ]
    table = pd.DataFrame(rows)
    return table.iloc[::-1].reset_index(drop=True) if shuffle else table


def _end_to_end(shuffle=False):
    """The end-to-end table of ``_parts``, optionally in shuffled row order."""
    table = pipeline_timing.end_to_end_table(_parts(), BATCH)
    return table.sample(frac=1.0, random_state=3).reset_index(drop=True) if shuffle else table


def test_payloads_and_their_sizes():
    raw = np.zeros((4, 4, 3), np.uint8)
    raw[..., 1] = 9  # a colour image: no one-channel stored form
    features = np.ones((2, 2, 3), np.float32)
    grey = aes_timing.payloads(np.zeros((4, 4, 3), np.uint8), features)  # three equal channels: stored in one
    assert grey[aes_timing.STORED_PAYLOAD].shape == (4, 4, 1) and grey[aes_timing.STORED_PAYLOAD].nbytes == 16
    payloads = aes_timing.payloads(raw, features)
    assert list(payloads) == ["raw image uint8", "image in [0, 1] float32", "features float32", "features float16", "features uint8"]
    assert payloads["features float16"].dtype == np.float16 and payloads["features uint8"].dtype == np.uint8  # wire formats, cast
    sizes = aes_timing.payload_sizes(payloads).set_index("payload")
    # the image as a Keras pipeline holds it (float32 in [0, 1]) has 4 times the bytes of the uint8 image
    assert sizes.loc[aes_timing.FLOAT_IMAGE_PAYLOAD, "bytes"] == 4 * sizes.loc[aes_timing.RAW_PAYLOAD, "bytes"] == 192
    assert sizes["bytes"].tolist() == [48, 192, 48, 24, 12] and sizes.loc["features uint8", "shape"] == "2x2x3"


def test_aes_table_times_the_float_image_on_four_times_the_bytes(rng, key):
    raw = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    table = aes_table(aes_timing.payloads(raw, rng.normal(size=(4, 4, 3)).astype(np.float32)), key, ("gcm", "paper"), repeats=3)
    rows = table.set_index(["payload", "scheme"])
    assert rows.loc[(aes_timing.FLOAT_IMAGE_PAYLOAD, "gcm"), "plaintext_bytes"] == 4 * rows.loc[(aes_timing.RAW_PAYLOAD, "gcm"), "plaintext_bytes"]
    assert rows.loc[(aes_timing.FLOAT_IMAGE_PAYLOAD, "paper"), "shape"] == "8x8x3"  # the paper scheme's rows: the first axis


def test_conversion_times_are_non_negative():
    casts = aes_timing.conversion_times(np.random.default_rng(0).normal(size=(8, 8, 3)).astype(np.float32), repeats=3)
    assert set(casts) == set(aes_timing.FEATURE_DTYPES_TIMED) and casts["float32"] == 0.0
    assert all(t >= 0 for t in casts.values()) and casts["uint8"] > 0


def test_batch_of_repeats_a_short_split():
    images = np.arange(3 * 2 * 2 * 1, dtype=np.float32).reshape(3, 2, 2, 1)
    assert pipeline_timing.batch_of(images, 2).shape == (2, 2, 2, 1)
    filled = pipeline_timing.batch_of(images, 5)
    assert filled.shape == (5, 2, 2, 1) and np.array_equal(filled[3], images[0]) and np.array_equal(filled[4], images[1])


def test_parts_table_divides_only_batch_steps():
    table = pipeline_timing.parts_table(_parts(), BATCH).set_index("step")
    assert table.loc[pipeline_timing.ENCODER_STEP, "median_s"] == pytest.approx(0.010)
    assert table.loc[pipeline_timing.batch_step("encoder", BATCH), "median_s"] == pytest.approx(0.002)
    assert table.loc[pipeline_timing.batch_step("decoder", BATCH), "iqr_s"] == pytest.approx(0.2 * 0.040 / BATCH)
    assert table.loc[pipeline_timing.ENCRYPT_RAW_STEP, "iqr_s"] == pytest.approx(0.0003)
    assert (table["repeats"] == 10).all() and len(table) == 8


def test_end_to_end_table_adds_network_and_aes_per_image():
    table = pipeline_timing.end_to_end_table(_parts(), BATCH)
    assert list(table.columns) == ["side", "method", "model_s", "aes_s", "total_s"]
    assert table["side"].tolist() == ["sender"] * 3 + ["receiver"] * 3
    rows = table.set_index(["side", "method"])
    assert rows.loc[("sender", "AES on raw image"), "total_s"] == pytest.approx(0.001)
    assert rows.loc[("sender", "encoder + AES (1 image)"), "total_s"] == pytest.approx(0.012)
    assert rows.loc[("sender", f"encoder + AES (batch {BATCH})"), "model_s"] == pytest.approx(0.002)
    assert rows.loc[("receiver", "AES + decoder (1 image)"), "total_s"] == pytest.approx(0.023)
    assert rows.loc[("receiver", f"AES + decoder (batch {BATCH})"), "total_s"] == pytest.approx(0.013)
    assert rows.loc[("receiver", "AES on raw image"), "model_s"] == 0.0


CASTS = {"float32": 0.0, "float16": 0.0005, "uint8": 0.002}


@pytest.mark.parametrize("shuffle", [False, True])
def test_table3_takes_rows_by_name(shuffle):
    table = timing_tables.table3(_aes(shuffle), _end_to_end(shuffle))
    assert list(table.columns) == ["source", "method", "bytes", "rows", "encryption_s", "decryption_s"]
    assert table["source"].tolist() == ["paper", "paper"] + ["ours"] * 7
    assert table["method"].tolist()[:2] == PAPER_TABLE3["method"].tolist()
    assert table["encryption_s"].tolist()[:2] == PAPER_TABLE3["encryption_s"].tolist()
    assert table["bytes"].iloc[:2].isna().all()
    ours = table.set_index("method")
    assert ours.loc["AES-256-GCM, raw image", ["encryption_s", "decryption_s"]].tolist() == [0.002, 0.0021]
    assert ours.loc["AES-256-GCM, features float32", "decryption_s"] == 0.0022
    assert ours.loc["AES-256-GCM, raw image as float32 in [0, 1]", ["bytes", "encryption_s"]].tolist() == [12288, 0.008]
    assert ours.loc["paper scheme (256 row keys), raw image", "encryption_s"] == 0.005
    assert ours.loc["paper scheme (256 row keys), features float32", "encryption_s"] == 0.004
    assert ours.loc["paper scheme (256 row keys), raw image as float32 in [0, 1]", "encryption_s"] == 0.010
    # the row-key scheme's row count: image against features; none for GCM
    assert ours.loc["paper scheme (256 row keys), raw image", "rows"] == 32
    assert ours.loc["paper scheme (256 row keys), features float32", "rows"] == 16
    assert pd.isna(ours.loc["AES-256-GCM, raw image", "rows"])
    whole = ours.loc["encoder + AES-256-GCM (whole sender)"]
    assert whole["encryption_s"] == pytest.approx(0.012) and whole["decryption_s"] == pytest.approx(0.023)
    assert whole["bytes"] == 3072


@pytest.mark.parametrize("shuffle", [False, True])
def test_table4_reductions_against_either_image(shuffle):
    table = timing_tables.table4(_aes(shuffle), _end_to_end(shuffle), CASTS)
    assert list(table.columns) == ["source", "comparison", "reduction_percent", "image_aes_s", "features_aes_s", "cast_s",
                                   "cast_included_reduction_percent"]
    assert table["reduction_percent"].tolist()[:2] == [50.0, 75.0]
    assert "the text says 72 %" in table["comparison"].iloc[1]
    ours = table[table["source"] == "ours"].set_index("comparison")
    assert (ours["cast_s"] >= 0).all()
    raw, image = aes_timing.RAW_PAYLOAD, aes_timing.FLOAT_IMAGE_PAYLOAD
    reduction = ours["reduction_percent"]
    assert reduction[timing_tables.comparison("gcm", "float32", raw)] == pytest.approx(0.0)
    assert reduction[timing_tables.comparison("gcm", "float32", image)] == pytest.approx(75.0)
    assert reduction[timing_tables.comparison("paper", "float32", raw)] == pytest.approx(20.0)
    assert reduction[timing_tables.comparison("paper", "float32", image)] == pytest.approx(60.0)
    f16, u8 = ours.loc[timing_tables.comparison("gcm", "float16", raw)], ours.loc[timing_tables.comparison("gcm", "uint8", raw)]
    assert (f16["reduction_percent"], f16["cast_s"], f16["cast_included_reduction_percent"]) == pytest.approx((50.0, 0.0005, 25.0))
    assert (u8["reduction_percent"], u8["cast_s"], u8["cast_included_reduction_percent"]) == pytest.approx((-50.0, 0.002, -150.0))
    assert reduction[timing_tables.sender_comparison(raw)] == pytest.approx(-500.0)
    assert reduction[timing_tables.sender_comparison(image)] == pytest.approx(-50.0)
    assert "AES-256-GCM on float32 features vs on the raw image as float32 in [0, 1]" in set(ours.index)


def test_reduction_percent_sign():
    assert timing_tables.reduction_percent(0.05, 0.016) == pytest.approx(68.0)
    assert timing_tables.reduction_percent(1.0, 2.0) == pytest.approx(-100.0)


def test_a_missing_or_repeated_row_is_an_error():
    with pytest.raises(ParameterError, match="raw image uint8"):
        timing_tables.table3(_aes()[lambda t: t["payload"] != aes_timing.RAW_PAYLOAD], _end_to_end())
    doubled = pd.concat([_aes(), _aes().iloc[:1]], ignore_index=True)
    with pytest.raises(ParameterError, match="found 2"):
        timing_tables.table4(doubled, _end_to_end(), CASTS)


def _rd():
    """A rate-distortion table: two lossless codecs (tied at 603 bytes), a lossy codec and the autoencoder's smallest wire format."""
    rows = [("PNG", "lossless", rate_distortion.LOSSLESS, 603, math.inf), ("JPEG-LS", "lossless", rate_distortion.LOSSLESS, 603, math.inf),
            ("JPEG", "q75", rate_distortion.LOSSY, 300, 35.0), ("autoencoder 16x16x3", "uint8 + lzma", rate_distortion.AUTOENCODER, 852, 30.0)]
    return pd.DataFrame([{"method": m, "setting": s, "kind": k, "bytes_mean": b, "bpp_mean": 8 * b / 1024, "psnr_db_mean": p}
                         for m, s, k, b, p in rows])


def test_conclusions_from_the_tables():
    lines = timing_tables.conclusions(_aes(shuffle=True), _end_to_end(shuffle=True), _rd(), CASTS, cpu="Test CPU", raw_shape=(32, 32, 3))
    assert len(lines) == 10
    assert lines[0] == "Measured on Test CPU, pycryptodome AES-256-GCM, medians of 10 interleaved repetitions:"
    assert "raw 32x32x3 image (uint8): 3072 bytes; float32 features: 3072 bytes (the same number of bytes)" in lines[1]
    assert "AES takes 2.000 ms and 2.000 ms (ratio 1.00" in lines[1] and "spread is 5 % of its median" in lines[1]
    assert "float32 in [0, 1]: 12288 bytes, 4 times the features; AES-GCM takes 8.000 ms on it, and 75 % less on the features" in lines[2]
    # which reading reproduces the paper's 68-75 %: the float32 image, under either scheme (75 and 60 %, within 10 points)
    assert lines[3] == ("- the paper's 68-75 % reduction is reproduced (within 10 points) by: AES-256-GCM against the raw image as "
                        "float32 in [0, 1] (75 %); paper scheme (256 row keys) against the raw image as float32 in [0, 1] (60 %). "
                        "Not by: AES-256-GCM against the raw image (0 %); paper scheme (256 row keys) against the raw image (20 %).")
    assert "encrypts 32 rows of the image and 16 of the features" in lines[4]
    assert "float16 features (half the bytes): AES takes 1.000 ms, 0.50 times float32, and the conversion 0.500 ms more: smaller" in lines[5]
    assert "uint8-quantised features (a quarter of the bytes): AES takes 3.000 ms" in lines[6] and "conversion 2.000 ms more: converting" in lines[6]
    assert "either way" in lines[7] and "encoder alone takes 10.0 ms per image, 2 times the largest AES saving measured (6.000 ms)" in lines[7]
    assert "12.0 ms, 6 times AES on the uint8 image and 2 times on the float32 image" in lines[7]
    assert "receiver (AES + decoder) 15 times" in lines[7] and lines[7].endswith("68-75 % reduction; end to end we measure an increase.")
    assert "OpenSSL takes 2 us" in lines[8] and "the paper's 0.05 s is 25 times" in lines[8]
    # the smallest lossless codec (a tie at 603 bytes goes to the first), not the smaller lossy row
    assert lines[9] == ("- PNG makes the least data that gives the image back exactly: 603 bytes (4.71 bpp) per test image on average, "
                        "against 852 bytes (6.66 bpp) for the autoencoder's smallest wire format (uint8 + lzma) at PSNR 30.0 dB.")


def test_conclusions_say_reduction_when_the_sender_is_faster():
    parts = {**_parts(), pipeline_timing.ENCODER_STEP: _t(0.0)}
    fast = pipeline_timing.end_to_end_table({**parts, pipeline_timing.ENCRYPT_FEATURES_STEP: _t(0.0005)}, BATCH)
    lines = timing_tables.conclusions(_aes(), fast, _rd(), CASTS, cpu="x", raw_shape=(2, 2, 3))
    assert lines[7].endswith("we measure a reduction.")


def test_time_breakdown_bars_are_proportional():
    from aecrypt.study.figures.draw import time_breakdown

    table = _end_to_end()
    fig = time_breakdown(table)
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "linear" for ax in fig.axes)
    sender = fig.axes[0]
    widths = [p.get_width() for p in sender.patches]  # AES bars, then network bars, in table order
    expected = table[table["side"] == "sender"]
    assert widths == pytest.approx(list(expected["aes_s"] * 1e3) + list(expected["model_s"] * 1e3))


def test_aes_at_the_papers_size_times_every_payload_and_reading():
    from aecrypt.experiments.aes_timing import DEPLOYED_PAYLOAD, PAPER_SIZE_SCHEMES, paper_size_payloads, paper_size_table, size_sweep_table
    from aecrypt.experiments.timing_tables import paper_size_findings

    rng = np.random.default_rng(0)
    arrays = paper_size_payloads(rng)
    assert arrays["raw image uint8"].nbytes == 150_528 and arrays[DEPLOYED_PAYLOAD].nbytes == 1_605_632  # Table 2's sizes
    assert arrays["features float32"].shape == (112, 112, 3)
    key = bytes(range(32))
    table = paper_size_table(key, 3, rng)
    pycrypto = table[table["backend"] == "pycryptodome"]
    assert set(pycrypto["scheme"]) == set(PAPER_SIZE_SCHEMES) and len(pycrypto) == len(arrays) * len(PAPER_SIZE_SCHEMES)
    sweep = size_sweep_table(key, 3, rng, sizes=(10_000, 100_000))
    assert list(sweep[sweep["backend"] == "pycryptodome"]["plaintext_bytes"]) == [10_000, 100_000]
    lines = paper_size_findings(table, sweep)
    assert "reproduced (within 10 points) by:" in lines[1] and "1605632 bytes" in lines[2] and "10000 bytes" in lines[3]
