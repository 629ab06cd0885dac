"""Showing a scan's values as a picture the way a viewer does: a DICOM file's own Window
Center/Width when it has one, else a window between two percentiles of the whole series or
volume (a viewer's auto-window), so that every slice of a series is shown alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecrypt.method.pixels import to_unit

#: A viewer's auto-window: values below the first percentile show black, above the second white.
VIEWER_PERCENTILES = (0.5, 99.5)
#: At most this many values of a series or volume are sampled (evenly) for its percentile
#: window, so that a long series never needs all its values in memory at once.
WINDOW_SAMPLE = 1 << 20
#: What ``Window.source`` says for each kind of window.
FILE_WINDOW = "the file's Window Center/Width"
PERCENTILE_WINDOW = f"percentiles {VIEWER_PERCENTILES[0]:g}-{VIEWER_PERCENTILES[1]:g}"
#: How the study windows scans: part of the processed cache's key, and of the split's manifest.
WINDOW_POLICY = (f"DICOM: {FILE_WINDOW} (the first, if several), else {PERCENTILE_WINDOW} of the series; "
                 f"NIfTI: {PERCENTILE_WINDOW} of the volume; MONOCHROME1 inverted")


@dataclass(frozen=True)
class Window:
    """The values shown as black (``low``) and white (``high``), and where the window came from."""

    low: float
    high: float
    source: str

    def show(self, values: np.ndarray) -> np.ndarray:
        """Values mapped onto [0, 1] through this window, as float32 (clipped outside it)."""
        return to_unit(values, (self.low, self.high))


def dicom_window(dataset) -> Window | None:
    """A DICOM dataset's own window (its first Window Center/Width, in rescaled units), or None.

    PS3.3 C.11.2.1.2's linear function: values up to ``c - 0.5 - (w - 1) / 2`` are black,
    values above ``c - 0.5 + (w - 1) / 2`` white. A width below 1 (invalid) counts as none.
    """
    center, width = dataset.get("WindowCenter"), dataset.get("WindowWidth")
    if center is None or width is None or center == "" or width == "":
        return None
    center, width = (float(value[0] if _is_sequence(value) else value) for value in (center, width))
    if not (np.isfinite(center) and np.isfinite(width)) or width < 1:
        return None
    return Window(center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2, FILE_WINDOW)


def _is_sequence(value) -> bool:
    """Whether a DICOM value is multi-valued (pydicom's MultiValue, a list or a tuple)."""
    return not isinstance(value, (str, bytes)) and hasattr(value, "__len__")


def percentile_window(sample: np.ndarray) -> Window:
    """The window between ``VIEWER_PERCENTILES`` of a sample of a series' or volume's values."""
    values = np.asarray(sample, np.float64).ravel()
    values = values[np.isfinite(values)]
    if not values.size:
        return Window(0.0, 1.0, PERCENTILE_WINDOW)
    low, high = np.percentile(values, VIEWER_PERCENTILES)
    return Window(float(low), float(high), PERCENTILE_WINDOW)


def window_sample(values: np.ndarray, parts: int = 1) -> np.ndarray:
    """Evenly spaced values of an array, at most ``WINDOW_SAMPLE / parts`` of them (one part of ``parts``)."""
    flat = np.asarray(values).ravel()
    step = max(1, -(-flat.size * parts // WINDOW_SAMPLE))
    return flat[::step]
