"""How long AES takes on each payload notebook 04 compares: the raw image, the image as a
Keras pipeline holds it, and the feature map in three wire formats, under every scheme
(pycryptodome) and under AES-GCM through OpenSSL, with the machine's ceiling beside them.

Every row says its library, mode and byte count, which the paper's Table 3 does not.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd

from aecrypt.experiments.timing import time_call, time_interleaved
from aecrypt.method.payload import decrypt_features, encrypt_image
from aecrypt.method.quantise import quantize_uint8

MEGABYTE = 1e6
#: The two AES implementations timed: pycryptodome (every scheme) and OpenSSL (GCM only).
PYCRYPTODOME, OPENSSL = "pycryptodome", "cryptography (OpenSSL)"
#: The raw image's payload name; the feature maps' are ``feature_payload(dtype)``.
RAW_PAYLOAD = "raw image uint8"
#: The same image as a Keras pipeline holds it: float32 scaled to [0, 1], four times the bytes.
FLOAT_IMAGE_PAYLOAD = "image in [0, 1] float32"
#: A grey image (three equal channels, as Table 2's model takes it) as a scanner stores it: one 8-bit channel.
STORED_PAYLOAD = "stored grey image uint8 (1 channel)"
#: Wire formats of the feature map that notebook 04 times, smallest last.
FEATURE_DTYPES_TIMED = ("float32", "float16", "uint8")


def feature_payload(dtype: str) -> str:
    """Payload name of the feature map sent as ``dtype`` ('features float32', ...), as the tables look it up."""
    return f"features {dtype}"


def payloads(raw: np.ndarray, features: np.ndarray, float_image: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The arrays AES is timed on, in their wire formats: the raw uint8 image as the model takes
    it (three channels), a grey image as stored (one channel, ``STORED_PAYLOAD``), the image as
    float32 in [0, 1] (``float_image``; default ``raw / 255``), and the feature map as float32,
    float16 and uint8 codes (the casts are timed apart by ``conversion_times``)."""
    image = (raw.astype(np.float32) / 255.0) if float_image is None else np.asarray(float_image, np.float32)
    wire = {"float32": features.astype(np.float32), "float16": features.astype(np.float16), "uint8": quantize_uint8(features)[0]}
    grey = raw.ndim == 3 and raw.shape[-1] == 3 and bool((raw == raw[..., :1]).all())
    stored = {STORED_PAYLOAD: np.ascontiguousarray(raw[..., :1])} if grey else {}  # a grey scan is stored in one channel
    return {RAW_PAYLOAD: raw, **stored, FLOAT_IMAGE_PAYLOAD: image, **{feature_payload(d): wire[d] for d in FEATURE_DTYPES_TIMED}}


def payload_sizes(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Shape and plaintext bytes of each payload, before timing."""
    return pd.DataFrame([{"payload": name, "shape": "x".join(map(str, a.shape)), "bytes": a.nbytes} for name, a in arrays.items()])


def row_bytes(array: np.ndarray) -> np.ndarray:
    """An array's bytes as uint8, first axis kept (the rows the paper's row-key scheme encrypts)."""
    x = np.ascontiguousarray(array)
    return x.reshape(x.shape[0], -1).view(np.uint8) if x.ndim > 1 else x.view(np.uint8)


def conversion_times(features: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds to turn float32 features into each wire format before AES: none for
    float32, a cast for float16, per-channel quantisation for uint8 (as ``encrypt_features`` does)."""
    return {
        "float32": 0.0,
        "float16": time_call(lambda: features.astype(np.float16), repeats)["median_s"],
        "uint8": time_call(lambda: quantize_uint8(features), repeats)["median_s"],
    }


