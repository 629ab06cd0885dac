"""Bytes to encrypt against quality after the round trip (notebook 04): the raw image, the
autoencoder's features in each wire format, and the standard codecs a practitioner would
use to make less data to encrypt, each then sealed with AES-GCM.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd
from PIL import Image

from aecrypt.experiments.aes_timing import FEATURE_DTYPES_TIMED
from aecrypt.experiments.timing import time_call
from aecrypt.method.payload import decrypt_features, encrypt_features
from aecrypt.method.metrics import psnr, ssim
from aecrypt.method.pixels import to_uint8

#: Lossy and lossless codecs a practitioner would use to make less data to encrypt.
CODECS = {
    "PNG (lossless)": ("PNG", {"optimize": False}),
    "JPEG q95": ("JPEG", {"quality": 95}),
    "JPEG q75": ("JPEG", {"quality": 75}),
    "WebP q80": ("WEBP", {"quality": 80}),
}
#: What every size-versus-quality row's name ends with: the payload is then sealed with AES-GCM.
SEALED_SUFFIX = " + AES-GCM"
#: Bytes AES-GCM adds to a codec's output: the 12-byte nonce and the 16-byte tag.
GCM_OVERHEAD = 28


def sealed(method: str) -> str:
    """Name of a size-versus-quality row: what is encrypted, then AES-GCM."""
    return method + SEALED_SUFFIX


def feature_method(dtype: str) -> str:
    """Size-versus-quality row name of the autoencoder's features sent as ``dtype``."""
    return sealed(f"autoencoder features {dtype}")


def codec_table(image: np.ndarray, key: bytes, repeats: int) -> pd.DataFrame:
    """Compress with standard codecs, then AES-256-GCM: bytes, time, and quality against the original."""
    from Crypto.Cipher import AES

    rows = []
    pixels = to_uint8(image)
    grey = pixels.shape[-1] == 3 and np.array_equal(pixels[..., 0], pixels[..., 2])
    for name, (fmt, options) in CODECS.items():
        source = Image.fromarray(pixels[..., 0] if grey else pixels)

        def compress() -> bytes:
            buffer = io.BytesIO()
            source.save(buffer, format=fmt, **options)
            return buffer.getvalue()

        blob = compress()
        decoded = np.asarray(Image.open(io.BytesIO(blob)).convert("L" if grey else "RGB"), np.float32) / 255.0
        decoded = np.repeat(decoded[..., None], 3, -1) if grey else decoded
        seal = lambda b=blob: AES.new(key, AES.MODE_GCM).encrypt_and_digest(b)  # noqa: E731
        comp = time_call(compress, max(3, repeats // 10))
        enc = time_call(seal, repeats)
        rows.append({
            "method": sealed(name), "bytes": len(blob) + GCM_OVERHEAD, "compress_median_s": comp["median_s"],
            "encrypt_median_s": enc["median_s"], "ssim": ssim(image, decoded), "psnr_db": psnr(image, decoded),
        })
    return pd.DataFrame(rows)


def size_quality_rows(
    image: np.ndarray, features: np.ndarray, decode_one: Callable[[np.ndarray], np.ndarray], key: bytes, encoder_s: float, repeats: int,
) -> pd.DataFrame:
    """The autoencoder's features under AES-GCM in each wire format: payload bytes, encoder and
    AES time, and SSIM/PSNR of the decoded round trip (``decode_one`` maps features to an image)."""
    rows = []
    for dtype in FEATURE_DTYPES_TIMED:
        payload = encrypt_features(features, key, dtype=dtype)
        out = decode_one(decrypt_features(payload, key))
        t = time_call(lambda d=dtype: encrypt_features(features, key, dtype=d), repeats)
        rows.append({"method": feature_method(dtype), "bytes": len(payload), "compress_median_s": encoder_s,
                     "encrypt_median_s": t["median_s"], "ssim": ssim(image, out), "psnr_db": psnr(image, out)})
    return pd.DataFrame(rows)


def size_quality_table(features: pd.DataFrame, codecs: pd.DataFrame, raw_bytes: int, raw_encrypt_s: float) -> pd.DataFrame:
    """Bytes to encrypt and quality after the round trip: the raw image, then the features
    (``size_quality_rows``), then the codecs (``codec_table``)."""
    raw = {"method": sealed("raw image"), "bytes": raw_bytes, "compress_median_s": 0.0,
           "encrypt_median_s": raw_encrypt_s, "ssim": 1.0, "psnr_db": float("inf")}
    return pd.concat([pd.DataFrame([raw]), features, codecs], ignore_index=True)
