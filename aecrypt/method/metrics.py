"""Image-quality metrics (MSE, PSNR, SSIM, MS-SSIM) of reconstructions, and the tables made of them.

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


#: MS-SSIM's exponent per scale, finest first (Wang, Simoncelli and Bovik 2003, Table 1, as
#: in tf.image.ssim_multiscale and pytorch-msssim), and its Gaussian window: 11x11, sigma 1.5.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_WINDOW, MS_SSIM_SIGMA = 11, 1.5


def ms_ssim_scales(side: int) -> int:
    """How many of MS-SSIM's five scales an image whose shorter side is ``side`` pixels has
    room for: every scale after the first halves the image, and each must still hold the
    11x11 window (96 px: four scales, 224 px: all five, under 22 px: one)."""
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side // 2**scales >= MS_SSIM_WINDOW:
        scales += 1
    return scales


def ms_ssim(original: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> float:
    """Multi-scale SSIM (Wang et al. 2003) of two HxW or HxWxC images (each channel's, averaged).

    Gaussian 11x11 windows (sigma 1.5) over the valid region; between scales a 2x2 average
    (an odd last row or column dropped); contrast-structure at every scale and the full SSIM
    at the coarsest, each clipped at 0 and raised to its weight. Where the five scales do
    not fit (``ms_ssim_scales``), the first scales' weights are used, rescaled to sum to 1;
    an image under 11 px takes a window as wide as it is."""
    a, b = np.asarray(original, np.float64), np.asarray(other, np.float64)
    if a.shape != b.shape:
        raise ParameterError(f"images differ in shape: {a.shape} and {b.shape}")
    if a.ndim == 3:
        return float(np.mean([ms_ssim(a[..., c], b[..., c], data_range) for c in range(a.shape[-1])]))
    scales = ms_ssim_scales(min(a.shape[:2]))
    weights = np.asarray(MS_SSIM_WEIGHTS[:scales]) / sum(MS_SSIM_WEIGHTS[:scales])
    radius = min(MS_SSIM_WINDOW, (min(a.shape[:2]) - 1) // 2 * 2 + 1) // 2
    value = 1.0
    for scale, weight in enumerate(weights):
        whole, contrast = _ssim_parts(a, b, data_range, radius)
        value *= max(whole if scale == scales - 1 else contrast, 0.0) ** weight
        a, b = _halve(a), _halve(b)
    return float(value)


def _ssim_parts(a: np.ndarray, b: np.ndarray, data_range: float, radius: int) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term under a Gaussian window of ``radius``
    (sigma ``MS_SSIM_SIGMA``), over the pixels the whole window covers."""
    from scipy.ndimage import gaussian_filter

    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    inner = (slice(radius, a.shape[0] - radius), slice(radius, a.shape[1] - radius))  # the valid region

    stack = np.stack([a, b, a * a, b * b, a * b], axis=-1)  # the five local moments, filtered in one call
    mu_a, mu_b, aa, bb, ab = np.moveaxis(gaussian_filter(stack, MS_SSIM_SIGMA, truncate=radius / MS_SSIM_SIGMA, axes=(0, 1))[inner], -1, 0)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    contrast = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    return float(np.mean(luminance * contrast)), float(np.mean(contrast))


def _halve(x: np.ndarray) -> np.ndarray:
    """An image at half the size: each 2x2 block averaged (an odd last row or column dropped)."""
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w]
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) / 4


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
