"""How close the receiver's image is to the sender's: what decrypt will write, measured
against the original before it is encrypted, and a reconstruction restored to the
original's size and channels (undoing the model's square input)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from skimage.transform import resize

from aecrypt.errors import ModelFileError, PayloadFormatError
from aecrypt.method.metrics import psnr, ssim
from aecrypt.method.payload import decrypt_features, encrypt_features
from aecrypt.method.pipeline import decode
from aecrypt.method.pixels import set_channels, to_uint8

#: SSIM and PSNR are measured at the original size up to this many pixels; a larger image on a copy scaled down to it.
FIDELITY_MAX_PIXELS = 2048 * 2048
#: Digits kept of SSIM and PSNR in a payload's header.
METRIC_DIGITS = 4


def measure_fidelity(decoder, original: np.ndarray, image: np.ndarray, features: np.ndarray, key: bytes, dtype: str,
                     metadata: dict) -> dict:
    """SSIM and PSNR of what decrypt will write against the original pixels, and at the model's size against ``image``.

    The features are decoded as the receiver gets them (float16 or uint8 as sent); the
    reconstruction is brought back to the original size and mode, as decrypt does, and
    rounded to 8 bits. An image over ``FIDELITY_MAX_PIXELS`` is compared on copies scaled down to it.
    """
    received = decrypt_features(encrypt_features(features, key, dtype=dtype), key)
    reconstruction = np.clip(decode(decoder, received[None])[0], 0.0, 1.0)
    if reconstruction.shape != image.shape:
        raise ModelFileError(f"the decoder reconstructs {reconstruction.shape}, but the encoder takes {image.shape}; "
                             "pass the decoder trained with this encoder")
    written = to_uint8(restore_image(reconstruction, metadata)).astype(np.float32) / 255.0
    original, written = _comparable(original, written)
    return {**image_metrics(original, written, ""), **image_metrics(image, reconstruction, "model_")}


def _comparable(original: np.ndarray, written: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The original and what decrypt writes, scaled down alike to ``FIDELITY_MAX_PIXELS``, with the original's channels."""
    scale = min(1.0, math.sqrt(FIDELITY_MAX_PIXELS / (original.shape[0] * original.shape[1])))
    if scale < 1.0:
        size = (max(1, round(original.shape[0] * scale)), max(1, round(original.shape[1] * scale)))
        original, written = (resize(x, (*size, x.shape[-1]), anti_aliasing=True, preserve_range=True) for x in (original, written))
    if written.shape[-1] != original.shape[-1]:  # a grey decoder's output for a colour original
        written = np.repeat(written, original.shape[-1], axis=-1)
    return original, written


def image_metrics(original: np.ndarray, other: np.ndarray, prefix: str = "") -> dict:
    """SSIM and PSNR (None if infinite) of two images, rounded, under keys with ``prefix``."""
    peak = psnr(original, other)
    return {f"{prefix}ssim": round(ssim(original, other), METRIC_DIGITS),
            f"{prefix}psnr": round(peak, METRIC_DIGITS) if math.isfinite(peak) else None}


def restore_image(image: np.ndarray, metadata: dict) -> np.ndarray:
    """A reconstruction back at the original height and width (undoing pad-to-square) and, if it was grey, one channel."""
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

