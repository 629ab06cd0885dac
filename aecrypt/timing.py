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


def matmul_gflops(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> float:
    """The machine's dense matrix-multiply rate in GFLOP/s (best of ``repeats``): the ceiling
    a convolution network's arithmetic is measured against."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform((n, n), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_uniform((n, n), seed=(3, 4)), dtype)
    matmul = tf.function(tf.linalg.matmul)
    best = time_call(lambda: matmul(a, b).numpy(), repeats, warmup=2)["min_s"]
    return 2 * n**3 / best / 1e9


def training_rate(
    image_size: int,
    precision: str = "float32",
    batch_size: int = 16,
    images: int = 64,
    epochs: int = 2,
    upsample_position: str = "table2",
    seed: int = 0,
) -> float:
    """Training images per second of the Table 2 model in aecrypt's training loop (last epoch,
    so tracing and warm-up are excluded), on random images of the given size."""
    from aecrypt.model import build_autoencoder
    from aecrypt.training import seed_everything, train_autoencoder

    seed_everything(seed, deterministic=False)
    autoencoder, _, _ = build_autoencoder(image_size, upsample_position=upsample_position, precision=precision)
    x = np.random.default_rng(seed).random((images, image_size, image_size, 3), dtype=np.float32)
    result = train_autoencoder(autoencoder, x, x[:batch_size], epochs=epochs, batch_size=batch_size, seed=seed, progress=False)
    return float(result.history["images_per_second"].iloc[-1])


def model_call_time(model, batch_size: int, repeats: int) -> dict[str, float]:
    """Median time of one compiled inference call on a batch (the path the pipeline uses)."""
    from aecrypt.pipeline import run_model

    x = np.random.default_rng(0).random((batch_size, *model.input_shape[1:]), dtype=np.float32)
    return time_call(lambda: run_model(model, x, batch_size), repeats, warmup=2)


def layer_training_times(autoencoder, batch_size: int = 16, repeats: int = 5) -> pd.DataFrame:
    """Forward plus backward time of each layer on its own, per image, with FLOPs and GFLOP/s.

    Shows what a training step's time goes to: each layer is rebuilt alone at its input
    shape and differentiated with respect to its input and weights.
    """
    import keras
    import tensorflow as tf

    from aecrypt.model import model_flops

    rows = []
    for layer in _leaf_layers(autoencoder):
        shape = tuple(layer.input.shape[1:])
        inputs = keras.Input(shape)
        config = {**layer.get_config(), "name": f"alone_{layer.name}"}
        alone = keras.Model(inputs, layer.__class__.from_config(config)(inputs))
        x = tf.random.stateless_uniform((batch_size, *shape), seed=(0, 1))
        step = _gradient_step(alone)
        seconds = time_call(lambda: [g.numpy() for g in step(x)], repeats, warmup=2)["median_s"] / batch_size
        flops = 3 * model_flops(alone)
        rows.append({"layer": layer.name, "input_shape": "x".join(map(str, shape)), "ms_per_image": 1000 * seconds,
                     "train_gflop_per_image": flops / 1e9, "gflop_s": flops / seconds / 1e9 if flops else float("nan")})
    table = pd.DataFrame(rows)
    table["share"] = table["ms_per_image"] / table["ms_per_image"].sum()
    return table


def _gradient_step(model):
    """A compiled step giving the gradients of a model's summed output for its input and weights."""
    import tensorflow as tf

    weights = model.trainable_variables

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(tf.cast(model(x, training=True), tf.float32))
        return tape.gradient(total, [x, *weights])

    return step


def _leaf_layers(model) -> list:
    """The layers of a model and its sub-models, in order, without input layers."""
    import keras

    leaves = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            leaves += _leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            leaves.append(layer)
    return leaves
