"""Pixel arrays: float images in [0, 1] as 8-bit values, stretched for viewing, given a channel
count or padded to a square, and stored values (16-bit, float, a scan's) mapped onto [0, 1]
and back. Pure array operations, shared by the data, the pipeline and the figures."""

from __future__ import annotations

import numpy as np

from aecrypt.errors import ParameterError


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as 8-bit pixels (rounded, clipped): what a PNG stores."""
    return np.rint(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255).astype(np.uint8)


def stretch(array: np.ndarray, axis: int | tuple[int, ...] | None = None, percentiles: tuple[float, float] = (0.0, 100.0)) -> np.ndarray:
    """Stretch values to [0, 1] between two percentiles (min and max by default), over ``axis``
    (per channel with ``axis=(0, 1)``): how a viewer shows numbers as a picture."""
    x = np.asarray(array)
    x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)
    low, high = (np.percentile(x, p, axis=axis, keepdims=True).astype(x.dtype) for p in percentiles)
    return np.clip((x - low) / np.where(high > low, high - low, 1), 0, 1)


def set_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Replicate grey to three channels, or average colour to one."""
    have = image.shape[-1]
    if have == channels:
        return image
    if channels == 3 and have == 1:
        return np.repeat(image, 3, axis=-1)
    if channels == 1 and have == 3:
        return (image @ np.array([0.2125, 0.7154, 0.0721], np.float32))[..., None]  # ITU-R BT.709 luma
    raise ParameterError(f"cannot turn {have} channels into {channels}")


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Pad an HxWxC image with zeros, centred, to a square."""
    h, w = image.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(image, ((top, side - h - top), (left, side - w - left), (0, 0)))


def to_unit(values: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Stored values (any numeric type) mapped linearly from ``window`` (low, high) onto [0, 1], as float32."""
    low, high = window
    width = high - low if high > low else 1.0
    return np.clip((np.asarray(values, np.float32) - np.float32(low)) / np.float32(width), 0.0, 1.0)


def from_unit(image: np.ndarray, window: tuple[float, float], dtype: str) -> np.ndarray:
    """Floats in [0, 1] mapped back onto ``window`` and stored as ``dtype`` (rounded for integers; bool at 0.5)."""
    low, high = window
    kind = np.dtype(dtype)
    x = np.clip(np.asarray(image, np.float64), 0.0, 1.0)
    if kind == np.bool_:
        return x >= 0.5
    values = low + x * (high - low)
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)
        values = np.clip(np.rint(values), max(info.min, np.floor(low)), min(info.max, np.ceil(high)))
    return values.astype(kind)
