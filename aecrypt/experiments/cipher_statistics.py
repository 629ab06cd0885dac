"""Does the ciphertext look like random bytes? Byte statistics of plain and encrypted data
per scheme (notebook 06): entropy, chi-square against uniform, correlation of neighbouring
bytes, and the repeated 16-byte blocks that deterministic modes leave visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from aecrypt.errors import ParameterError
from aecrypt.method.payload import ciphertext_bytes, encrypt_features, encrypt_image
from aecrypt.method.schemes import PAPER_SCHEMES
from aecrypt.method.pixels import to_uint8

#: Byte values, and what uniform random bytes give (Wu, Noonan & Agaian, "NPCR and UACI
#: randomness tests for image encryption", Cyber Journals: JSAT, April 2011, pp. 31-38).
GRAY_LEVELS = 256
IDEAL_ENTROPY = 8.0
IDEAL_CORRELATION = 0.0
DIRECTIONS = ("horizontal", "vertical", "diagonal")
#: The schemes notebook 06 compares: the default, the paper's, and plain ECB.
SCHEMES_COMPARED = ("gcm", "paper", "paper-blocks", "ecb")
AES_BLOCK = 16
#: 5 % critical value of chi-square with 255 degrees of freedom: uniform bytes stay below it.
CHI_SQUARE_CRITICAL = 293.25


def as_bytes(data: np.ndarray | bytes) -> np.ndarray:
    """Any array or bytes object viewed as a flat uint8 array."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    return np.ascontiguousarray(data).view(np.uint8).reshape(-1)


def byte_entropy(data: np.ndarray | bytes) -> float:
    """Shannon entropy of the byte values in bits (8 for uniform random bytes)."""
    counts = np.bincount(as_bytes(data), minlength=GRAY_LEVELS)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def byte_chi_square(data: np.ndarray | bytes) -> tuple[float, float]:
    """Chi-square statistic of the byte histogram against uniform, and its p-value (255 dof)."""
    counts = np.bincount(as_bytes(data), minlength=GRAY_LEVELS)
    result = stats.chisquare(counts)
    return float(result.statistic), float(result.pvalue)


def adjacent_correlation(image: np.ndarray, direction: str) -> float:
    """Pearson correlation of each pixel with its right, lower or lower-right neighbour."""
    x = np.asarray(image, np.float64)
    if x.ndim == 3:
        x = x.mean(axis=-1)
    pairs = {
        "horizontal": (x[:, :-1], x[:, 1:]),
        "vertical": (x[:-1, :], x[1:, :]),
        "diagonal": (x[:-1, :-1], x[1:, 1:]),
    }
    if direction not in pairs:
        raise ParameterError(f"direction must be one of {sorted(pairs)}, not {direction!r}")
    a, b = (p.reshape(-1) for p in pairs[direction])
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def byte_grid(data: bytes | np.ndarray, rows: int) -> np.ndarray:
    """Bytes laid out in ``rows`` rows, as the plaintext's first axis lays them out."""
    flat = as_bytes(data)
    usable = len(flat) - len(flat) % rows
    return flat[:usable].reshape(rows, -1)


def repeated_block_share(data: bytes | np.ndarray) -> float:
    """Share of 16-byte blocks that equal another block: what ECB-style encryption keeps visible."""
    flat = as_bytes(data)
    blocks = flat[: len(flat) - len(flat) % AES_BLOCK].reshape(-1, AES_BLOCK)
    _, inverse, counts = np.unique(blocks, axis=0, return_inverse=True, return_counts=True)
    return float(np.mean(counts[inverse.reshape(-1)] > 1)) if len(blocks) else float("nan")


def byte_statistics(data: bytes | np.ndarray, rows: int) -> dict[str, float]:
    """Entropy, chi-square against uniform, adjacent-byte correlations and repeated blocks."""
    chi2, p_value = byte_chi_square(data)
    grid = byte_grid(data, rows)
    stats = {"bytes": int(as_bytes(data).size), "entropy_bits": byte_entropy(data), "chi_square": chi2, "chi_square_p": p_value}
    stats.update({f"corr_{d}": adjacent_correlation(grid, d) for d in DIRECTIONS})
    stats["repeated_blocks"] = repeated_block_share(data)
    return stats


def cipher_samples(
    image: np.ndarray, features: np.ndarray, key: bytes, schemes: tuple[str, ...], rng: np.random.Generator | None = None,
) -> dict[str, tuple[bytes, int]]:
    """The byte strings the statistics are taken of, each with the row count of its plaintext.

    The plain image and plain feature map for contrast, the feature map under each
    scheme (what the system sends), and the raw image under the deterministic schemes
    (what the same modes would leak if used on pixels). ``rng`` seeds the nonces, so the
    table repeats byte for byte (study only).
    """
    pixels = to_uint8(image)
    plain_features = np.ascontiguousarray(features, np.float32)
    samples = {
        "image (not encrypted)": (pixels.tobytes(), pixels.shape[0]),
        "feature map (not encrypted)": (plain_features.tobytes(), plain_features.shape[0]),
    }
    for scheme in schemes:
        body = ciphertext_bytes(encrypt_features(plain_features, key, scheme=scheme, rng=rng))
        samples[f"{scheme}: feature map"] = (body[: plain_features.nbytes], plain_features.shape[0])
    for scheme in schemes:
        if scheme == "ecb" or scheme in PAPER_SCHEMES:
            body = ciphertext_bytes(encrypt_image(pixels, key, scheme=scheme, rng=rng))
            samples[f"{scheme}: raw image"] = (body[: pixels.nbytes], pixels.shape[0])
    return samples


def statistics_table(samples: dict[str, tuple[bytes, int]]) -> pd.DataFrame:
    """One row of byte statistics per sample, with the ideal values as a last row."""
    rows = [{"data": name, **byte_statistics(data, n_rows)} for name, (data, n_rows) in samples.items()]
    ideal = {"data": "ideal (uniform random bytes)", "entropy_bits": IDEAL_ENTROPY, "chi_square": f"< {CHI_SQUARE_CRITICAL}"}
    ideal.update({f"corr_{d}": IDEAL_CORRELATION for d in DIRECTIONS})
    ideal["repeated_blocks"] = 0.0
    return pd.DataFrame(rows + [ideal])
