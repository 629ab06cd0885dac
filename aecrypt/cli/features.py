"""The lossy commands: encrypt (encoder, then AES) and decrypt (AES, then decoder), at each image's own size.

Each image, DICOM file or NIfTI volume is read at its own bit depth, frame by frame, and
run through a free-size copy of the encoder (``aecrypt.method.native``): no resize round
trip. With the decoder, encrypt measures what decrypt will write against the original in
the original's own units and refuses an image below ``--min-ssim``. The payload's
authenticated header names the encoder's and decoder's weights (``weights_digest``), so
decrypt refuses another decoder unless told to use it anyway. TensorFlow, SciPy and the
data wing are loaded inside the functions, so that ``--help`` stays quick.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aecrypt import config
from aecrypt.cli.crypto import fidelity_text
from aecrypt.cli.planning import (
    Job,
    finish,
    image_name,
    output_folder,
    payload_name,
    payloads_in,
    plan,
    run_batch,
    say,
    scans_in,
    warn,
    writing,
)
from aecrypt.errors import FidelityError, ImageSizeError, InputError, ModelFileError, ParameterError, PayloadFormatError
from aecrypt.files import atomic_file, read_bounded
from aecrypt.method.header import FILE_DTYPE, MAX_BODY_BYTES, read_header
from aecrypt.method.keys import load_key
from aecrypt.method.payload import decrypt_payload, encrypt_features, looks_like_payload, read_payload
from aecrypt.study.runs import MANIFEST_FILE

#: Training datasets of grey images (replicated to three channels): a colour image meets such a model with a warning.
GREY_DATASETS = frozenset({"mni152"})
#: A model's manifest is a few kilobytes of JSON; a larger file beside the encoder is not read.
MAX_MANIFEST_BYTES = 1 << 20
#: Bytes per feature value in the payload, by --dtype (to refuse an image whose features no payload holds).
FEATURE_BYTES = {"float32": 4, "float16": 2, "uint8": 1}
#: What a payload made at an image's own size says in its header (earlier payloads went through the model's square).
NATIVE_LAYOUT = "native"


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their start-up chatter, so errors stay one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from aecrypt.progress import stderr_to

    with stderr_to(os.devnull):  # TensorFlow's C++ start-up notices ignore log levels
        import tensorflow  # noqa: F401
        import keras  # noqa: F401


def _committed_model(part: str) -> str:
    """The committed default model's encoder or decoder file, or an InputError saying what to pass."""
    path = config.COMMITTED_MODEL_DIR / f"{part}.keras"
    if not path.is_file():
        raise InputError(f"no --{part} given and the committed model's {path} is missing; pass --{part} FILE, "
                         "or train one with 'aecrypt reproduce --only 02'")
    return str(path)


@dataclass(frozen=True)
class _Model:
    """A loaded encoder or decoder: its free-size copy, the feature shape it was trained with and its weights' digest."""

    native: Any
    features: tuple[int, ...]
    digest: str


def _load(path: str, part: str) -> _Model:
    """Load an encoder or decoder, check the image shape it works on, and make its free-size copy."""
    from aecrypt.method.model import checked_image_shape, load_model, weights_digest  # after the quiet TensorFlow import
    from aecrypt.method.native import native_model

    model = load_model(path, expected=part)
    checked_image_shape(model, path)
    features = tuple(model.output_shape[1:] if part == "encoder" else model.input_shape[1:])
    return _Model(native_model(model), features, weights_digest(model))


# ----------------------------------------------------------------------- encrypt


@dataclass(frozen=True)
class _Sender:
    """What encrypt uses for every image: the key, the models and the grey dataset the encoder learnt from."""

    key: bytes
    encoder: _Model
    decoder: _Model | None
    grey_dataset: str | None
    args: argparse.Namespace


