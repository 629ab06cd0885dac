"""What each figure keeps of the values a notebook hands to ``publish``: image panels as uint8,
at most the images a figure shows, histograms instead of pixels, labels as given. The
inverse conversions, from saved values back to a draw function's arguments, are here too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aecrypt.study.figures.storage import pixels

#: Intensities at or below this are background, left out of the intensity histograms.
BACKGROUND = 0.02
#: The columns of a training history that Figure 5 draws.
HISTORY_COLUMNS = ("epoch", "loss", "val_loss")


def sample_grid_data(images: np.ndarray, labels: np.ndarray, per_class: int = 6) -> dict[str, Any]:
    """What ``draw.sample_grid`` draws: the first ``per_class`` images of each class, as uint8."""
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in sorted(set(labels.tolist()))])
    return {"images": pixels(images[keep]), "labels": np.asarray(labels)[keep].astype(str), "per_class": per_class}


def intensity_counts(images: np.ndarray, labels: np.ndarray, bins: int = 100) -> dict[str, Any]:
    """Histogram of each class's non-background intensities (first channel): the data of
    ``draw.intensity_histograms``."""
    edges = np.linspace(BACKGROUND, 1.0, bins + 1)
    counts = {str(label): np.histogram(images[labels == label][..., 0], bins=edges)[0] for label in sorted(set(labels.tolist()))}
    return {"edges": edges, "counts": counts}


def leakage_data(per_split: dict[str, np.ndarray], threshold: float) -> dict[str, Any]:
    """What ``draw.leakage_histograms`` draws: each split's nearest-training SSIMs and the threshold."""
    return {"per_split": per_split, "threshold": float(threshold)}


def history_data(history: pd.DataFrame, best_epoch: int | None, stopped_because: str) -> dict[str, Any]:
    """What ``draw.training_history`` draws: the loss columns, the best epoch and why training stopped."""
    return {"history": {c: history[c].to_numpy() for c in HISTORY_COLUMNS},
            "best_epoch": None if best_epoch is None else int(best_epoch), "stopped_because": stopped_because}


def image_rows_data(rows: list[tuple[str, np.ndarray]], count: int = 6) -> dict[str, Any]:
    """What ``draw.image_rows`` draws: each row's title and its first ``count`` images, as uint8."""
    return {"rows": [[title, pixels(images[:count])] for title, images in rows], "count": count}


def panels_data(panels: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Titled image panels as saved: titles and uint8 images."""
    return {"panels": [[title, pixels(image)] for title, image in panels]}


def panels_back(saved: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    """Titled image panels back from their saved form."""
    return [(title, image) for title, image in saved["panels"]]


def noise_examples_data(original: np.ndarray, examples: dict[str, dict[str, np.ndarray]], labels: dict[str, str]) -> dict[str, Any]:
    """What ``draw.noise_examples`` draws: the original and each method's first output, as
    uint8, and the words for each noise kind."""
    return {"original": pixels(original), "examples": {k: {m: pixels(v[:1]) for m, v in by.items()} for k, by in examples.items()},
            "labels": dict(labels)}


def byte_samples_data(samples: dict[str, tuple[bytes, int]]) -> dict[str, Any]:
    """Byte samples as saved: each sample's bytes (uint8) and its row count."""
    return {"samples": {name: [np.frombuffer(data, np.uint8), rows] for name, (data, rows) in samples.items()}}


def byte_samples(saved: dict[str, Any]) -> dict[str, tuple[bytes, int]]:
    """Byte samples back from their saved form."""
    return {name: (np.asarray(data).tobytes(), int(rows)) for name, (data, rows) in saved["samples"].items()}


def feature_views_data(image: np.ndarray, views: np.ndarray) -> dict[str, Any]:
    """What ``draw.feature_views`` draws: the image as uint8 and its channel views as float16."""
    return {"image": pixels(image), "views": np.asarray(views, np.float16)}