def aes_table(payloads: dict[str, np.ndarray], key: bytes, schemes: tuple[str, ...], repeats: int) -> pd.DataFrame:
    """Encryption and decryption time of each payload's bytes under each scheme (pycryptodome), interleaved.

    Every payload is handed to AES as its bytes (``row_bytes``), so the columns time AES
    alone; casting features to a smaller wire format is timed apart (``conversion_times``).
    """
    jobs = {}
    for name, array in payloads.items():
        data = row_bytes(array)
        for scheme in schemes:
            encrypt = lambda d=data, s=scheme: encrypt_image(d, key, s)  # noqa: E731
            payload = encrypt()
            decrypt = lambda p=payload: decrypt_features(p, key, allow_unauthenticated=True)  # noqa: E731
            jobs[(name, scheme)] = (encrypt, decrypt, data.size, len(payload), array.shape)
    enc = time_interleaved({k: v[0] for k, v in jobs.items()}, repeats)
    dec = time_interleaved({k: v[1] for k, v in jobs.items()}, repeats)
    return pd.DataFrame([_row(n, s, PYCRYPTODOME, job[2], job[3], enc[(n, s)], dec[(n, s)], job[4]) for (n, s), job in jobs.items()])


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
        rows.append(_row(name, "gcm", OPENSSL, len(data), len(sealed), enc, dec, array.shape))
    return pd.DataFrame(rows)


def _row(name: str, scheme: str, backend: str, plain: int, sealed: int, enc: dict, dec: dict, shape: tuple[int, ...]) -> dict:
    """One timing table row, with throughput in MB/s."""
    return {
        "payload": name, "shape": "x".join(map(str, shape)), "scheme": scheme, "backend": backend,
        "plaintext_bytes": plain, "payload_bytes": sealed,
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


# ------------------------------------------------------------ AES at the paper's size, and against payload size

#: Table 2's input side; its encoder sends half the side.
PAPER_SIDE = 224
#: The deployed variant's feature map (no Dense display layer): the third Conv2D's channels.
DEPLOYED_PAYLOAD, DEPLOYED_CHANNELS = "deployed features float32 (no Dense layer)", 32
#: Schemes timed at the paper's size: AES-GCM and both readings of the paper's row keys.
PAPER_SIZE_SCHEMES = ("gcm", "paper", "paper-blocks")
#: Payload sizes of the sweep, 10 KB to 2 MB: where a fixed cost per call stops mattering.
SWEEP_BYTES = (10_000, 30_000, 100_000, 300_000, 1_000_000, 2_000_000)


def paper_size_payloads(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The payloads at the paper's size: the 224x224x3 image (uint8, float32), the 112x112x3
    features in three wire formats and the deployed variant's 112x112x32 map. Their values
    are drawn from ``rng``: AES's time depends on the bytes' count, not their values."""
    raw = rng.integers(0, 256, (PAPER_SIDE, PAPER_SIDE, 3), dtype=np.uint8)
    features = rng.standard_normal((PAPER_SIDE // 2, PAPER_SIDE // 2, 3)).astype(np.float32)
    deployed = rng.standard_normal((PAPER_SIDE // 2, PAPER_SIDE // 2, DEPLOYED_CHANNELS)).astype(np.float32)
    return {**payloads(raw, features), DEPLOYED_PAYLOAD: deployed}


def paper_size_table(key: bytes, repeats: int, rng: np.random.Generator) -> pd.DataFrame:
    """AES at the paper's size (``paper_size_payloads``) under AES-GCM and both readings of the
    paper's row keys (pycryptodome), and AES-GCM in OpenSSL."""
    arrays = paper_size_payloads(rng)
    ossl = openssl_gcm_table({k: v for k, v in arrays.items() if k != feature_payload("uint8")}, key, repeats)
    return pd.concat([aes_table(arrays, key, PAPER_SIZE_SCHEMES, repeats), ossl], ignore_index=True)


def size_sweep_table(key: bytes, repeats: int, rng: np.random.Generator, sizes: tuple[int, ...] = SWEEP_BYTES) -> pd.DataFrame:
    """AES-GCM time and MB/s against payload bytes (pycryptodome and OpenSSL): MB/s rises with
    size until the fixed cost of a call is small beside the bytes."""
    arrays = {f"{n} bytes": rng.integers(0, 256, n, dtype=np.uint8) for n in sizes}
    table = pd.concat([aes_table(arrays, key, ("gcm",), repeats), openssl_gcm_table(arrays, key, repeats)], ignore_index=True)
    return table.sort_values(["backend", "plaintext_bytes"], kind="stable", ignore_index=True)
