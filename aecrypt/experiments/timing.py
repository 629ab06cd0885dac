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

from aecrypt.method.payload import decrypt_features, encrypt_features, encrypt_image
from aecrypt.method.quantise import quantize_uint8
from aecrypt.method.pixels import to_uint8
from aecrypt.errors import ParameterError
from aecrypt.method.metrics import psnr, ssim
from aecrypt.paper import PAPER_TABLE3, PAPER_TABLE4, PAPER_TIME_REDUCTION_TEXT

MEGABYTE = 1e6
DEFAULT_WARMUP = 5
#: The two AES implementations timed: pycryptodome (every scheme) and OpenSSL (GCM only).
PYCRYPTODOME, OPENSSL = "pycryptodome", "cryptography (OpenSSL)"
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
    """Encryption and decryption time of each payload's bytes under each scheme (pycryptodome), interleaved.

    Every payload is handed to AES as its bytes (``as_bytes``), so the columns time AES
    alone; casting features to a smaller wire format is timed apart (``conversion_times``).
    """
    jobs = {}
    for name, array in payloads.items():
        data = as_bytes(array)
        for scheme in schemes:
            encrypt = lambda d=data, s=scheme: encrypt_image(d, key, s)  # noqa: E731
            payload = encrypt()
            decrypt = lambda p=payload: decrypt_features(p, key, allow_unauthenticated=True)  # noqa: E731
            jobs[(name, scheme)] = (encrypt, decrypt, data.size, len(payload), array.shape)
    enc = time_interleaved({k: v[0] for k, v in jobs.items()}, repeats)
    dec = time_interleaved({k: v[1] for k, v in jobs.items()}, repeats)
    return pd.DataFrame([_row(n, s, PYCRYPTODOME, job[2], job[3], enc[(n, s)], dec[(n, s)], job[4]) for (n, s), job in jobs.items()])


def as_bytes(array: np.ndarray) -> np.ndarray:
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
            "method": sealed(name), "bytes": len(blob) + 28, "compress_median_s": comp["median_s"],
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
    from aecrypt.method.model import build_autoencoder
    from aecrypt.method.training import seed_everything, train_autoencoder

    seed_everything(seed, deterministic=False)
    autoencoder, _, _ = build_autoencoder(image_size, upsample_position=upsample_position, precision=precision)
    x = np.random.default_rng(seed).random((images, image_size, image_size, 3), dtype=np.float32)
    result = train_autoencoder(autoencoder, x, x[:batch_size], epochs=epochs, batch_size=batch_size, seed=seed, progress=False)
    return float(result.history["images_per_second"].iloc[-1])


def model_call_time(model, batch_size: int, repeats: int) -> dict[str, float]:
    """Median time of one compiled inference call on a batch (the path the pipeline uses)."""
    from aecrypt.method.pipeline import run_model

    x = np.random.default_rng(0).random((batch_size, *model.input_shape[1:]), dtype=np.float32)
    return time_call(lambda: run_model(model, x, batch_size), repeats, warmup=2)


def layer_training_times(autoencoder, batch_size: int = 16, repeats: int = 5) -> pd.DataFrame:
    """Forward plus backward time of each layer on its own, per image, with FLOPs and GFLOP/s.

    Shows what a training step's time goes to: each layer is rebuilt alone at its input
    shape and differentiated with respect to its input and weights.
    """
    import keras
    import tensorflow as tf

    from aecrypt.method.model import model_flops

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


# ------------------------------------------------------------ notebook 04's tables

