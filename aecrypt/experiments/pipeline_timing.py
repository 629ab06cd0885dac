"""Sender and receiver timed end to end (notebook 04): the encoder and decoder on one image
and on a batch, AES-256-GCM on the features and on the raw image, and seconds per image of
each side with the network and AES apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aecrypt.experiments.timing import time_call
from aecrypt.method.payload import decrypt_features, encrypt_features, encrypt_image
from aecrypt.method.pixels import to_uint8

#: Steps of the sender and receiver that ``step_times`` measures, one image at a time.
ENCODER_STEP, DECODER_STEP = "encoder (1 image)", "decoder (1 image)"
ENCRYPT_FEATURES_STEP, DECRYPT_FEATURES_STEP = "AES-GCM encrypt features", "AES-GCM decrypt features"
ENCRYPT_RAW_STEP, DECRYPT_RAW_STEP = "AES-GCM encrypt raw image", "AES-GCM decrypt raw image"
#: Rows of the end-to-end table: AES alone on the raw image, and the scheme for one image.
RAW_METHOD, SENDER_METHOD, RECEIVER_METHOD = "AES on raw image", "encoder + AES (1 image)", "AES + decoder (1 image)"


def batch_step(model: str, batch: int) -> str:
    """Step name of ``model`` ('encoder' or 'decoder') timed on a batch; its time is per batch
    in ``step_times`` and per image in the tables."""
    return f"{model} (batch of {batch}, per image)"


def batch_of(images: np.ndarray, size: int) -> np.ndarray:
    """The first ``size`` images, repeated round if there are fewer (smoke runs have few test images)."""
    return images[:size] if len(images) >= size else np.resize(images, (size, *images.shape[1:]))


def step_times(encoder, decoder, image: np.ndarray, batch: np.ndarray, key: bytes, aes_repeats: int, model_repeats: int) -> dict[str, dict[str, float]]:
    """``time_call`` of each step of sender and receiver: the networks on one image and on a
    batch (time per batch), AES-256-GCM on the features and on the raw image."""
    from aecrypt.method.pipeline import decode, encode  # TensorFlow: loaded when a model is timed, not with the tables

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
