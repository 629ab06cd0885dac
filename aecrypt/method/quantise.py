"""Per-channel affine quantisation of feature maps to uint8 (a quarter of float32's bytes), and back."""

from __future__ import annotations

import numpy as np

from aecrypt.errors import ParameterError

#: The largest magnitude a float32 holds; features beyond it would become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def quantize_uint8(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel (last axis) affine quantisation to uint8; returns codes, scales, offsets."""
    x = np.asarray(features, dtype=np.float32)
    flat = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1)
    lo = flat.min(axis=0)
    hi = flat.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0).astype(np.float32)
        top = scale * np.float32(255.0) + lo
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(top))):
        raise ParameterError(
            f"a channel's values span more than float32's range (±{FLOAT32_MAX:g}), so uint8 quantisation "
            "would decrypt to infinity; use dtype='float32'"
        )
    codes = np.clip(np.rint((flat - lo) / scale), 0, 255).astype(np.uint8)
    return codes.reshape(x.shape), scale, lo.astype(np.float32)


def dequantize_uint8(codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Invert ``quantize_uint8`` (to within half a quantisation step per channel)."""
    shape = codes.shape
    flat = codes.reshape(-1, len(scales)).astype(np.float32)
    return (flat * np.asarray(scales, np.float32) + np.asarray(offsets, np.float32)).reshape(shape)