def cmd_encrypt(args: argparse.Namespace) -> None:
    """Encode images and scans with the encoder at their own size and write one encrypted payload each, mirroring the folders.

    With ``--decoder`` each reconstruction is measured in the original's own units (SSIM,
    PSNR; for CT the error in HU) and stored in the payload's authenticated header with the
    models' digests and what decrypt needs; one below ``--min-ssim`` is refused unless
    ``--allow-lossy`` is given.
    """
    if not -1.0 <= args.min_ssim <= 1.0:
        raise ParameterError(f"--min-ssim is an SSIM, between -1 and 1; not {args.min_ssim}")
    if args.encoder is None:  # the committed model, with its paired decoder to measure the loss
        args.encoder = _committed_model("encoder")
        args.decoder = args.decoder or _committed_model("decoder")
    key = load_key(args.key)
    out = Path(args.output)
    reads = [args.key, args.encoder] + ([args.decoder] if args.decoder else [])
    jobs = plan(scans_in(args.images), out, payload_name, reads, args.force, looks_like_payload, "an aecrypt payload")
    with output_folder(out):
        sender = _load_sender(args, key)
        start = time.perf_counter()
        failed = run_batch(jobs, functools.partial(_encrypt_one, sender), "encrypting", not args.quiet)
    if sender.decoder is None and sum(failed.values()) < len(jobs):
        warn("fidelity not measured: without --decoder, encrypt cannot say how close decrypt's reconstruction "
             "will be; pass the paired decoder to measure it and to refuse images below --min-ssim")
    finish("encrypted", "image", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _load_sender(args: argparse.Namespace, key: bytes) -> _Sender:
    """Load the encoder (and the decoder, if given) and check that they belong together."""
    _import_tensorflow_quietly()
    encoder = _load(args.encoder, "encoder")
    decoder = _load(args.decoder, "decoder") if args.decoder else None
    if decoder is not None and decoder.features != encoder.features:
        raise ModelFileError(f"{args.decoder}: this decoder takes features of shape {decoder.features}, but the encoder "
                             f"makes {encoder.features}; pass the decoder trained with this encoder")
    return _Sender(key, encoder, decoder, _grey_dataset(args.encoder), args)


def _encrypt_one(sender: _Sender, job: Job) -> None:
    """Read, encode, measure and encrypt one file, then write its payload."""
    from aecrypt.data.scans import read_scan  # SciPy and TensorFlow: encrypt only
    from aecrypt.method.native import encode_frames

    args = sender.args
    scan = _cropped(read_scan(job.source, args.axis)) if args.fundus_crop else read_scan(job.source, args.axis)
    _check_size(scan.frames.shape, sender.encoder, args.dtype)
    for note in scan.notes:
        warn(f"{job.source}: {note}")
    if sender.grey_dataset and _is_colour(scan.frames):
        warn(f"{job.source}: a colour image, but the encoder was trained on grey {sender.grey_dataset} images; "
             "its colours will not come back")
    features = encode_frames(sender.encoder.native, scan.frames, scan.window)
    metadata = {**scan.metadata, "layout": NATIVE_LAYOUT, "model_features": list(sender.encoder.features),
                "encoder": sender.encoder.digest}
    if sender.decoder is not None:
        metadata.update(_measured(sender, scan, features, metadata), decoder=sender.decoder.digest)
        _check_fidelity(job.source, metadata["ssim"], args)
    stored = features if len(features) > 1 else features[0]
    payload = encrypt_features(stored, sender.key, dtype=args.dtype, metadata=metadata, private=scan.private)
    with writing(job.target, args.force), atomic_file(job.target, replace=args.force) as handle:
        handle.write(payload)
    if sender.decoder is not None:
        say(f"{job.source} -> {job.target}: reconstruction at {fidelity_text(metadata)}", args.quiet)


def _measured(sender: _Sender, scan, features: np.ndarray, metadata: dict) -> dict:
    """The fidelity of what decrypt will write: the features as the receiver gets them (float16 or uint8 as
    sent), decoded at native size, put back into the original's type and range, through the file format."""
    from aecrypt.data.scans import values_written
    from aecrypt.method.fidelity import fidelity
    from aecrypt.method.native import decode_frames

    received = features
    if sender.args.dtype != "float32":  # what the receiver decrypts, quantised as sent
        received = decrypt_payload(encrypt_features(features, sender.key, dtype=sender.args.dtype), sender.key)[0]
    written = values_written(decode_frames(sender.decoder.native, received, metadata), metadata, metadata["suffix"])
    return fidelity(scan.frames, written, scan.window, scan.units, scan.slope)


def _check_size(shape: tuple[int, ...], encoder: _Model, dtype: str) -> None:
    """Refuse frames smaller than the model's stride (or SSIM's window), or whose features no payload holds."""
    from aecrypt.method.metrics import SSIM_MIN_SIDE
    from aecrypt.method.native import padded_side

    frames, height, width, _ = shape
    stride = encoder.native.stride
    smallest = max(stride, SSIM_MIN_SIDE)
    if min(height, width) < smallest:
        raise ImageSizeError(f"{height}x{width} is smaller than {smallest}x{smallest}, the least the model's stride "
                             f"({stride}) and SSIM's window take; 'aecrypt seal' it (exact)")
    feature_bytes = (frames * padded_side(height, stride) * padded_side(width, stride) // stride**2
                     * encoder.features[-1] * FEATURE_BYTES[dtype])
    if feature_bytes > MAX_BODY_BYTES:
        raise ImageSizeError(f"its features would take {feature_bytes} bytes, more than a payload holds ({MAX_BODY_BYTES}); "
                             "split it, use --dtype uint8, or 'aecrypt seal' it (exact)")


def _cropped(scan):
    """A scan cropped to the fundus field of view of its first frame (--fundus-crop); decrypt gives the cropped size."""
    from dataclasses import replace

    from aecrypt.data.images import fundus_box
    from aecrypt.method.pixels import to_unit

    top, bottom, left, right = fundus_box(to_unit(scan.frames[0], scan.window))
    frames = np.ascontiguousarray(scan.frames[:, top:bottom, left:right])
    return replace(scan, frames=frames, metadata={**scan.metadata, "height": frames.shape[1], "width": frames.shape[2]})


def _check_fidelity(source: Path, measured: float, args: argparse.Namespace) -> None:
    """Refuse an image reconstructed below --min-ssim, unless --allow-lossy is given."""
    if measured < args.min_ssim and not args.allow_lossy:
        raise FidelityError(
            f"{source}: the decoder reconstructs this image at SSIM {measured:.3f}, below "
            f"--min-ssim {args.min_ssim:g}; pass --allow-lossy to encrypt it anyway, or 'aecrypt seal' it (exact)"
        )


def _grey_dataset(encoder: str) -> str | None:
    """The grey-image dataset the encoder was trained on, from the manifest beside it (None if colour or unknown)."""
    try:
        dataset = json.loads(read_bounded(Path(encoder).parent / MANIFEST_FILE, MAX_MANIFEST_BYTES))["parameters"]["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dataset if dataset in GREY_DATASETS else None


def _is_colour(frames: np.ndarray) -> bool:
    """Whether frames (N, H, W, C) have three channels that differ (not grey stored as RGB)."""
    return frames.shape[-1] == 3 and not (np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 1], frames[..., 2]))


