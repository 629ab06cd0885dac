"""Timing, done properly: medians and spread over many repetitions after warm-up.

Used by notebook 04 (Tables 3 and 4) and the benchmark. The paper reports single
numbers without library, mode, byte counts or method; here every row says all four.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from PIL import Image

from aecrypt.cipher import decrypt_features, encrypt_features, encrypt_image
from aecrypt.metrics import psnr, ssim

MEGABYTE = 1e6
DEFAULT_WARMUP = 5
#: Lossy and lossless codecs a practitioner would use to make less data to encrypt.
CODECS = {
    "PNG (lossless)": ("PNG", {"optimize": False}),
    "JPEG q95": ("JPEG", {"quality": 95}),
    "JPEG q75": ("JPEG", {"quality": 75}),
    "WebP q80": ("WEBP", {"quality": 80}),
}


def time_call(fn: Callable[[], object], repeats: int, warmup: int = DEFAULT_WARMUP) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times; median, quartiles, min in seconds."""
    for _ in range(warmup):
        fn()
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        samples[i] = time.perf_counter() - start
    q25, median, q75 = np.percentile(samples, [25, 50, 75])
    return {"median_s": float(median), "q25_s": float(q25), "q75_s": float(q75), "min_s": float(samples.min()), "repeats": repeats}


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = DEFAULT_WARMUP) -> dict[str, dict[str, float]]:
    """Time several functions in alternation, so drift (clock speed, caches) hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: np.empty(repeats) for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name][i] = time.perf_counter() - start
    result = {}
    for name, values in samples.items():
        q25, median, q75 = np.percentile(values, [25, 50, 75])
        result[name] = {"median_s": float(median), "q25_s": float(q25), "q75_s": float(q75), "min_s": float(values.min()), "repeats": repeats}
    return result


def aes_table(payloads: dict[str, np.ndarray], key: bytes, schemes: tuple[str, ...], repeats: int) -> pd.DataFrame:
    """Encryption and decryption time of each payload under each scheme (pycryptodome), interleaved."""
    jobs = {}
    for name, array in payloads.items():
        for scheme in schemes:
            if array.dtype == np.uint8:
                encrypt = lambda a=array, s=scheme: encrypt_image(a, key, s)  # noqa: E731
                dtype = "uint8"
            else:
                dtype = name.split()[-1] if name.split()[-1] in ("float32", "float16", "uint8") else "float32"
                encrypt = lambda a=array, s=scheme, d=dtype: encrypt_features(a, key, s, d)  # noqa: E731
            payload = encrypt()
            decrypt = lambda p=payload: decrypt_features(p, key, allow_unauthenticated=True)  # noqa: E731
            plain = array.size * (1 if dtype == "uint8" else np.dtype(dtype).itemsize)
            jobs[(name, scheme)] = (encrypt, decrypt, plain, len(payload))
    enc = time_interleaved({k: v[0] for k, v in jobs.items()}, repeats)
    dec = time_interleaved({k: v[1] for k, v in jobs.items()}, repeats)
    return pd.DataFrame([_row(n, s, "pycryptodome", job[2], job[3], enc[(n, s)], dec[(n, s)]) for (n, s), job in jobs.items()])


def openssl_gcm_table(payloads: dict[str, np.ndarray], key: bytes, repeats: int) -> pd.DataFrame:
    """AES-256-GCM of the same bytes through the ``cryptography`` package (OpenSSL)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    gcm = AESGCM(key)
    nonce = b"\x00" * 12  # timing only: a fixed nonce is never used for real data
    rows = []
    for name, array in payloads.items():
        data = np.ascontiguousarray(array).tobytes()
        sealed = gcm.encrypt(nonce, data, None)
        enc = time_call(lambda: gcm.encrypt(nonce, data, None), repeats)
        dec = time_call(lambda: gcm.decrypt(nonce, sealed, None), repeats)
        rows.append(_row(name, "gcm", "cryptography (OpenSSL)", len(data), len(sealed), enc, dec))
    return pd.DataFrame(rows)


def _row(name: str, scheme: str, backend: str, plain: int, sealed: int, enc: dict, dec: dict) -> dict:
    """One timing table row, with throughput in MB/s."""
    return {
        "payload": name, "scheme": scheme, "backend": backend, "plaintext_bytes": plain, "payload_bytes": sealed,
        "encrypt_median_s": enc["median_s"], "encrypt_iqr_s": enc["q75_s"] - enc["q25_s"],
        "decrypt_median_s": dec["median_s"], "decrypt_iqr_s": dec["q75_s"] - dec["q25_s"],
        "encrypt_MB_s": plain / MEGABYTE / enc["median_s"], "repeats": enc["repeats"],
    }


def openssl_speed(nbytes: int, seconds: int = 1) -> float | None:
    """The machine's AES-256-GCM ceiling in MB/s from ``openssl speed`` for ``nbytes`` blocks, if available."""
    if shutil.which("openssl") is None:
        return None
    command = ["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", str(nbytes), "-seconds", str(seconds)]
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^(?:AES-256-GCM|aes-256-gcm)\s+([\d.]+)k", output, re.MULTILINE | re.IGNORECASE)
    return float(match.group(1)) * 1000 / MEGABYTE if match else None


def codec_table(image: np.ndarray, key: bytes, repeats: int) -> pd.DataFrame:
    """Compress with standard codecs, then AES-256-GCM: bytes, time, and quality against the original."""
    from Crypto.Cipher import AES

    rows = []
    pixels = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
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
            "method": f"{name} + AES-GCM", "bytes": len(blob) + 28, "compress_median_s": comp["median_s"],
            "encrypt_median_s": enc["median_s"], "ssim": ssim(image, decoded), "psnr_db": psnr(image, decoded),
        })
    return pd.DataFrame(rows)
