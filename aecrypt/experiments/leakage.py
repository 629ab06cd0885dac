"""How close test images are to training images: the split's leakage, measured.

A test image that is a near-copy of a training image (the next slice of the same volume,
the same eye photographed twice, a mirror image) measures memory, not generalisation.
For each test image we find its most similar training image by SSIM, comparing grey
thumbnails with the training images and their left-right mirrors, and report the spread.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter
from skimage.transform import resize

from aecrypt.errors import ParameterError
from aecrypt.method.metrics import SSIM_K1, SSIM_K2

#: Side of the grey thumbnails compared (all pairs at full size would take minutes).
THUMBNAIL_SIZE = 64
#: scikit-image's SSIM defaults: 7x7 uniform window, data range 1, sample covariance.
SSIM_WINDOW = 7
#: A test image at least this similar (SSIM of thumbnails) to a training image is
#: flagged as a near-duplicate. Neighbouring 1 mm MNI152 slices score above it.
NEAR_DUPLICATE_SSIM = 0.90
#: Guard gaps (mm) measured by ``guard_sweep`` for the volume split.
SWEEP_GUARDS_MM = (0.0, 1.0, 2.0, 4.0, 8.0)


def thumbnails(images: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Grey ``size`` x ``size`` float64 copies of (N, H, W[, C]) images in [0, 1]."""
    x = np.asarray(images, np.float64)
    if x.ndim == 4:
        x = x.mean(axis=-1)
    if x.ndim != 3:
        raise ParameterError(f"thumbnails need a batch of images (N, H, W[, C]), not shape {np.shape(images)}")
    if x.shape[1:] == (size, size):
        return x
    return np.stack([resize(image, (size, size), anti_aliasing=True) for image in x]) if len(x) else np.zeros((0, size, size))


class _Window:
    """Local means and variances of a batch of grey images under SSIM's window, computed once."""

    def __init__(self, images: np.ndarray):
        self.images = np.asarray(images, np.float32)
        self.mean = uniform_filter(self.images, _WINDOW_3D)
        self.var = _COV_NORM * (uniform_filter(self.images * self.images, _WINDOW_3D) - self.mean**2)


_WINDOW_3D = (1, SSIM_WINDOW, SSIM_WINDOW)
_COV_NORM = SSIM_WINDOW**2 / (SSIM_WINDOW**2 - 1)


def ssim_to_many(query: np.ndarray, references: np.ndarray | _Window) -> np.ndarray:
    """SSIM of one grey image against each of a batch, as scikit-image computes it (7x7
    uniform window, data range 1, sample covariance), vectorised over the batch."""
    refs = references if isinstance(references, _Window) else _Window(references)
    if refs.images.shape[1:] != np.shape(query):
        raise ParameterError(f"images differ in shape: {np.shape(query)} and {refs.images.shape[1:]}")
    q = _Window(np.asarray(query)[None])
    cov = _COV_NORM * (uniform_filter(q.images * refs.images, _WINDOW_3D) - q.mean * refs.mean)
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * q.mean * refs.mean + c1) * (2 * cov + c2)) / ((q.mean**2 + refs.mean**2 + c1) * (q.var + refs.var + c2))
    pad = (SSIM_WINDOW - 1) // 2
    return ssim_map[:, pad:-pad, pad:-pad].mean(axis=(1, 2), dtype=np.float64)


