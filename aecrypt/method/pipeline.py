"""The cryptosystem of Section 3.4: sender (encoder, then AES) and receiver (AES, then decoder).

Models are called through a compiled ``tf.function`` in batches, never through
``model.predict`` (which costs tens of milliseconds of set-up per call).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from aecrypt.method.header import read_header
from aecrypt.method.payload import decrypt_features, encrypt_features
from aecrypt.errors import ModelFileError
from aecrypt.method.model import keras
from aecrypt.method.streaming import kept_on_disk

DEFAULT_BATCH_SIZE = 32


def run_model(model: keras.Model, inputs: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Apply a Keras model to an array in batches through a cached compiled call (images
    kept on disk, ``streaming.ImagesOnDisk``, are read a batch at a time)."""
    call = _compiled_call(model)
    x = inputs if kept_on_disk(inputs) else np.asarray(inputs, dtype=np.float32)
    if x.ndim == len(model.input_shape) - 1:
        return run_model(model, x[None], batch_size)[0]
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise ModelFileError(
            f"model {model.name!r} takes arrays of shape {expected}, not {tuple(x.shape[1:])}; "
            "use the model trained for this image size"
        )
    outputs = [call(tf.constant(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, *model.output_shape[1:]), np.float32)


def _compiled_call(model: keras.Model):
    """A ``tf.function`` of the model in inference mode, built once per model object and traced
    once: its signature leaves the batch size open, so a short last batch needs no new trace
    (retracing per batch shape cost time, and TensorFlow's retracing warnings in notebook outputs)."""
    call = getattr(model, "_aecrypt_call", None)
    if call is None:
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
        call = tf.function(lambda x: model(x, training=False), input_signature=signature)
        model._aecrypt_call = call
    return call


def encode(encoder: keras.Model, images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Feature maps of images (floats in [0, 1], NHWC), batched."""
    return run_model(encoder, images, batch_size)


def decode(decoder: keras.Model, features: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Images reconstructed from feature maps, batched."""
    return run_model(decoder, features, batch_size)


def send(
    encoder: keras.Model,
    images: np.ndarray,
    key: bytes,
    scheme: str = "gcm",
    dtype: str = "float32",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[bytes]:
    """Sender side: encode each image and encrypt its feature map into one payload per image."""
    features = encode(encoder, images, batch_size)
    return [encrypt_features(f, key, scheme=scheme, dtype=dtype) for f in features]


def receive(
    decoder: keras.Model,
    payloads: Sequence[bytes],
    key: bytes,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_unauthenticated: bool = False,
) -> np.ndarray:
    """Receiver side: decrypt each payload and decode the feature maps into images."""
    expected = tuple(decoder.input_shape[1:])
    for index, payload in enumerate(payloads):
        shape = read_header(payload).shape
        if shape != expected:
            raise ModelFileError(
                f"payload {index} holds features of shape {shape}, but this decoder takes {expected}; "
                "use the decoder trained with the sender's encoder"
            )
    features = np.stack([decrypt_features(p, key, allow_unauthenticated) for p in payloads]) if payloads else np.zeros((0, *expected), np.float32)
    return decode(decoder, features, batch_size)


def round_trip(
    encoder: keras.Model,
    decoder: keras.Model,
    images: np.ndarray,
    key: bytes,
    scheme: str = "gcm",
    dtype: str = "float32",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """The whole cryptosystem on a batch: encode, encrypt, decrypt, decode (what Table 6 measures)."""
    payloads = send(encoder, images, key, scheme=scheme, dtype=dtype, batch_size=batch_size)
    return receive(decoder, payloads, key, batch_size=batch_size, allow_unauthenticated=scheme != "gcm")
