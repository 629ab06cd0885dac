"""Noise models of Table 6, applied with scikit-image's ``random_noise`` (Poisson with a photon
count of our own) and a passed-in generator; and the strengths that match the paper's noisy SSIM."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from skimage.util import random_noise

from aecrypt.errors import ParameterError

#: Our names for the paper's noise types, in Table 6's order ("none": the clean images);
#: every table, sweep and figure of noise takes its kinds from here.
NOISE_KINDS = ("none", "salt_pepper", "speckle", "poisson", "gaussian")
#: scikit-image's name for each kind.
NOISE_MODES = {
    "none": None,
    "salt_pepper": "s&p",
    "speckle": "speckle",
    "poisson": "poisson",
    "gaussian": "gaussian",
}
#: Photon count of Poisson noise at white (1.0): the image is scaled to counts, drawn, scaled
#: back. 256 is what scikit-image uses on an 8-bit image (2 to the power of its bits); on
#: float images it takes the number of distinct values instead, rounded up to a power of two:
#: at most one per pixel, so thousands or tens of thousands on a slice, and it adds little
#: visible noise.
POISSON_PEAK = 256.0
#: scikit-image's defaults (0.22-0.26), and our Poisson peak, recorded so each table says what was used.
NOISE_DEFAULTS: dict[str, dict[str, float]] = {
    "none": {},
    "salt_pepper": {"amount": 0.05, "salt_vs_pepper": 0.5},
    "speckle": {"mean": 0.0, "var": 0.01},
    "poisson": {"peak": POISSON_PEAK},
    "gaussian": {"mean": 0.0, "var": 0.01},
}
#: The parameter a strength sweep or calibration varies for each kind (for Poisson, fewer counts: more noise).
STRENGTH_PARAMETER = {"salt_pepper": "amount", "speckle": "var", "poisson": "peak", "gaussian": "var"}


def noise_parameters(kind: str, **params: float) -> dict[str, float]:
    """The full parameter set for ``kind``: scikit-image's defaults updated with ``params``."""
    if kind not in NOISE_MODES:
        raise ParameterError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, not {kind!r}")
    unknown = set(params) - set(NOISE_DEFAULTS[kind])
    if unknown:
        raise ParameterError(f"{kind} noise takes {sorted(NOISE_DEFAULTS[kind]) or 'no parameters'}, not {sorted(unknown)}")
    return {**NOISE_DEFAULTS[kind], **params}


def add_noise(images: np.ndarray, kind: str, rng: np.random.Generator, **params: float) -> np.ndarray:
    """Return a noisy copy of float images in [0, 1]; reproducible from ``rng``, clipped to [0, 1].

    Grey images stored with equal channels (MRI replicated to the model's three) get one
    noise field, replicated: a scanner adds noise to the one grey value of a pixel, not
    independently to three copies of it. Colour images get noise per channel.
    """
    full = noise_parameters(kind, **params)
    x = np.asarray(images, dtype=np.float64)
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ParameterError("add_noise expects float images scaled to [0, 1]")
    if kind == "none":
        return x.astype(np.float32)
    if x.ndim >= 3 and x.shape[-1] > 1 and np.array_equal(x, np.broadcast_to(x[..., :1], x.shape)):
        return np.repeat(add_noise(x[..., :1], kind, rng, **params), x.shape[-1], axis=-1)
    if kind == "poisson":
        peak = full["peak"]
        if not peak > 0:
            raise ParameterError(f"Poisson noise needs a positive photon count, not peak={peak}")
        return np.clip(rng.poisson(x * peak) / peak, 0.0, 1.0).astype(np.float32)
    noisy = random_noise(x, mode=NOISE_MODES[kind], rng=rng, clip=True, **full)
    return noisy.astype(np.float32)


