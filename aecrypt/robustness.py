"""Table 6: how noisy images fare through the full pipeline, against classical denoisers.

The pipeline is encode -> encrypt -> decrypt -> decode; the baselines are what a reader
would try first on the same noisy images: a 3x3 median filter and non-local means.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter
from skimage.restoration import denoise_nl_means, estimate_sigma

from aecrypt.metrics import image_quality, summarize_quality
from aecrypt.noise import STRENGTH_PARAMETER, add_noise, noise_parameters

MEDIAN_SIZE = 3
#: non-local means settings (scikit-image's tutorial values, h scaled by the estimated noise).
NLM_PATCH, NLM_DISTANCE, NLM_H_FACTOR = 5, 6, 0.8


def median_baseline(images: np.ndarray) -> np.ndarray:
    """3x3 median filter on each image and channel."""
    return np.stack([median_filter(x, size=(MEDIAN_SIZE, MEDIAN_SIZE, 1)) for x in images]).astype(np.float32)


def nl_means_baseline(images: np.ndarray) -> np.ndarray:
    """Non-local means (scikit-image), strength set from each image's estimated noise level."""
    out = []
    for x in images:
        grey = np.allclose(x[..., 0], x[..., -1])
        channel = x[..., :1] if grey else x
        sigma = float(np.mean(estimate_sigma(channel, channel_axis=-1)))
        den = denoise_nl_means(channel, h=NLM_H_FACTOR * max(sigma, 1e-3), sigma=sigma, patch_size=NLM_PATCH,
                               patch_distance=NLM_DISTANCE, fast_mode=True, channel_axis=-1)
        den = den.reshape(channel.shape)
        out.append(np.repeat(den, x.shape[-1], -1) if grey else den)
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


BASELINES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"median 3x3": median_baseline, "non-local means": nl_means_baseline}


def noise_table(
    originals: np.ndarray,
    pipeline: Callable[[np.ndarray], np.ndarray],
    kinds: list[str],
    seed: int,
    baselines: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    params: dict[str, dict] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Metrics against the originals for noisy, pipeline and baseline outputs, per noise kind.

    Returns the long table (one row per kind and method, mean and std of SSIM, MSE, PSNR)
    and the images, for example grids.
    """
    baselines = BASELINES if baselines is None else baselines
    params = params or {}
    rows, images = [], {}
    for index, kind in enumerate(kinds):
        rng = np.random.default_rng([seed, index])
        used = noise_parameters(kind, **params.get(kind, {}))
        noisy = add_noise(originals, kind, rng, **used)
        outputs = {"noisy input": noisy, "autoencoder pipeline": pipeline(noisy)}
        outputs.update({name: fn(noisy) for name, fn in baselines.items()})
        images[kind] = outputs
        for method, result in outputs.items():
            summary = summarize_quality(image_quality(originals, result))
            rows.append({"noise": kind, "parameters": _describe(used), "method": method, **summary})
    return pd.DataFrame(rows), images


def strength_sweep(
    originals: np.ndarray,
    pipeline: Callable[[np.ndarray], np.ndarray],
    strengths: dict[str, list[float]],
    seed: int,
    baselines: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> pd.DataFrame:
    """SSIM of noisy, pipeline and baseline outputs as each noise kind's strength grows."""
    frames = []
    for kind, values in strengths.items():
        for value in values:
            table, _ = noise_table(originals, pipeline, [kind], seed, baselines, {kind: {STRENGTH_PARAMETER[kind]: value}})
            table["strength"] = value
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _describe(params: dict[str, float]) -> str:
    """Noise parameters as 'name=value' text for a table cell."""
    return ", ".join(f"{k}={v:g}" for k, v in params.items()) or "-"
