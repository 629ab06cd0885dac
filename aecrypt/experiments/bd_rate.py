"""Bjøntegaard-delta rate (BD-rate): how many percent more bits a method needs than a reference
codec for the same quality, averaged over the quality range both curves cover.

The piecewise-cubic form (pchip, as in the JCT-VC common test conditions' sheet; the
``bjontegaard`` package computes it when asked for ``method="pchip"``): log10 of the rate
is interpolated as a function of quality by a monotone piecewise-cubic Hermite curve
(PCHIP) through each method's points, both interpolants are integrated exactly over the
overlap of the two quality ranges, and the mean difference of log-rates becomes a
percentage. Negative: the method needs fewer bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aecrypt.errors import ParameterError


@dataclass(frozen=True)
class BdRate:
    """A BD-rate in percent and the quality range it was computed over (NaN where the curves do not overlap)."""

    percent: float
    low: float
    high: float


def _curve(rates: np.ndarray, qualities: np.ndarray):
    """The PCHIP of log10(rate) against quality through a method's points (sorted by quality;
    points of infinite quality, such as a lossless codec's PSNR, left out)."""
    from scipy.interpolate import PchipInterpolator  # SciPy's interpolation: loaded when a curve is fitted

    r, q = np.asarray(rates, np.float64), np.asarray(qualities, np.float64)
    keep = np.isfinite(q) & np.isfinite(r) & (r > 0)
    r, q = r[keep], q[keep]
    order = np.argsort(q, kind="stable")
    r, q = r[order], q[order]
    if len(q) < 2 or np.any(np.diff(q) <= 0):
        raise ParameterError(f"a BD-rate curve needs at least 2 points of distinct finite quality, got qualities {q.tolist()}")
    return PchipInterpolator(q, np.log10(r)), q[0], q[-1]


def bd_rate(reference: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> BdRate:
    """BD-rate of ``test`` against ``reference``, each (rates, qualities) with at least two
    points of distinct quality; NaN (with the empty range) where the quality ranges do not overlap."""
    ref, ref_low, ref_high = _curve(*reference)
    other, low, high = _curve(*test)
    low, high = max(low, ref_low), min(high, ref_high)
    if high <= low:
        return BdRate(math.nan, low, high)
    mean_log_difference = (other.integrate(low, high) - ref.integrate(low, high)) / (high - low)
    return BdRate(float(100.0 * (10.0**mean_log_difference - 1.0)), float(low), float(high))


def rate_difference_at(reference: tuple[np.ndarray, np.ndarray], rate: float, quality: float) -> float:
    """How many percent more bits one point (``rate`` at ``quality``) takes than the reference
    curve at the same quality (read off its PCHIP); NaN outside the reference's quality range.
    BD-rate's one-point case, for a method that offers a single quality (the autoencoder)."""
    ref, low, high = _curve(*reference)
    if not (np.isfinite(quality) and low <= quality <= high):
        return math.nan
    return float(100.0 * (rate / 10.0 ** float(ref(quality)) - 1.0))