#: The raw image's payload name; the feature maps' are ``feature_payload(dtype)``.
RAW_PAYLOAD = "raw image uint8"
#: The same image as a Keras pipeline holds it: float32 scaled to [0, 1], four times the bytes.
FLOAT_IMAGE_PAYLOAD = "image in [0, 1] float32"
#: What every size-versus-quality row's name ends with: the payload is then sealed with AES-GCM.
SEALED_SUFFIX = " + AES-GCM"
#: Wire formats of the feature map that notebook 04 times, smallest last.
FEATURE_DTYPES_TIMED = ("float32", "float16", "uint8")
#: Steps of the sender and receiver that ``step_times`` measures, one image at a time.
ENCODER_STEP, DECODER_STEP = "encoder (1 image)", "decoder (1 image)"
ENCRYPT_FEATURES_STEP, DECRYPT_FEATURES_STEP = "AES-GCM encrypt features", "AES-GCM decrypt features"
ENCRYPT_RAW_STEP, DECRYPT_RAW_STEP = "AES-GCM encrypt raw image", "AES-GCM decrypt raw image"
#: Rows of the end-to-end table: AES alone on the raw image, and the scheme for one image.
RAW_METHOD, SENDER_METHOD, RECEIVER_METHOD = "AES on raw image", "encoder + AES (1 image)", "AES + decoder (1 image)"
#: Row names of the paper's Tables 3 and 4 that ours are compared with.
PAPER_AES, PAPER_PROPOSED = "AES (without autoencoders)", "Proposed model (AE-Img-Crypto)"


def feature_payload(dtype: str) -> str:
    """Payload name of the feature map sent as ``dtype`` ('features float32', ...), as the tables look it up."""
    return f"features {dtype}"


def sealed(method: str) -> str:
    """Name of a size-versus-quality row: what is encrypted, then AES-GCM."""
    return method + SEALED_SUFFIX


def feature_method(dtype: str) -> str:
    """Size-versus-quality row name of the autoencoder's features sent as ``dtype``."""
    return sealed(f"autoencoder features {dtype}")


def batch_step(model: str, batch: int) -> str:
    """Step name of ``model`` ('encoder' or 'decoder') timed on a batch; its time is per batch
    in ``step_times`` and per image in the tables."""
    return f"{model} (batch of {batch}, per image)"


