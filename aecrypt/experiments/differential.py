"""Differential tests (notebook 06): how much of the ciphertext changes when one pixel or one
key bit changes, as NPCR and UACI against Wu et al.'s ideal values and critical values
(Wu, Noonan & Agaian, "NPCR and UACI randomness tests for image encryption", Cyber
Journals: JSAT, April 2011, pp. 31-38).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from aecrypt.errors import ParameterError
from aecrypt.experiments.cipher_statistics import GRAY_LEVELS, as_bytes
from aecrypt.method.payload import ciphertext_bytes, encrypt_features

IDEAL_NPCR = 99.6094
IDEAL_UACI = 33.4635
#: Significance level of the published NPCR/UACI critical values.
NPCR_UACI_ALPHA = 0.05


def npcr(cipher_a: np.ndarray | bytes, cipher_b: np.ndarray | bytes) -> float:
    """Number of pixels (bytes) change rate between two ciphertexts, in percent."""
    a, b = _same_length(cipher_a, cipher_b)
    return float(100.0 * np.mean(a != b))


def uaci(cipher_a: np.ndarray | bytes, cipher_b: np.ndarray | bytes) -> float:
    """Unified average changing intensity between two ciphertexts, in percent."""
    a, b = _same_length(cipher_a, cipher_b)
    return float(100.0 * np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)) / (GRAY_LEVELS - 1)))


def npcr_critical(n_pixels: int, alpha: float = NPCR_UACI_ALPHA) -> float:
    """Lowest NPCR (%) that passes Wu et al.'s test at level ``alpha`` for ``n_pixels`` bytes."""
    f = GRAY_LEVELS - 1
    z = stats.norm.ppf(1 - alpha)  # Wu et al.'s Φ⁻¹(α) is the upper α quantile
    return float(100.0 * (f - z * math.sqrt(f / n_pixels)) / (f + 1))


def uaci_critical_interval(n_pixels: int, alpha: float = NPCR_UACI_ALPHA) -> tuple[float, float]:
    """Interval of UACI (%) that passes Wu et al.'s test at level ``alpha`` for ``n_pixels`` bytes."""
    f = GRAY_LEVELS - 1
    mean = (f + 2) / (3 * f + 3)
    var = (f + 2) * (f**2 + 2 * f + 3) / (18 * (f + 1) ** 2 * n_pixels * f)
    z = stats.norm.ppf(1 - alpha / 2)
    return float(100.0 * (mean - z * math.sqrt(var))), float(100.0 * (mean + z * math.sqrt(var)))


def _same_length(a: np.ndarray | bytes, b: np.ndarray | bytes) -> tuple[np.ndarray, np.ndarray]:
    """Both ciphertexts as bytes, cut to the shorter one's length (padding may differ)."""
    a, b = as_bytes(a), as_bytes(b)
    n = min(len(a), len(b))
    if n == 0:
        raise ParameterError("cannot compare empty ciphertexts")
    return a[:n], b[:n]


def flip_key_bit(key: bytes, bit: int = 0) -> bytes:
    """The key with one bit inverted (bit 0 is the lowest bit of the first byte)."""
    changed = bytearray(key)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def change_one_pixel(image: np.ndarray, row: int, col: int, levels: int = 1) -> np.ndarray:
    """A copy of the image with one pixel (all channels) moved by ``levels`` grey levels of 255."""
    changed = np.array(image, np.float32, copy=True)
    step = levels / 255.0
    changed[row, col] = np.where(changed[row, col] + step <= 1.0, changed[row, col] + step, changed[row, col] - step)
    return changed


def differential_table(
    encode_one, image: np.ndarray, key: bytes, schemes: tuple[str, ...], pixel: tuple[int, int],
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """NPCR and UACI between ciphertexts for a one-pixel plaintext change, a one-bit key change,
    and (for contrast) the same plaintext encrypted twice, per scheme, beside the ideal values.

    ``encode_one`` maps an image to its feature map (the encoder). With a fresh random nonce
    (gcm, ctr, cbc) any two encryptions differ completely, so the third test shows how much
    of the first two is the nonce alone. ``rng`` seeds those nonces (study only).
    """
    features = encode_one(image)
    changed = encode_one(change_one_pixel(image, *pixel))
    other_key = flip_key_bit(key)
    n_bytes = features.astype(np.float32).nbytes
    low, high = uaci_critical_interval(n_bytes)
    rows = [_differential_row("feature map (not encrypted)", "one pixel changed", features.astype(np.float32).tobytes(),
                              changed.astype(np.float32).tobytes(), n_bytes, low, high)]
    for scheme in schemes:
        body = lambda f, k: ciphertext_bytes(encrypt_features(f, k, scheme=scheme, rng=rng))[:n_bytes]  # noqa: E731
        base = body(features, key)
        tests = {
            "one pixel changed": body(changed, key),
            "one key bit changed": body(features, other_key),
            "same plaintext, same key": body(features, key),
        }
        for test, other in tests.items():
            rows.append(_differential_row(scheme, test, base, other, n_bytes, low, high))
    return pd.DataFrame(rows)


def _differential_row(scheme: str, test: str, a: bytes, b: bytes, n_bytes: int, low: float, high: float) -> dict:
    """NPCR/UACI of two byte strings and whether they pass Wu et al.'s tests at 5 %."""
    n, u = npcr(a, b), uaci(a, b)
    critical = npcr_critical(n_bytes)
    return {"scheme": scheme, "test": test, "npcr": n, "uaci": u, "npcr_ideal": IDEAL_NPCR, "npcr_critical": critical,
            "uaci_ideal": IDEAL_UACI, "uaci_low": low, "uaci_high": high,
            "passes": bool(n >= critical and low <= u <= high)}
