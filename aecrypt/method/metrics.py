"""Image-quality metrics (MSE, PSNR, SSIM) of reconstructions, and the tables made of them.

Images are floats in [0, 1] with channels last unless a ``data_range`` says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from aecrypt.errors import ParameterError


def mse(original: np.ndarray, other: np.ndarray) -> float:
    """Mean squared error between two images of the same shape."""
    return float(mean_squared_error(np.asarray(original, np.float64), np.asarray(other, np.float64)))


def psnr(original: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (infinite for identical images)."""
    if mse(original, other) == 0.0:
        return math.inf
    return float(peak_signal_noise_ratio(np.asarray(original, np.float64), np.asarray(other, np.float64), data_range=data_range))


def ssim(original: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004) of two HxW or HxWxC images; 1 means identical."""
    a = np.asarray(original, np.float64)
    b = np.asarray(other, np.float64)
    channel_axis = -1 if a.ndim == 3 else None
    return float(structural_similarity(a, b, data_range=data_range, channel_axis=channel_axis, win_size=ssim_window(a.shape)))


#: The smallest side SSIM measures (its smallest window, 3x3).
SSIM_MIN_SIDE = 3
#: ``ssim_in_strips`` works on strips of about this many pixels (SSIM holds some ten float64 copies of what it compares).
SSIM_STRIP_PIXELS = 1 << 21


def ssim_window(shape: tuple[int, ...]) -> int:
    """SSIM's window side for an image of ``shape``: the default 7, smaller for tiny images (the largest odd side that fits)."""
    return min(7, (min(shape[:2]) - 1) // 2 * 2 + 1)


def ssim_in_strips(original: np.ndarray, other: np.ndarray, data_range: float = 1.0,
                   strip_pixels: int = SSIM_STRIP_PIXELS) -> float:
    """``ssim`` of two HxWxC images computed over strips of rows: the same value up to rounding, in
    memory that follows the strip, not the image (each strip reads its window's rows beyond it)."""
    height, width = original.shape[:2]
    win = ssim_window(original.shape)
    pad = (win - 1) // 2
    rows = max(win, strip_pixels // max(width, 1))
    if height <= rows + 2 * pad:
        return ssim(original, other, data_range)
    total, count = 0.0, 0
    for start in range(pad, height - pad, rows):
        stop = min(start + rows, height - pad)
        a, b = (np.asarray(x[start - pad : stop + pad], np.float64) for x in (original, other))
        _, local = structural_similarity(a, b, data_range=data_range, channel_axis=-1, win_size=win, full=True)
        kept = local[pad : pad + stop - start, pad : width - pad]
        total, count = total + float(kept.sum()), count + kept.size
    return total / count


#: SSIM's stabilising constants as fractions of the data range (Wang et al. 2004: K1, K2).
SSIM_K1, SSIM_K2 = 0.01, 0.03


def global_ssim(original: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM as the paper's Eq. 1 writes it, one window over the whole image (means,
    variances and covariance of all pixels), per channel and averaged; the usual ``ssim``
    averages the same formula over 7x7 windows, which penalises local loss more."""
    a = np.asarray(original, np.float64).reshape(-1, np.shape(original)[-1] if np.ndim(original) == 3 else 1)
    b = np.asarray(other, np.float64).reshape(a.shape)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_a, mu_b = a.mean(0), b.mean(0)
    var_a, var_b = a.var(0, ddof=1), b.var(0, ddof=1)
    cov = ((a - mu_a) * (b - mu_b)).sum(0) / (len(a) - 1)
    values = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(values.mean())


#: Pixels of the original at or above this share of white are the body, the rest background
#: (the MRI's black surround, which otherwise dominates an image's mean SSIM).
FOREGROUND_LEVEL = 0.05


def ssim_and_foreground(original: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> tuple[float, float]:
    """Windowed SSIM over the whole image and over the body alone (the original's pixels at or
    above ``FOREGROUND_LEVEL``; NaN for an image with none), from one SSIM map."""
    a = np.asarray(original, np.float64)
    b = np.asarray(other, np.float64)
    channel_axis = -1 if a.ndim == 3 else None
    win = ssim_window(a.shape)
    whole, local = structural_similarity(a, b, data_range=data_range, channel_axis=channel_axis, win_size=win, full=True)
    body = (a.mean(axis=-1) if a.ndim == 3 else a) >= FOREGROUND_LEVEL * data_range
    if not body.any():
        return float(whole), math.nan
    per_pixel = local.mean(axis=-1) if local.ndim == 3 else local
    return float(whole), float(per_pixel[body].mean())


def image_quality(originals: np.ndarray, others: np.ndarray, data_range: float = 1.0) -> pd.DataFrame:
    """MSE, PSNR, SSIM, SSIM inside the body and global SSIM (Eq. 1) of each image pair in
    two batches, one row per image."""
    if len(originals) != len(others):
        raise ParameterError(f"batches differ in length: {len(originals)} and {len(others)}")
    rows = []
    for a, b in zip(originals, others):
        whole, body = ssim_and_foreground(a, b, data_range)
        rows.append({"mse": mse(a, b), "psnr": psnr(a, b, data_range), "ssim": whole, "ssim_foreground": body,
                     "ssim_global": global_ssim(a, b, data_range)})
    return pd.DataFrame(rows)


def summarize_quality(per_image: pd.DataFrame) -> dict[str, float]:
    """Mean and standard deviation of each metric column (``ssim_mean``, ``ssim_std``, ...)."""
    summary: dict[str, float] = {}
    for column in per_image.columns:
        values = per_image[column].replace([np.inf], np.nan)
        summary[f"{column}_mean"] = float(values.mean())
        summary[f"{column}_std"] = float(values.std(ddof=0))
    return summary


def keras_accuracy(originals: np.ndarray, others: np.ndarray) -> float:
    """Keras's "accuracy" for this model: share of pixels whose largest channel matches
    (what the paper's "accuracy of 83 %" measures; not a quality measure)."""
    return float(np.mean(np.argmax(originals, -1) == np.argmax(others, -1)))


#: Images reconstructed and measured at a time by ``reconstruction_table`` (a set kept on disk
#: is never held whole in memory, nor is its reconstruction).
RECONSTRUCTION_CHUNK = 256


def reconstruction_table(sets: dict, reconstruct: Callable[[np.ndarray], np.ndarray] | None = None,
                         chunk: int = RECONSTRUCTION_CHUNK) -> pd.DataFrame:
    """One row per named image set -> count, mean and std of SSIM (7x7 windows), mean global
    SSIM (the paper's Eq. 1), MSE, PSNR, and Keras accuracy. Each set is an (originals,
    reconstructions) pair, or, given ``reconstruct``, the originals alone, reconstructed
    ``chunk`` images at a time. Empty sets are left out."""
    rows = []
    for name, value in sets.items():
        originals = value if reconstruct is not None else value[0]
        if not len(originals):
            continue
        parts, accuracies = [], []
        for start in range(0, len(originals), chunk):
            a = np.asarray(originals[start:start + chunk])
            b = reconstruct(a) if reconstruct is not None else value[1][start:start + chunk]
            parts.append(image_quality(a, b))
            accuracies.append((keras_accuracy(a, b), len(a)))
        q = summarize_quality(pd.concat(parts, ignore_index=True))
        rows.append({"images": name, "count": len(originals), "ssim": q["ssim_mean"], "ssim_std": q["ssim_std"],
                     "ssim_global": q["ssim_global_mean"],
                     "mse": q["mse_mean"], "mse_std": q["mse_std"], "psnr_db": q["psnr_mean"], "psnr_std": q["psnr_std"],
                     "keras_accuracy": accuracies[0][0] if len(accuracies) == 1
                     else sum(value * n for value, n in accuracies) / len(originals)})
    return pd.DataFrame(rows)


def reconstruction_findings(table: pd.DataFrame, paper_ssim: float) -> list[str]:
    """Sentences on a ``reconstruction_table``: test SSIM against the paper's, how much
    neighbours of training images flatter it, and how other people's scans fare."""
    rows = table.set_index("images")
    test = rows.loc[[i for i in rows.index if i.startswith("test")][0]]
    lines = [f"Test SSIM {test['ssim']:.4f} ± {test['ssim_std']:.4f} over images; MSE {test['mse']:.5f}; PSNR {test['psnr_db']:.1f} dB "
             f"(the paper reports SSIM {paper_ssim} on other images: fundus photographs at 224 px)."]
    for name, row in rows.iterrows():
        if name.startswith("guard"):
            lines.append(f"Neighbours of training slices (what the old random split tested on) score SSIM {row['ssim']:.4f}: "
                         f"{row['ssim'] - test['ssim']:+.4f} against the test slabs for this seed (REPORT.md: across seeds).")
        elif "OOD" in name:
            lines.append(f"{name}: SSIM {row['ssim']:.4f} ({row['ssim'] - test['ssim']:+.4f} against the test slabs).")
    return lines