def payloads(raw: np.ndarray, features: np.ndarray, float_image: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The arrays AES is timed on, in their wire formats: the raw uint8 image, the image as
    float32 in [0, 1] (``float_image``; default ``raw / 255``), and the feature map as float32,
    float16 and uint8 codes (the casts are timed apart by ``conversion_times``)."""
    image = (raw.astype(np.float32) / 255.0) if float_image is None else np.asarray(float_image, np.float32)
    wire = {"float32": features.astype(np.float32), "float16": features.astype(np.float16), "uint8": quantize_uint8(features)[0]}
    return {RAW_PAYLOAD: raw, FLOAT_IMAGE_PAYLOAD: image, **{feature_payload(d): wire[d] for d in FEATURE_DTYPES_TIMED}}


def payload_sizes(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Shape and plaintext bytes of each payload, before timing."""
    return pd.DataFrame([{"payload": name, "shape": "x".join(map(str, a.shape)), "bytes": a.nbytes} for name, a in arrays.items()])


def batch_of(images: np.ndarray, size: int) -> np.ndarray:
    """The first ``size`` images, repeated round if there are fewer (smoke runs have few test images)."""
    return images[:size] if len(images) >= size else np.resize(images, (size, *images.shape[1:]))


def step_times(encoder, decoder, image: np.ndarray, batch: np.ndarray, key: bytes, aes_repeats: int, model_repeats: int) -> dict[str, dict[str, float]]:
    """``time_call`` of each step of sender and receiver: the networks on one image and on a
    batch (time per batch), AES-256-GCM on the features and on the raw image."""
    from aecrypt.method.pipeline import decode, encode

    features = encode(encoder, image[None])[0]
    raw = to_uint8(image)
    batch_features = encode(encoder, batch)
    features_payload, raw_payload = encrypt_features(features, key), encrypt_image(raw, key)
    r, n = model_repeats, len(batch)
    return {
        ENCODER_STEP: time_call(lambda: encode(encoder, image[None]), r),
        ENCRYPT_FEATURES_STEP: time_call(lambda: encrypt_features(features, key), aes_repeats),
        DECRYPT_FEATURES_STEP: time_call(lambda: decrypt_features(features_payload, key), aes_repeats),
        DECODER_STEP: time_call(lambda: decode(decoder, features[None]), r),
        ENCRYPT_RAW_STEP: time_call(lambda: encrypt_image(raw, key), aes_repeats),
        DECRYPT_RAW_STEP: time_call(lambda: decrypt_features(raw_payload, key), aes_repeats),
        batch_step("encoder", n): time_call(lambda: encode(encoder, batch), max(3, r // 4)),
        batch_step("decoder", n): time_call(lambda: decode(decoder, batch_features), max(3, r // 4)),
    }


def parts_table(parts: dict[str, dict[str, float]], batch: int) -> pd.DataFrame:
    """Median and interquartile range of each step in seconds per image (batch steps divided by ``batch``)."""
    batched = {batch_step("encoder", batch), batch_step("decoder", batch)}
    rows = []
    for step, t in parts.items():
        per = batch if step in batched else 1
        rows.append({"step": step, "median_s": t["median_s"] / per, "iqr_s": (t["q75_s"] - t["q25_s"]) / per, "repeats": t["repeats"]})
    return pd.DataFrame(rows)


def end_to_end_table(parts: dict[str, dict[str, float]], batch: int) -> pd.DataFrame:
    """Seconds per image of sender and receiver, network and AES apart: AES alone on the raw
    image, the scheme on one image, and the scheme with the network run on a batch."""
    m = {step: t["median_s"] for step, t in parts.items()}
    rows = [
        ("sender", RAW_METHOD, 0.0, m[ENCRYPT_RAW_STEP]),
        ("sender", SENDER_METHOD, m[ENCODER_STEP], m[ENCRYPT_FEATURES_STEP]),
        ("sender", f"encoder + AES (batch {batch})", m[batch_step("encoder", batch)] / batch, m[ENCRYPT_FEATURES_STEP]),
        ("receiver", RAW_METHOD, 0.0, m[DECRYPT_RAW_STEP]),
        ("receiver", RECEIVER_METHOD, m[DECODER_STEP], m[DECRYPT_FEATURES_STEP]),
        ("receiver", f"AES + decoder (batch {batch})", m[batch_step("decoder", batch)] / batch, m[DECRYPT_FEATURES_STEP]),
    ]
    table = pd.DataFrame(rows, columns=["side", "method", "model_s", "aes_s"])
    table["total_s"] = table["model_s"] + table["aes_s"]
    return table


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


def reduction_percent(before: float, after: float) -> float:
    """How much shorter ``after`` is than ``before``, in percent (negative: longer), as Table 4 counts."""
    return 100.0 * (1.0 - after / before)


#: The two schemes Tables 3 and 4 compare, and how they are named there.
TABLE_SCHEMES = {"gcm": "AES-256-GCM", "paper": "paper scheme (256 row keys)"}
#: The two readings of "the image" that AES without the autoencoder encrypts, as Tables 3 and 4 name them.
IMAGE_READINGS = {RAW_PAYLOAD: "raw image", FLOAT_IMAGE_PAYLOAD: "raw image as float32 in [0, 1]"}
#: The paper's reduction of encryption time: Table 3 (0.05 s to 0.016 s, 68 %) to Table 4 (75 %).
PAPER_REDUCTION_RANGE = (
    reduction_percent(float(PAPER_TABLE3["encryption_s"].iloc[0]), float(PAPER_TABLE3["encryption_s"].iloc[1])),
    float(PAPER_TABLE4.set_index("model").loc[PAPER_PROPOSED, "enhancement_over_aes_percent"]),
)
#: A reading "reproduces" the paper when its reduction lies within this many percentage points of that range.
REPRODUCES_WITHIN_POINTS = 10.0


def table3_method(scheme: str, what: str) -> str:
    """Our Table 3 row name: scheme label, then what is encrypted ('raw image', 'features float32', ...)."""
    return f"{TABLE_SCHEMES[scheme]}, {what}"


def table3(aes: pd.DataFrame, end_to_end: pd.DataFrame) -> pd.DataFrame:
    """Table 3 (seconds to encrypt and decrypt): the paper's two rows, then ours for the raw
    uint8 image, the image as float32 in [0, 1] and the float32 features, under AES-GCM and
    the paper's row-key scheme (``rows``: how many rows it encrypts, each under one of 256
    keys), and the whole sender and receiver. Rows are looked up by name, in any order."""
    rows = [{"source": "paper", "method": r["method"], "bytes": None, "rows": None, "encryption_s": r["encryption_s"],
             "decryption_s": r["decryption_s"]} for _, r in PAPER_TABLE3.iterrows()]
    f32 = feature_payload("float32")
    for scheme in TABLE_SCHEMES:
        for payload, what in (*IMAGE_READINGS.items(), (f32, "features float32")):
            row = _one(aes, payload=payload, scheme=scheme, backend=PYCRYPTODOME)
            rows.append({"source": "ours", "method": table3_method(scheme, what), "bytes": int(row["plaintext_bytes"]),
                         "rows": _rows(row) if scheme == "paper" else None,
                         "encryption_s": row["encrypt_median_s"], "decryption_s": row["decrypt_median_s"]})
    rows.append({"source": "ours", "method": "encoder + AES-256-GCM (whole sender)",
                 "bytes": int(_one(aes, payload=f32, scheme="gcm", backend=PYCRYPTODOME)["plaintext_bytes"]), "rows": None,
                 "encryption_s": _one(end_to_end, side="sender", method=SENDER_METHOD)["total_s"],
                 "decryption_s": _one(end_to_end, side="receiver", method=RECEIVER_METHOD)["total_s"]})
    return pd.DataFrame(rows)


def _rows(row: pd.Series) -> int:
    """Rows (first axis) of a timed payload: what the paper's row-key scheme cycles its keys over."""
    return int(str(row["shape"]).split("x")[0])


def comparison(scheme: str, dtype: str, payload: str) -> str:
    """Our Table 4 row name: ``scheme`` on features sent as ``dtype`` against the image ``payload``."""
    return f"{TABLE_SCHEMES[scheme]} on {dtype} features vs on the {IMAGE_READINGS[payload]}"


def sender_comparison(payload: str) -> str:
    """Our Table 4 row name of the whole sender against AES-GCM on the image ``payload``."""
    return f"encoder + AES-256-GCM (whole sender) vs AES-256-GCM on the {IMAGE_READINGS[payload]}"


def table4(aes: pd.DataFrame, end_to_end: pd.DataFrame, casts: dict[str, float]) -> pd.DataFrame:
    """Table 4 (reduction of encryption time, %): the paper's two rows, then ours: float32
    features against the raw uint8 image and against the image as float32 in [0, 1], under
    AES-GCM and the paper's row-key scheme; float16 and uint8 features (AES alone, the cast
    ``casts[dtype]`` apart and then included); and the whole sender against either image."""
    paper = PAPER_TABLE4.set_index("model")["enhancement_over_aes_percent"]
    rows = [
        {"source": "paper", "comparison": "DeepEDN vs AES", "reduction_percent": float(paper["DeepEDN"])},
        {"source": "paper", "comparison": f"proposed model vs AES (Table 4; the text says {100 * PAPER_TIME_REDUCTION_TEXT:.0f} %)",
         "reduction_percent": float(paper[PAPER_PROPOSED])},
    ]

    def ours(name: str, image_s: float, features_s: float, cast_s: float) -> dict:
        return {"source": "ours", "comparison": name, "image_aes_s": image_s, "features_aes_s": features_s, "cast_s": cast_s,
                "reduction_percent": reduction_percent(image_s, features_s),
                "cast_included_reduction_percent": reduction_percent(image_s, features_s + cast_s)}

    for scheme in TABLE_SCHEMES:
        for payload in IMAGE_READINGS:
            rows.append(ours(comparison(scheme, "float32", payload), _encrypt_s(aes, payload, scheme),
                             _encrypt_s(aes, feature_payload("float32"), scheme), casts["float32"]))
    for dtype in FEATURE_DTYPES_TIMED[1:]:
        rows.append(ours(comparison("gcm", dtype, RAW_PAYLOAD), _encrypt_s(aes, RAW_PAYLOAD, "gcm"),
                         _encrypt_s(aes, feature_payload(dtype), "gcm"), casts[dtype]))
    sender_s = _one(end_to_end, side="sender", method=SENDER_METHOD)["total_s"]
    for payload in IMAGE_READINGS:
        rows.append(ours(sender_comparison(payload), _encrypt_s(aes, payload, "gcm"), sender_s, 0.0))
    return pd.DataFrame(rows)


def conclusions(
    aes: pd.DataFrame, end_to_end: pd.DataFrame, size_quality: pd.DataFrame, casts: dict[str, float], cpu: str, raw_shape: tuple[int, ...],
) -> list[str]:
    """Notebook 04's conclusion, one line per finding, computed from its tables: equal bytes
    take equal AES time, the reading of "the image" that reproduces the paper's reduction,
    the row-key scheme's rows, smaller wire formats with their casts, the whole sender and
    receiver (a verdict that holds under either reading), OpenSSL and the paper's 0.05 s,
    and the codec that makes the least data to encrypt."""
    raw = _one(aes, payload=RAW_PAYLOAD, scheme="gcm", backend=PYCRYPTODOME)
    raw_s, image_s = raw["encrypt_median_s"], _gcm_encrypt_s(aes, FLOAT_IMAGE_PAYLOAD)
    f32_s, f16_s, u8_s = (_gcm_encrypt_s(aes, feature_payload(d)) for d in FEATURE_DTYPES_TIMED)
    f32_bytes = int(_one(aes, payload=feature_payload("float32"), scheme="gcm", backend=PYCRYPTODOME)["plaintext_bytes"])
    image_bytes = int(_one(aes, payload=FLOAT_IMAGE_PAYLOAD, scheme="gcm", backend=PYCRYPTODOME)["plaintext_bytes"])
    sender_s = _one(end_to_end, side="sender", method=SENDER_METHOD)["total_s"]
    encoder_s = _one(end_to_end, side="sender", method=SENDER_METHOD)["model_s"]
    receiver_s = _one(end_to_end, side="receiver", method=RECEIVER_METHOD)["total_s"]
    receiver_raw_s = _one(end_to_end, side="receiver", method=RAW_METHOD)["total_s"]
    openssl_s = _one(aes, payload=RAW_PAYLOAD, scheme="gcm", backend=OPENSSL)["encrypt_median_s"]
    codecs = size_quality[size_quality["method"].isin([sealed(name) for name in CODECS])]
    smallest = codecs.sort_values("bytes", kind="stable").iloc[0]
    uint8 = _one(size_quality, method=feature_method("uint8"))
    paper_aes_s = _one(PAPER_TABLE3, method=PAPER_AES)["encryption_s"]
    low, high = PAPER_REDUCTION_RANGE
    paper_reduction = f"{low:.0f}-{high:.0f} %"
    readings = {(scheme, payload): reduction_percent(_encrypt_s(aes, payload, scheme), _encrypt_s(aes, feature_payload("float32"), scheme))
                for scheme in TABLE_SCHEMES for payload in IMAGE_READINGS}
    near = {k: v for k, v in readings.items() if max(low - v, v - high, 0.0) <= REPRODUCES_WITHIN_POINTS}
    far = {k: v for k, v in readings.items() if k not in near}

    def named(items: dict) -> str:
        return "; ".join(f"{TABLE_SCHEMES[s]} against the {IMAGE_READINGS[p]} ({v:.0f} %)" for (s, p), v in items.items()) or "none"

    saving_s = max(_encrypt_s(aes, p, s) - _encrypt_s(aes, feature_payload("float32"), s) for s in TABLE_SCHEMES for p in IMAGE_READINGS)
    rows_image, rows_features = (_rows(_one(aes, payload=p, scheme="paper", backend=PYCRYPTODOME)) for p in (RAW_PAYLOAD, feature_payload("float32")))
    cast_lines = []
    for label, share, dtype, t in (("float16", "half", "float16", f16_s), ("uint8-quantised", "a quarter of", "uint8", u8_s)):
        verdict = ("converting them costs more than the AES they save." if t + casts[dtype] > f32_s
                   else "smaller and faster to encrypt, conversion included.")
        cast_lines.append(f"- {label} features ({share} the bytes): AES takes {t * 1e3:.3f} ms, {t / f32_s:.2f} times float32, "
                          f"and the conversion {casts[dtype] * 1e3:.3f} ms more: {verdict}")
    return [
        f"Measured on {cpu}, pycryptodome AES-256-GCM, medians of {int(raw['repeats'])} interleaved repetitions:",
        f"- raw {'x'.join(map(str, raw_shape))} image (uint8) and float32 features are both {f32_bytes} bytes; "
        f"AES takes {raw_s * 1e3:.3f} ms and {f32_s * 1e3:.3f} ms (ratio {f32_s / raw_s:.2f}; the raw image's interquartile "
        f"spread is {100 * raw['encrypt_iqr_s'] / raw_s:.0f} % of its median). Equal bytes, equal work: no reduction from the autoencoder itself.",
        f"- as a Keras pipeline holds it, the image is float32 in [0, 1]: {image_bytes} bytes, {image_bytes / f32_bytes:.0f} times the "
        f"features; AES-GCM takes {image_s * 1e3:.3f} ms on it, {reduction_percent(image_s, f32_s):.0f} % more than on the features.",
        f"- the paper's {paper_reduction} reduction is reproduced (within {REPRODUCES_WITHIN_POINTS:.0f} points) by: {named(near)}. "
        f"Not by: {named(far)}.",
        f"- the paper's row-key scheme encrypts {rows_image} rows of the image and {rows_features} of the features "
        f"(each row under one of 256 keys, so its work follows the row count as much as the bytes).",
        *cast_lines,
        f"- either way, the end-to-end verdict holds: the encoder alone takes {encoder_s * 1e3:.1f} ms per image, "
        f"{encoder_s / saving_s:.0f} times the largest AES saving measured ({saving_s * 1e3:.3f} ms). The whole sender "
        f"(encoder + AES) takes {sender_s * 1e3:.1f} ms, {sender_s / raw_s:.0f} times AES on the uint8 image and "
        f"{sender_s / image_s:.0f} times on the float32 image; the receiver (AES + decoder) {receiver_s / receiver_raw_s:.0f} "
        f"times AES on the uint8 image. The paper reports a {paper_reduction} reduction; end to end we measure "
        f"{'an increase' if sender_s > max(raw_s, image_s) else 'a reduction'}.",
        f"- AES-GCM through OpenSSL takes {openssl_s * 1e6:.0f} us for the raw image; the paper's {paper_aes_s:g} s is "
        f"{paper_aes_s / raw_s:.0f} times our pycryptodome time.",
        f"- {smallest['method']} makes the least data to encrypt: {int(smallest['bytes'])} bytes at SSIM "
        f"{smallest['ssim']:.4f}, against {int(uint8['bytes'])} bytes for uint8 features at SSIM {uint8['ssim']:.4f}.",
    ]


def _encrypt_s(aes: pd.DataFrame, payload: str, scheme: str) -> float:
    """Median encryption time of one payload under one scheme in pycryptodome."""
    return float(_one(aes, payload=payload, scheme=scheme, backend=PYCRYPTODOME)["encrypt_median_s"])


def _gcm_encrypt_s(aes: pd.DataFrame, payload: str) -> float:
    """Median AES-256-GCM encryption time of one payload in pycryptodome."""
    return float(_one(aes, payload=payload, scheme="gcm", backend=PYCRYPTODOME)["encrypt_median_s"])


def _one(table: pd.DataFrame, **match: str) -> pd.Series:
    """The one row whose columns hold the given values; an error naming them if there is none or several."""
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        mask &= table[column] == value
    if mask.sum() != 1:
        raise ParameterError(f"expected one row with {match}, found {int(mask.sum())}; the timing table is incomplete")
    return table[mask].iloc[0]
