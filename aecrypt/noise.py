"""Noise models of Table 6, applied with scikit-image's ``random_noise`` and a passed-in generator."""

from __future__ import annotations

import numpy as np
from skimage.util import random_noise
from aecrypt.errors import ParameterError

#: Our names for the paper's noise types, and scikit-image's names for them.
NOISE_MODES = {
    "none": None,
    "salt_pepper": "s&p",
    "speckle": "speckle",
    "poisson": "poisson",
    "gaussian": "gaussian",
}
#: scikit-image's defaults (0.22-0.26), recorded so each table says what was used.
NOISE_DEFAULTS: dict[str, dict[str, float]] = {
    "none": {},
    "salt_pepper": {"amount": 0.05, "salt_vs_pepper": 0.5},
    "speckle": {"mean": 0.0, "var": 0.01},
    "poisson": {},
    "gaussian": {"mean": 0.0, "var": 0.01},
}
#: The parameter a strength sweep varies for each kind.
STRENGTH_PARAMETER = {"salt_pepper": "amount", "speckle": "var", "gaussian": "var"}


def noise_parameters(kind: str, **params: float) -> dict[str, float]:
    """The full parameter set for ``kind``: scikit-image's defaults updated with ``params``."""
    if kind not in NOISE_MODES:
        raise ParameterError(f"noise kind must be one of {sorted(NOISE_MODES)}, not {kind!r}")
    unknown = set(params) - set(NOISE_DEFAULTS[kind])
    if unknown:
        raise ParameterError(f"{kind} noise takes {sorted(NOISE_DEFAULTS[kind]) or 'no parameters'}, not {sorted(unknown)}")
    return {**NOISE_DEFAULTS[kind], **params}


def add_noise(images: np.ndarray, kind: str, rng: np.random.Generator, **params: float) -> np.ndarray:
    """Return a noisy copy of float images in [0, 1]; reproducible from ``rng``, clipped to [0, 1]."""
    full = noise_parameters(kind, **params)
    x = np.asarray(images, dtype=np.float64)
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ParameterError("add_noise expects float images scaled to [0, 1]")
    if kind == "none":
        return x.astype(np.float32)
    noisy = random_noise(x, mode=NOISE_MODES[kind], rng=rng, clip=True, **full)
    return noisy.astype(np.float32)


#: Strength ranges of the sweep (log-spaced between these), per kind, in the parameter
#: ``STRENGTH_PARAMETER`` names; each range brackets scikit-image's default.
SWEEP_RANGES: dict[str, tuple[float, float]] = {"salt_pepper": (0.01, 0.3), "speckle": (0.005, 0.2), "gaussian": (0.001, 0.1)}
#: Words for the kinds and their strength parameters, for figure labels.
NOISE_LABELS = {"none": "no noise", "salt_pepper": "salt and pepper", "speckle": "speckle", "poisson": "Poisson", "gaussian": "Gaussian"}
STRENGTH_LABELS = {"amount": "share of pixels flipped", "var": "noise variance"}


def sweep_strengths(points: int, ranges: dict[str, tuple[float, float]] = SWEEP_RANGES) -> dict[str, list[float]]:
    """``points`` log-spaced strengths per noise kind, for ``robustness.strength_sweep``."""
    if points < 2:
        raise ParameterError(f"a sweep needs at least 2 points, not {points}")
    return {kind: [float(v) for v in np.geomspace(low, high, points)] for kind, (low, high) in ranges.items()}