def nearest_training(test: np.ndarray, train: np.ndarray, mirror: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each test thumbnail: the highest SSIM to any training thumbnail (or its mirror),
    the index of that training image, and whether the match was mirrored."""
    if not len(train):
        raise ParameterError("no training images to compare the test images with")
    references = _Window(np.concatenate([train, train[:, :, ::-1]]) if mirror else train)
    best, index, mirrored = np.empty(len(test)), np.empty(len(test), int), np.empty(len(test), bool)
    for i, image in enumerate(test):
        scores = ssim_to_many(image, references)
        j = int(np.argmax(scores))
        best[i], index[i], mirrored[i] = scores[j], j % len(train), j >= len(train)
    return best, index, mirrored


def leakage_per_image(split) -> pd.DataFrame:
    """One row per test image of a ``DatasetSplit``: its nearest training image and their SSIM
    (for a folder of scans, with both images' patients)."""
    best, index, mirrored = nearest_training(thumbnails(split.x_test), thumbnails(split.x_train))
    table = pd.DataFrame({
        "test_image": split.names_test,
        "nearest_training_image": [split.names_train[i] for i in index],
        "mirrored": mirrored,
        "ssim": best,
        "near_duplicate": best >= NEAR_DUPLICATE_SSIM,
    })
    test_patients, train_patients = split.patients("test"), split.patients("train")
    if test_patients is not None:
        table.insert(1, "test_patient", test_patients)
        table.insert(3, "nearest_training_patient", [train_patients[i] for i in index])
    return table


def patients_by_role(split) -> pd.DataFrame:
    """One row per patient of a scan folder's split: the role(s) its images went to, how many,
    its volumes and how they were windowed (from the split's manifest)."""
    volumes = split.manifest["scans"]["volumes"]
    rows = []
    for patient in sorted({p for role in ("train", "validation", "test") for p in split.patients(role)}):
        counts = {role: split.patients(role).count(patient) for role in ("train", "validation", "test")}
        own = [v for v in volumes if v["patient"] == patient]
        rows.append({"patient": patient, "roles": ", ".join(role for role, n in counts.items() if n),
                     **{f"{role}_images": n for role, n in counts.items()}, "volumes": len(own),
                     "window": "; ".join(sorted({v["window_source"] for v in own}))})
    return pd.DataFrame(rows)


def describe_patient_split(by_patient: pd.DataFrame) -> str:
    """One sentence on a split by patient, from ``patients_by_role``: how many patients went
    where, and whether any has images on two sides (none should)."""
    shared = by_patient[by_patient["roles"].str.contains(",")]
    counts = ", ".join(f"{int((by_patient['roles'] == role).sum())} in {role}" for role in ("train", "validation", "test"))
    verdict = ("no patient has images on two sides" if shared.empty
               else f"{len(shared)} patient(s) have images on two sides: {', '.join(shared['patient'])}")
    return f"Split by patient, never by slice: {len(by_patient)} patients, {counts}; {verdict}."


def summarize_leakage(ssim: np.ndarray) -> dict[str, float]:
    """Median, 90th percentile and maximum nearest-training SSIM, and the near-duplicate share."""
    ssim = np.asarray(ssim, float)
    return {
        "test_images": int(ssim.size),
        "median_ssim": float(np.median(ssim)),
        "p90_ssim": float(np.percentile(ssim, 90)),
        "max_ssim": float(ssim.max()),
        "near_duplicates": float(np.mean(ssim >= NEAR_DUPLICATE_SSIM)),
    }


def guard_sweep(
    images: np.ndarray,
    planes: np.ndarray,
    positions: np.ndarray,
    test_fraction: float,
    validation_fraction: float,
    seed: int,
    guards_mm: tuple[float, ...] = SWEEP_GUARDS_MM,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Leakage of the random split and of the slab split at each guard gap, on the same slices.

    ``images`` are thumbnails of every slice (see ``thumbnails``). Returns one row per
    split (test and training counts, nearest-training SSIM summary) and each split's
    per-test-image SSIM, for the histogram.
    """
    from aecrypt.data.splits import random_roles, slab_roles

    labels = np.asarray(planes, str)
    splits = {"random (old)": random_roles(labels, test_fraction, validation_fraction, np.random.default_rng(seed))}
    for guard in guards_mm:
        splits[f"slabs, guard {guard:g} mm"] = slab_roles(labels, positions, test_fraction, validation_fraction, guard,
                                                         np.random.default_rng(seed))
    rows, per_image = [], {}
    for name, roles in splits.items():
        best, _, _ = nearest_training(images[roles == "test"], images[roles == "train"])
        per_image[name] = best
        rows.append({"split": name, "guard_mm": _guard_of(name), "training_images": int(np.sum(roles == "train")),
                     **summarize_leakage(best)})
    return pd.DataFrame(rows), per_image


def _guard_of(name: str) -> float:
    """The guard gap a sweep row's name states (NaN for the random split)."""
    return float(name.split("guard ")[1].split(" mm")[0]) if "guard" in name else float("nan")


def mni152_guard_sweep(test_fraction: float, validation_fraction: float, seed: int, guard_mm: float) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """``guard_sweep`` over every MNI152 slice (thumbnails of the raw slices), with the run's
    own guard among the gaps; its row is marked in the ``this_run`` column."""
    from aecrypt.data.images import prepare_image
    from aecrypt.data.sources import mni152_slices

    raw, planes, _, positions = mni152_slices()
    images = np.stack([prepare_image(slice_, THUMBNAIL_SIZE, 1)[..., 0] for slice_ in raw]).astype(np.float64)
    guards = tuple(sorted(set(SWEEP_GUARDS_MM) | {float(guard_mm)}))
    table, per_split = guard_sweep(images, np.asarray(planes), positions, test_fraction, validation_fraction, seed, guards)
    table["this_run"] = table["guard_mm"] == float(guard_mm)
    return table, per_split


def describe(per_image: pd.DataFrame) -> str:
    """One sentence on a split's leakage, from ``leakage_per_image``."""
    s = summarize_leakage(per_image["ssim"].to_numpy())
    return (f"{s['test_images']} test images: nearest-training SSIM median {s['median_ssim']:.3f}, 90th percentile "
            f"{s['p90_ssim']:.3f}, max {s['max_ssim']:.3f}; {s['near_duplicates']:.0%} at or above the near-duplicate "
            f"threshold {NEAR_DUPLICATE_SSIM:g}.")