def oracle_sigma(kind: str, clean: np.ndarray, noisy: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """The noise's true standard deviation per image, as an oracle denoiser is told it: the
    model's own for Gaussian noise (sqrt(var)), 0 for none, and for the kinds whose spread
    depends on the pixel (salt and pepper, speckle, Poisson) the measured std of noisy - clean."""
    if kind == "none":
        return np.zeros(len(clean))
    if kind == "gaussian":
        return np.full(len(clean), math.sqrt(noise_parameters(kind, **params)["var"]))
    diff = np.asarray(noisy, np.float64) - np.asarray(clean, np.float64)
    return diff.reshape(len(diff), -1).std(axis=1)


#: Strength ranges of the sweep (log-spaced between these), per kind, in the parameter
#: ``STRENGTH_PARAMETER`` names; each range brackets scikit-image's default.
SWEEP_RANGES: dict[str, tuple[float, float]] = {"salt_pepper": (0.01, 0.3), "speckle": (0.005, 0.2), "gaussian": (0.001, 0.1)}
#: Words for the kinds and their strength parameters, for figure labels.
NOISE_LABELS = {"none": "no noise", "salt_pepper": "salt and pepper", "speckle": "speckle", "poisson": "Poisson", "gaussian": "Gaussian"}
STRENGTH_LABELS = {"amount": "share of pixels flipped", "var": "noise variance", "peak": "photon count at white"}
#: Words for what a sweep varies, per kind: the strength axis of a sweep figure.
STRENGTH_AXIS_LABELS = {kind: STRENGTH_LABELS[parameter] for kind, parameter in STRENGTH_PARAMETER.items()}


def sweep_strengths(points: int, ranges: dict[str, tuple[float, float]] = SWEEP_RANGES) -> dict[str, list[float]]:
    """``points`` log-spaced strengths per noise kind, for ``robustness.strength_sweep``."""
    if points < 2:
        raise ParameterError(f"a sweep needs at least 2 points, not {points}")
    return {kind: [float(v) for v in np.geomspace(low, high, points)] for kind, (low, high) in ranges.items()}


# ------------------------------------------------------- strengths matched to the paper

#: Where the calibration searches, per kind, from the weakest to the strongest noise (log scale).
CALIBRATION_RANGES: dict[str, tuple[float, float]] = {
    "salt_pepper": (1e-5, 1.0), "speckle": (1e-5, 100.0), "poisson": (1e6, 0.01), "gaussian": (1e-6, 10.0),
}
#: The calibration stops when the mean SSIM is this close to its target.
CALIBRATION_TOLERANCE = 0.005
#: Bisection steps at most (each halves the log-range; 40 is far below any float's resolution).
CALIBRATION_STEPS = 40
#: Test images the calibration averages SSIM over (it needs no model, only noise and SSIM).
CALIBRATION_IMAGES = 16


def mean_noisy_ssim(images: np.ndarray, kind: str, seed: int, **params: float) -> float:
    """Mean SSIM of the noisy images against the clean ones, noise drawn from a fixed stream."""
    from aecrypt.method.metrics import ssim

    noisy = add_noise(images, kind, np.random.default_rng([seed, NOISE_KINDS.index(kind)]), **params)
    return float(np.mean([ssim(a, b) for a, b in zip(images, noisy)]))


def calibrate_strength(images: np.ndarray, kind: str, target: float, seed: int, tolerance: float = CALIBRATION_TOLERANCE) -> dict:
    """The strength of ``kind`` at which the noisy images' mean SSIM equals ``target``, by
    bisection on the log of ``STRENGTH_PARAMETER[kind]`` within ``CALIBRATION_RANGES[kind]``,
    each step on the same noise stream (deterministic). An unreachable target gives the end
    of the range nearest to it and ``reached=False``."""
    if kind not in CALIBRATION_RANGES:
        raise ParameterError(f"no strength to calibrate for {kind!r}; choose one of {sorted(CALIBRATION_RANGES)}")
    parameter = STRENGTH_PARAMETER[kind]
    weak, strong = (math.log(v) for v in CALIBRATION_RANGES[kind])
    measure = lambda log_value: mean_noisy_ssim(images, kind, seed, **{parameter: math.exp(log_value)})  # noqa: E731
    tried = {weak: measure(weak), strong: measure(strong)}
    if tried[weak] >= target >= tried[strong]:
        for _ in range(CALIBRATION_STEPS):
            middle = (weak + strong) / 2
            tried[middle] = value = measure(middle)
            if abs(value - target) <= tolerance:
                break
            weak, strong = (middle, strong) if value > target else (weak, middle)
    best = min(tried, key=lambda v: abs(tried[v] - target))
    reached = abs(tried[best] - target) <= tolerance
    return {"noise": kind, "parameter": parameter, "value": math.exp(best), "target_ssim": target, "ssim": tried[best],
            "images": len(images), "reached": reached, "evaluations": len(tried)}


def calibrate(images: np.ndarray, targets: dict[str, float], seed: int, tolerance: float = CALIBRATION_TOLERANCE) -> pd.DataFrame:
    """``calibrate_strength`` for each kind and target SSIM, one row each, with a note that says
    whether the target was reached and, if not, how close the range's end came."""
    rows = []
    for kind, target in targets.items():
        row = calibrate_strength(images, kind, target, seed, tolerance)
        row["note"] = (f"reached: SSIM {row['ssim']:.3f} at {row['parameter']}={row['value']:.4g}" if row["reached"] else
                       f"unreachable: SSIM {row['ssim']:.3f} at {row['parameter']}={row['value']:.4g} is as close as "
                       f"{kind.replace('_', ' and ')} noise gets on these images")
        rows.append(row)
    return pd.DataFrame(rows)


def matched_parameters(calibration: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The noise parameters ``calibrate`` found, per kind that reached its target, for
    ``robustness.noise_table`` (a kind that cannot reach it has no matched level to test at)."""
    return {row["noise"]: {row["parameter"]: float(row["value"])} for _, row in calibration.iterrows() if row["reached"]}
