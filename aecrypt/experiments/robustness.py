"""Table 6: how noisy images fare through the full pipeline, against classical denoisers.

The pipeline is encode -> encrypt -> decrypt -> decode; the baselines are what a reader
would try first on the same noisy images: a 3x3 median filter, non-local means and (where
the ``bm3d`` package installs) BM3D; and the same autoencoder fine-tuned for denoising.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter
from skimage.restoration import denoise_nl_means, estimate_sigma

from aecrypt.method.metrics import image_quality, summarize_quality
from aecrypt.paper import PAPER_TABLE6
from aecrypt.method.noise import NOISE_KINDS, STRENGTH_PARAMETER, add_noise, noise_parameters, oracle_sigma
from aecrypt.progress import live
from aecrypt.seeds import stream
from aecrypt.data.shards import ShardedImages

MEDIAN_SIZE = 3
#: non-local means settings (scikit-image's tutorial values, h scaled by the estimated noise).
NLM_PATCH, NLM_DISTANCE, NLM_H_FACTOR = 5, 6, 0.8


def median_baseline(images: np.ndarray) -> np.ndarray:
    """3x3 median filter on each image and channel."""
    return np.stack([median_filter(x, size=(MEDIAN_SIZE, MEDIAN_SIZE, 1)) for x in images]).astype(np.float32)


def nl_means_baseline(images: np.ndarray, sigmas: np.ndarray | None = None, workers: int | None = None) -> np.ndarray:
    """Non-local means (scikit-image), its strength set from each image's noise level: estimated
    (``sigmas`` None) or given (an oracle's; an image given 0 has no noise and is returned as it is).
    Images are spread over ``workers`` threads (default: one per CPU; the filter releases the
    GIL), each image computed alone: the same numbers as one at a time."""
    if not len(images):
        return np.asarray(images, np.float32)
    given = [None] * len(images) if sigmas is None else list(sigmas)
    with ThreadPoolExecutor(min(len(images), workers or os.cpu_count() or 1)) as pool:
        return np.clip(np.stack(list(pool.map(_nl_means_image, list(images), given))), 0, 1).astype(np.float32)


def _nl_means_image(x: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Non-local means on one image; grey images (equal channels) as one channel; the noise
    level estimated unless ``sigma`` is given (0: no noise, the image is returned as it is)."""
    if sigma is not None and sigma == 0:
        return np.asarray(x, np.float32)
    grey = np.allclose(x[..., 0], x[..., -1])
    channel = x[..., :1] if grey else x
    sigma = float(np.mean(estimate_sigma(channel, channel_axis=-1))) if sigma is None else float(sigma)
    den = denoise_nl_means(channel, h=NLM_H_FACTOR * max(sigma, 1e-3), sigma=sigma, patch_size=NLM_PATCH,
                           patch_distance=NLM_DISTANCE, fast_mode=True, channel_axis=-1)
    den = den.reshape(channel.shape)
    return np.repeat(den, x.shape[-1], -1) if grey else den


def bm3d_available() -> bool:
    """Whether the optional ``bm3d`` package imports on this machine."""
    try:
        import bm3d  # noqa: F401
    except Exception:  # a missing package or a binary that does not load
        return False
    return True


def bm3d_baseline(images: np.ndarray, workers: int | None = None, sigmas: np.ndarray | None = None) -> np.ndarray:
    """BM3D (Makinen et al.; the ``bm3d`` package) with the noise level estimated per image,
    or given in ``sigmas`` (an oracle's; an image given 0 is returned as it is).

    Each image runs on one thread (with more, the package's output varies from run to run,
    as it says), and images are spread over ``workers`` threads (default: one per CPU):
    the same numbers as one at a time, in a fraction of the time.
    """
    if not len(images):
        return np.asarray(images, np.float32)
    workers = min(len(images), workers or os.cpu_count() or 1)
    given = [None] * len(images) if sigmas is None else list(sigmas)
    with ThreadPoolExecutor(workers) as pool:  # the package's C core releases the GIL
        return np.stack(list(pool.map(_bm3d_image, list(images), given)))


def _bm3d_image(x: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """BM3D on one image on one thread; grey images (equal channels) as one channel; the noise
    level estimated unless ``sigma`` is given (0: no noise, the image is returned as it is)."""
    import bm3d

    if sigma is not None and sigma == 0:
        return np.asarray(x, np.float32)
    profile = bm3d.BM3DProfile()
    profile.num_threads = 1
    grey = np.allclose(x[..., 0], x[..., -1])
    channel = x[..., 0] if grey else x
    if sigma is None:
        sigma = float(np.mean(estimate_sigma(channel, channel_axis=None if grey else -1)))
    sigma = max(float(sigma), 1e-3)
    den = bm3d.bm3d(channel, sigma_psd=sigma, profile=profile) if grey else bm3d.bm3d_rgb(channel, sigma, profile=profile)
    den = np.repeat(np.asarray(den)[..., None], x.shape[-1], -1) if grey else np.asarray(den)
    return np.clip(den, 0, 1).astype(np.float32)


@dataclass(frozen=True)
class Oracle:
    """A denoiser told the noise's true level: ``noise_table`` calls ``fn(images, sigmas=...)``
    with ``noise.oracle_sigma`` per image, on the first ``images`` only if that is set."""

    fn: Callable[..., np.ndarray]
    images: int | None = None


#: Method names of the baselines, with the noise level each is given: estimated from the noisy image, or the oracle's.
NLM_ESTIMATED, NLM_ORACLE = "non-local means (estimated sigma)", "non-local means (oracle sigma)"
#: The fast classical baselines; BM3D (the slowest method by far) is added by the notebook on a
#: subset of images (``bm3d_methods``).
BASELINES: dict[str, Callable[[np.ndarray], np.ndarray] | Oracle] = {
    "median 3x3": median_baseline, NLM_ESTIMATED: nl_means_baseline, NLM_ORACLE: Oracle(nl_means_baseline),
}
Method = Callable[[np.ndarray], np.ndarray] | tuple[Callable[[np.ndarray], np.ndarray], int | None] | Oracle


def bm3d_name(sigma: str, images: int) -> str:
    """BM3D's method name, with its noise level ('estimated' or 'oracle') and the images it runs on."""
    return f"BM3D ({sigma} sigma, first {images} images)" if images != 1 else f"BM3D ({sigma} sigma, first image only)"


def bm3d_methods(images: int) -> dict[str, Method]:
    """BM3D with the estimated and with the oracle noise level, each on the first ``images`` images only."""
    return {bm3d_name("estimated", images): (bm3d_baseline, images), bm3d_name("oracle", images): Oracle(bm3d_baseline, images)}


def noisy_pairs(images: np.ndarray, rng: np.random.Generator, kinds: tuple[str, ...] = NOISE_KINDS) -> tuple[np.ndarray, np.ndarray]:
    """(noisy inputs, clean targets): each image gets one noise kind, drawn at random, at its
    defaults (by default Table 6's four and clean images, so a denoising model does not forget them)."""
    choice = rng.integers(0, len(kinds), len(images))
    noisy = np.empty_like(images, dtype=np.float32)
    for index, kind in enumerate(kinds):
        members = np.flatnonzero(choice == index)
        if len(members):
            noisy[members] = add_noise(images[members], kind, rng, **noise_parameters(kind))
    return noisy, np.asarray(images, np.float32)


def noisy_stream(images, seed: int, batch_size: int, shuffle: bool):
    """(noisy inputs, clean targets) batches for images kept on disk (``shards.ShardedImages``),
    drawn batch by batch as a ``tf.data.Dataset``: never the whole set, nor a noisy copy, in
    memory. The training set gets a fresh shuffle and fresh noise each epoch (the in-memory
    path draws its noise once); validation gets the same draws every time."""
    from aecrypt.method.streaming import batch_dataset

    passes = {"count": -1, "order": None}

    def read(start: int, stop: int):
        if start == 0:  # a new pass over the set (batches are read in order)
            passes["count"] += 1
            rng = stream(seed, "denoising", passes["count"] if shuffle else 0)
            passes["order"] = rng.permutation(len(images)) if shuffle else np.arange(len(images))
        rng = stream(seed, "denoising", passes["count"] if shuffle else 0, start)
        return noisy_pairs(images[passes["order"][start:stop]], rng)

    shape = tuple(images.shape[1:])
    return batch_dataset(len(images), batch_size, read, (shape, shape))


def train_denoising_model(encoder, decoder, train_images: np.ndarray, val_images: np.ndarray, epochs: int, seed: int, batch_size: int = 16, progress: bool = True):
    """The same architecture taught to denoise: a copy of the trained encoder and decoder,
    fine-tuned on noisy inputs with clean targets (fresh noise draws for validation);
    images kept on disk are noised batch by batch as they are read (``noisy_stream``).

    Returns the new encoder, decoder and training result; the originals are left untouched.
    """
    import keras

    from aecrypt.method.training import seed_everything, train_autoencoder

    seed_everything(seed)
    new_encoder, new_decoder = keras.models.clone_model(encoder), keras.models.clone_model(decoder)
    new_encoder.set_weights(encoder.get_weights())
    new_decoder.set_weights(decoder.get_weights())
    inputs = keras.Input(encoder.input_shape[1:])
    autoencoder = keras.Model(inputs, new_decoder(new_encoder(inputs)))
    if isinstance(train_images, ShardedImages):  # larger than memory: noisy batches drawn as they are read
        train, val = (noisy_stream(train_images, seed, batch_size, shuffle=True),
                      noisy_stream(val_images, seed, batch_size, shuffle=False))
    else:
        rng = stream(seed, "denoising")
        train, val = noisy_pairs(train_images, rng), noisy_pairs(val_images, rng)
    result = train_autoencoder(autoencoder, train, val, epochs=epochs, batch_size=batch_size, seed=seed, progress=progress,
                               label="denoising fine-tune")
    return new_encoder, new_decoder, result


def noise_table(
    originals: np.ndarray,
    pipeline: Callable[[np.ndarray], np.ndarray],
    kinds: list[str],
    seed: int,
    baselines: dict[str, Method] | None = None,
    params: dict[str, dict] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Metrics against the originals for noisy, pipeline and baseline outputs, per noise kind.

    A baseline given as ``(function, n)`` runs on the first ``n`` images only (for slow
    ones), one given as ``Oracle`` is told each image's true noise level
    (``noise.oracle_sigma``); each row says over how many images it is. Returns the long
    table (one row per kind and method, mean and std of SSIM, MSE, PSNR) and the images,
    for example grids.
    """
    baselines = BASELINES if baselines is None else baselines
    params = params or {}
    rows, images = [], {}
    for index, kind in enumerate(kinds):
        rng = np.random.default_rng([seed, index])
        used = noise_parameters(kind, **params.get(kind, {}))
        noisy = add_noise(originals, kind, rng, **used)
        sigmas = oracle_sigma(kind, originals, noisy, used)
        outputs = {"noisy input": noisy, "autoencoder pipeline": pipeline(noisy)}
        for name, method in baselines.items():
            if isinstance(method, Oracle):
                outputs[name] = method.fn(noisy[: method.images], sigmas=sigmas[: method.images])
                continue
            fn, limit = method if isinstance(method, tuple) else (method, None)
            outputs[name] = fn(noisy if limit is None else noisy[:limit])
        images[kind] = outputs
        live(f"{kind} noise: {len(outputs) - 1} methods on {len(originals)} images")
        for method, result in outputs.items():
            summary = summarize_quality(image_quality(originals[: len(result)], result))
            rows.append({"noise": kind, "parameters": _describe(used), "method": method, "images": len(result), **summary})
    return pd.DataFrame(rows), images


def strength_sweep(
    originals: np.ndarray,
    pipeline: Callable[[np.ndarray], np.ndarray],
    strengths: dict[str, list[float]],
    seed: int,
    baselines: dict[str, Method] | None = None,
) -> pd.DataFrame:
    """SSIM of noisy, pipeline and baseline outputs as each noise kind's strength grows."""
    frames = []
    for kind, values in strengths.items():
        for value in values:
            table, _ = noise_table(originals, pipeline, [kind], seed, baselines, {kind: {STRENGTH_PARAMETER[kind]: value}})
            table["strength"] = value
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


#: Table 6's columns (``<name>_noisy``, ``<name>_pipeline``) and the long table's metric each
#: comes from: the paper's SSIM and MSE, then PSNR, SSIM inside the body and global SSIM (Eq. 1).
TABLE6_METRICS = {"ssim": "ssim", "mse": "mse", "psnr": "psnr", "foreground_ssim": "ssim_foreground", "global_ssim": "ssim_global"}
#: For each metric of the long tables, whether a larger value is better.
HIGHER_IS_BETTER = {"ssim": True, "mse": False, "psnr": True, "ssim_foreground": True}
PIPELINE, NOISY = "autoencoder pipeline", "noisy input"


def table6(long_by_data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The paper's Table 6 layout (SSIM and MSE of the noisy input and of the pipeline's
    output) for each image set, from ``noise_table``'s long tables, with the noise
    parameters used, the global SSIM (the paper's Eq. 1 over the whole image) beside the
    windowed one, and the paper's numbers beside ours in columns labelled ``paper_``."""
    frames = []
    for data, long in long_by_data.items():
        kinds = [k for k in NOISE_KINDS if k in set(long["noise"])]
        columns = {prefix: f"{metric}_mean" for prefix, metric in TABLE6_METRICS.items() if f"{metric}_mean" in long}
        wide = long.pivot(index="noise", columns="method", values=[*columns.values(), "images"]).reindex(kinds)
        parameters = long.groupby("noise")["parameters"].first().reindex(kinds)
        frames.append(pd.DataFrame({
            "data": data, "noise": kinds, "parameters": parameters.values, "images": wide[("images", PIPELINE)].astype(int).values,
            **{f"{prefix}_{side}": wide[(column, method)].values for prefix, column in columns.items()
               for side, method in (("noisy", NOISY), ("pipeline", PIPELINE))},
        }))
    paper = PAPER_TABLE6.add_prefix("paper_").rename(columns={"paper_noise": "noise"})
    return pd.concat(frames, ignore_index=True).merge(paper, on="noise", how="left")


#: Table 6's noise kinds whose strength is matched to the paper's noisy-input SSIM.
MATCHED_KINDS = [k for k in NOISE_KINDS if k != "none"]


def paper_noisy_ssim() -> dict[str, float]:
    """The paper's Table 6 SSIM of each noisy input, the targets of the matched table."""
    paper = PAPER_TABLE6.set_index("noise")["ssim_noisy"]
    return {kind: float(paper[kind]) for kind in MATCHED_KINDS}


def matched_table6(long: pd.DataFrame, calibration: pd.DataFrame, data: str) -> pd.DataFrame:
    """Table 6 at the paper's noise levels: ``table6`` of one image set whose noise strengths
    came from ``noise.calibrate``, with the target SSIM and a ``calibration`` note per kind.
    A kind whose target no strength reaches gets a row that says so, with no measurements."""
    notes = calibration.set_index("noise")
    kinds = [k for k in MATCHED_KINDS if k in notes.index]
    measured = table6({data: long}) if len(long) else pd.DataFrame(columns=["data", "noise"])
    table = measured.set_index("noise").reindex(kinds).reset_index()
    table["data"] = data
    table["parameters"] = table["parameters"].fillna("none matches")
    paper = PAPER_TABLE6.set_index("noise")
    for column in ("ssim_noisy", "ssim_pipeline", "mse_noisy", "mse_pipeline"):
        table[f"paper_{column}"] = table["noise"].map(paper[column])
    table["target_ssim_noisy"] = table["noise"].map(notes["target_ssim"])
    table["calibration"] = table["noise"].map(notes["note"])
    return table[["data", "noise", *(c for c in table.columns if c not in ("data", "noise"))]]


def best_methods(long: pd.DataFrame) -> pd.DataFrame:
    """The best method per noise kind under each metric (``HIGHER_IS_BETTER``), the noisy input
    among them, over the methods measured on every image of the set (a subset-only method such as BM3D on a
    few images is compared where it ran on them all)."""
    rows = []
    full = long[long["images"] == long.groupby("noise")["images"].transform("max")]
    for kind, group in full.groupby("noise", sort=False):  # the noisy input too: no method may help
        for metric, higher in HIGHER_IS_BETTER.items():
            column = f"{metric}_mean"
            if column not in group or group[column].isna().all():
                continue
            best = group.loc[group[column].idxmax() if higher else group[column].idxmin()]
            rows.append({"noise": kind, "metric": metric, "best_method": best["method"], "value": best[column]})
    return pd.DataFrame(rows, columns=["noise", "metric", "best_method", "value"])


def findings(table: pd.DataFrame, long: pd.DataFrame, data: str) -> list[str]:
    """One line per noise kind for one image set: does the pipeline improve the noisy input by
    SSIM and by MSE, which method does best under each metric (and whether they disagree),
    and what the paper reported."""
    rows = table[table["data"] == data].set_index("noise")
    best = best_methods(long)
    lines = []
    for kind in rows.index.drop("none", errors="ignore"):
        row = rows.loc[kind]
        if kind not in set(long["noise"]):
            lines.append(f"{data}, {kind}: not measured ({row.get('calibration', 'no images')})")
            continue
        gain = row["ssim_pipeline"] - row["ssim_noisy"]
        mse_word = "lowers" if row["mse_pipeline"] < row["mse_noisy"] else "RAISES"
        winners = best[best["noise"] == kind].set_index("metric")["best_method"]
        agree = "all metrics agree" if winners.nunique() == 1 else "the metrics disagree"
        lines.append(f"{data}, {kind}: SSIM noisy {row['ssim_noisy']:.3f} -> pipeline {row['ssim_pipeline']:.3f} "
                     f"({'better' if gain > 0 else 'worse'} by {abs(gain):.3f}); the pipeline {mse_word} MSE "
                     f"({row['mse_noisy']:.5f} -> {row['mse_pipeline']:.5f}); best by "
                     + ", ".join(f"{metric}: {method}" for metric, method in winners.items())
                     + f" ({agree}); paper: SSIM {row['paper_ssim_noisy']} -> {row['paper_ssim_pipeline']}")
    return lines


def _describe(params: dict[str, float]) -> str:
    """Noise parameters as 'name=value' text for a table cell."""
    return ", ".join(f"{k}={v:g}" for k, v in params.items()) or "-"
