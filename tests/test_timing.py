"""Timing helpers return well-formed measurements (correctness only; nothing here asserts speed)."""

import numpy as np

from aecrypt.cipher import SCHEMES
from aecrypt.timing import aes_table, codec_table, openssl_gcm_table, time_call


def test_time_call_counts_and_orders_quantiles():
    calls = []
    result = time_call(lambda: calls.append(1), repeats=7, warmup=2)
    assert len(calls) == 9 and result["repeats"] == 7
    assert result["min_s"] <= result["q25_s"] <= result["median_s"] <= result["q75_s"]


def test_aes_table_covers_every_payload_and_scheme(rng, key):
    payloads = {"raw image uint8": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                "features float32": rng.normal(size=(4, 4, 3)).astype(np.float32)}
    table = aes_table(payloads, key, SCHEMES, repeats=3)
    assert len(table) == 2 * len(SCHEMES)
    assert set(table["plaintext_bytes"]) == {192}  # 8*8*3 uint8 == 4*4*3 float32
    assert (table["encrypt_median_s"] > 0).all()
    ossl = openssl_gcm_table(payloads, key, repeats=3)
    assert list(ossl["payload_bytes"]) == [192 + 16, 192 + 16]


def test_codec_table_reports_lossless_png(rng, key):
    image = np.repeat(rng.random((16, 16, 1)).astype(np.float32), 3, -1)
    table = codec_table(image, key, repeats=3)
    png = table[table["method"].str.startswith("PNG")].iloc[0]
    assert png["ssim"] > 0.99  # lossless up to 8-bit rounding
    assert (table["bytes"] > 0).all()