# ----------------------------------------------------------------------- decrypt


def cmd_decrypt(args: argparse.Namespace) -> None:
    """Decrypt payloads with the key and decode them at their original size, type and bit depth, mirroring the folders."""
    from aecrypt.data.scans import written_by_aecrypt_scan  # SciPy: decrypt only

    args.decoder = args.decoder or _committed_model("decoder")
    key = load_key(args.key)
    out = Path(args.output)
    jobs = plan(payloads_in(args.payloads), out, image_name, [args.key, args.decoder], args.force, written_by_aecrypt_scan,
                "an image aecrypt decrypt wrote")
    with output_folder(out):
        _import_tensorflow_quietly()
        decoder = _load(args.decoder, "decoder")
        start = time.perf_counter()
        failed = run_batch(jobs, functools.partial(_decrypt_one, decoder, key, args), "decrypting", not args.quiet)
    finish("decrypted", "payload", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _decrypt_one(decoder: _Model, key: bytes, args: argparse.Namespace, job: Job) -> None:
    """Read, decrypt (authenticating the header first) and decode one payload, then write its file."""
    payload = read_payload(job.source)
    header = read_header(payload)
    if header.dtype == FILE_DTYPE:
        raise InputError("this payload holds a sealed file, not features; recover it with 'aecrypt unseal'")
    features, private = decrypt_payload(payload, key)  # from here on the header is authenticated
    metadata = header.metadata
    if features.shape[-1] != decoder.features[-1]:
        raise ModelFileError(f"this payload holds features of shape {features.shape}, but this decoder takes "
                             f"{decoder.features[-1]} channels; use the decoder trained with the sender's encoder")
    other = _other_decoder(metadata, decoder, args)
    if metadata.get("layout") == NATIVE_LAYOUT:
        _write_native(decoder, features, private, metadata, header.plaintext_bytes, job.target, args.force)
    else:
        _write_resized(decoder, features, metadata, job.target, args.force)
    fidelity = fidelity_text(metadata)
    if other:
        fidelity = f"decoded with a decoder other than the sender's, so the stated fidelity ({fidelity}) does not hold for it"
    size = "" if metadata else " at the model's size (the original size is not stored)"
    say(f"{job.source} -> {job.target}: lossy reconstruction{size}, {fidelity}", args.quiet)


def _other_decoder(metadata: dict, decoder: _Model, args: argparse.Namespace) -> bool:
    """Whether the payload names a decoder other than this one: refused, unless --any-decoder (then True)."""
    named = metadata.get("decoder")
    trained = metadata.get("model_features")
    if trained is not None and not (isinstance(trained, list) and all(isinstance(n, int) for n in trained)):
        raise PayloadFormatError(f"the header's model_features {trained!r} is not a shape; the payload was made wrongly")
    if trained is not None and tuple(trained) != decoder.features:
        mismatch = (f"this payload's encoder makes features of shape {tuple(trained)}, but this decoder takes "
                    f"{decoder.features}")
    elif named is not None and named != decoder.digest:
        mismatch = (f"this payload was encrypted for the decoder with weights {str(named)[:12]}…, but {args.decoder} "
                    f"has weights {decoder.digest[:12]}…")
    else:
        return False
    if not args.any_decoder:
        raise ModelFileError(f"{mismatch}; use the decoder trained with the sender's encoder, or pass --any-decoder "
                             "to decode anyway (the stated fidelity then does not hold)")
    return True


def _write_native(decoder: _Model, features: np.ndarray, private: bytes, metadata: dict, feature_bytes: int,
                  target: Path, force: bool) -> None:
    """Decode frames at the size the header records and write them as the file type it names."""
    from aecrypt.data.scans import write_scan  # SciPy: decrypt only
    from aecrypt.method.native import decode_frames

    frames = features if features.ndim == 4 else features[None]
    _check_header_size(metadata, frames.shape, decoder.native.stride)
    values = decode_frames(decoder.native, frames, metadata)
    ratio = values.nbytes / max(feature_bytes, 1)  # the original's pixel bytes per payload byte of features
    with writing(target, force):
        write_scan(target, values, metadata, private, ratio, replace=force)


def _check_header_size(metadata: dict, shape: tuple[int, ...], stride: int) -> None:
    """Refuse a header whose size, frames, channels or value type do not fit its features (a key holder's forgery)."""
    from aecrypt.data.stored import MAX_FRAME_PIXELS, STORED_DTYPES
    from aecrypt.method.native import padded_side

    height, width, channels = (metadata.get(name) for name in ("height", "width", "channels"))
    window = metadata.get("window")
    fits = (all(isinstance(n, int) and n > 0 for n in (height, width, channels)) and channels in (1, 3)
            and height * width <= MAX_FRAME_PIXELS and metadata.get("frames", 1) == shape[0]
            and (padded_side(height, stride) // stride, padded_side(width, stride) // stride) == tuple(shape[1:3])
            and metadata.get("dtype") in STORED_DTYPES
            and isinstance(window, list) and len(window) == 2 and all(isinstance(v, (int, float)) for v in window))
    if not fits:
        raise PayloadFormatError(f"the header's original size {height}x{width} ({metadata.get('frames', 1)} frame(s), "
                                 f"{channels} channel(s), {metadata.get('dtype')}) does not fit its features {shape}; "
                                 "the payload was made wrongly")


def _write_resized(decoder: _Model, features: np.ndarray, metadata: dict, target: Path, force: bool) -> None:
    """A payload of an earlier version (features of the model's square input): decoded, resized back, written as 8-bit."""
    from aecrypt.data.images import write_image  # SciPy: decrypt only
    from aecrypt.method.fidelity import restore_resized
    from aecrypt.method.native import decode_native

    if features.ndim != 3:
        raise PayloadFormatError(f"this payload holds features of shape {features.shape}; one image's are height x width x channels")
    reconstruction = decode_native(decoder.native, features, *(n * decoder.native.stride for n in features.shape[:2]))
    with writing(target, force):
        write_image(target, restore_resized(reconstruction, metadata), replace=force)
