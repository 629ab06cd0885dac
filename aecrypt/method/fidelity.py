"""How close the receiver's file is to the sender's, in the original's own units.

``fidelity`` compares the values decrypt will write (the reconstruction at native size,
mapped back to the original's value type and range, and through a lossy file format where
the output is one) with the original's stored values: SSIM and PSNR over the range the
original's values span (a 16-bit image of values 0..229 is judged over 229, not 65535),
and the error in the scan's own units where it has them (HU for CT). Nothing is scaled or
clipped on the way, so no loss is hidden.

``restore_resized`` keeps payloads of earlier versions readable: they hold features of the
model's square input, which were resized back to the original size.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from skimage.transform import resize

from aecrypt.errors import PayloadFormatError
from aecrypt.method.metrics import ssim_in_strips
from aecrypt.method.pixels import set_channels

#: Digits kept of SSIM, PSNR and errors in a payload's header.
METRIC_DIGITS = 4
#: Rows of an image compared at a time when summing its errors (memory follows the rows, not the image).
ERROR_ROWS = 256


def fidelity(original: np.ndarray, written: np.ndarray, window: tuple[float, float], units: str = "",
             slope: float = 1.0) -> dict:
    """SSIM, PSNR and (with ``units``) the mean and largest error of ``written`` against ``original``.

    Both are (N, H, W, C) stored values. SSIM and PSNR take the window's width (the
    range the original's values span) as their data range; SSIM is the mean over
    frames, ``ssim_worst`` the worst frame's; errors are ``slope`` times the stored values'.
    """
    data_range = float(window[1] - window[0]) or 1.0
    scores = [ssim_in_strips(a, b, data_range) for a, b in zip(original, written)]
    squares, absolute, largest = _error_sums(original, written)
    count = original.size
    mse = squares / count
    result = {"ssim": _rounded(float(np.mean(scores))),
              "psnr": _rounded(10 * math.log10(data_range**2 / mse)) if mse > 0 else None}
    if len(scores) > 1:
        result["ssim_worst"] = _rounded(min(scores))
    if units:
        result.update(units=units, mean_error=_rounded(abs(slope) * absolute / count), max_error=_rounded(abs(slope) * largest))
    return result


def _error_sums(original: np.ndarray, written: np.ndarray) -> tuple[float, float, float]:
    """Sum of squared and of absolute differences, and the largest difference, a few rows at a time in float64."""
    squares = absolute = largest = 0.0
    for frame_a, frame_b in zip(original, written):
        for top in range(0, frame_a.shape[0], ERROR_ROWS):
            diff = np.abs(frame_a[top : top + ERROR_ROWS].astype(np.float64) - frame_b[top : top + ERROR_ROWS].astype(np.float64))
            squares += float(np.sum(diff * diff))
            absolute += float(diff.sum())
            largest = max(largest, float(diff.max(initial=0.0)))
    return squares, absolute, largest


def _rounded(value: float) -> float:
    """A metric as a header keeps it: a few significant digits."""
    return float(f"{value:.{METRIC_DIGITS}g}") if abs(value) >= 10 else round(value, METRIC_DIGITS)


def restore_resized(image: np.ndarray, metadata: dict) -> np.ndarray:
    """A reconstruction of an earlier version's payload (the model's square size) back at the original
    height and width (undoing pad-to-square) and, if it was grey, one channel."""
    height, width = metadata.get("height"), metadata.get("width")
    if height is None and width is None:
        return image  # a payload without metadata: the model's size
    if not all(isinstance(n, int) and n > 0 for n in (height, width)) or height * width > Image.MAX_IMAGE_PIXELS:
        raise PayloadFormatError(f"the header's original size {height}x{width} is not a valid image size")
    side = max(height, width)
    x = np.clip(resize(image, (side, side, image.shape[-1]), anti_aliasing=True, preserve_range=True), 0.0, 1.0)
    top, left = (side - height) // 2, (side - width) // 2
    x = x[top : top + height, left : left + width].astype(np.float32)
    return set_channels(x, 1) if metadata.get("channels") == 1 and x.shape[-1] == 3 else x
