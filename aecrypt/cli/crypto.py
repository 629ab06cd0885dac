"""The key and payload commands: keygen, encrypt, decrypt, seal, unseal and inspect.

``encrypt`` and ``decrypt`` load TensorFlow, SciPy and the data wing inside their
functions, so that keygen, seal, unseal and inspect answer in a fraction of a second.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aecrypt import config
from aecrypt.cli.planning import (
    Job,
    file_name,
    finish,
    image_name,
    images_in,
    output_folder,
    payload_name,
    payloads_in,
    plan,
    run_batch,
    say,
    stored_metadata,
    warn,
    writing,
)
from aecrypt.errors import BatchFailedError, FidelityError, InputError, ModelFileError, ParameterError, WrongKeyOrTamperedError
from aecrypt.files import FileTooLargeError, atomic_file, read_bounded, sha256_file
from aecrypt.method.header import FILE_DTYPE, MAX_BODY_BYTES, read_header
from aecrypt.method.keys import generate_key, load_key, save_key
from aecrypt.method.payload import decrypt_features, decrypt_file, encrypt_features, encrypt_file, looks_like_payload, read_payload
from aecrypt.study.runs import MANIFEST_FILE

#: Training datasets of grey images (replicated to three channels): a colour image meets such a model with a warning.
GREY_DATASETS = frozenset({"mni152"})
#: A model's manifest is a few kilobytes of JSON; a larger file beside the encoder is not read.
MAX_MANIFEST_BYTES = 1 << 20


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


def cmd_keygen(args: argparse.Namespace) -> None:
    """Write a new random AES-256 key file (mode 0600)."""
    path = save_key(generate_key(), args.keyfile)
    print(f"wrote a new AES-256 key to {path} (readable only by you; share it with the receiver over a safe channel)")


# ----------------------------------------------------------------------- encrypt


@dataclass(frozen=True)
class _Sender:
    """What encrypt uses for every image: the key, the models and the image shape the encoder takes."""

    key: bytes
    encoder: Any
    decoder: Any | None
    size: int
    channels: int
    grey_dataset: str | None
    args: argparse.Namespace


def cmd_encrypt(args: argparse.Namespace) -> None:
    """Encode images with the encoder and write one encrypted payload per image, mirroring the folders.

    With ``--decoder`` each image's reconstruction is measured (SSIM, PSNR) and stored in the
    payload's authenticated header with the image's size and mode; one below ``--min-ssim`` is
    refused unless ``--allow-lossy`` is given.
    """
    if not -1.0 <= args.min_ssim <= 1.0:
        raise ParameterError(f"--min-ssim is an SSIM, between -1 and 1; not {args.min_ssim}")
    if args.encoder is None:  # the committed model, with its paired decoder to measure the loss
        args.encoder = _committed_model("encoder")
        args.decoder = args.decoder or _committed_model("decoder")
    key = load_key(args.key)
    out = Path(args.output)
    reads = [args.key, args.encoder] + ([args.decoder] if args.decoder else [])
    jobs = plan(images_in(args.images), out, payload_name, reads, args.force, looks_like_payload, "an aecrypt payload")
    with output_folder(out):
        sender = _load_sender(args, key)
        start = time.perf_counter()
        failed = run_batch(jobs, functools.partial(_encrypt_one, sender), "encrypting", not args.quiet)
    if sender.decoder is None and failed < len(jobs):
        warn("fidelity not measured: without --decoder, encrypt cannot say how close decrypt's reconstruction "
             "will be; pass the paired decoder to measure it and to refuse images below --min-ssim")
    finish("encrypted", "image", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _load_sender(args: argparse.Namespace, key: bytes) -> _Sender:
    """Load the encoder (and the decoder, if given) and check the image shapes they work on."""
    _import_tensorflow_quietly()
    from aecrypt.method.model import checked_image_shape, load_model  # after the quiet import of TensorFlow

    encoder = load_model(args.encoder, expected="encoder")
    size, _, channels = checked_image_shape(encoder, args.encoder)
    decoder = load_model(args.decoder, expected="decoder") if args.decoder else None
    if decoder is not None:
        checked_image_shape(decoder, args.decoder)
    return _Sender(key, encoder, decoder, size, channels, _grey_dataset(args.encoder), args)


def _encrypt_one(sender: _Sender, job: Job) -> None:
    """Read, encode, measure and encrypt one image, then write its payload."""
    from aecrypt.data.images import crop_fundus, prepare_image, read_image  # SciPy and TensorFlow: encrypt only
    from aecrypt.method.fidelity import measure_fidelity
    from aecrypt.method.pipeline import encode

    args = sender.args
    raw = read_image(job.source)
    raw = crop_fundus(raw) if args.fundus_crop else raw
    metadata = _image_metadata(job.source, raw)
    if sender.grey_dataset and _is_colour(raw):
        warn(f"{job.source}: a colour image, but the encoder was trained on grey {sender.grey_dataset} images; "
             "its colours will not come back")
    image = prepare_image(raw, sender.size, sender.channels)
    features = encode(sender.encoder, image[None])[0]
    if sender.decoder is not None:
        metadata.update(measure_fidelity(sender.decoder, raw, image, features, sender.key, args.dtype, metadata))
        _check_fidelity(job.source, metadata["ssim"], args)
    payload = encrypt_features(features, sender.key, scheme="gcm", dtype=args.dtype, metadata=metadata)
    with writing(job.target), atomic_file(job.target, replace=args.force) as handle:
        handle.write(payload)
    if sender.decoder is not None:
        say(f"{job.source} -> {job.target}: reconstruction at {fidelity_text(metadata)}", args.quiet)


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


def _is_colour(image: np.ndarray) -> bool:
    """Whether an HxWxC image in [0, 1] has three channels that differ (not grey stored as RGB)."""
    return image.shape[-1] == 3 and not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def _image_metadata(path: Path, image: np.ndarray) -> dict:
    """What decrypt needs to give an image back its shape: height, width, colour mode and channels, extension."""
    with Image.open(path) as handle:
        mode = handle.mode
    return {"height": int(image.shape[0]), "width": int(image.shape[1]), "mode": mode,
            "channels": int(image.shape[-1]), "suffix": path.suffix}


def fidelity_text(metadata: dict) -> str:
    """'SSIM 0.889, PSNR 28.0 dB at 233x197 (0.972 at the model's size)' from a header's metadata, or a note that it was not measured."""
    if not isinstance(metadata.get("ssim"), (int, float)):
        return "fidelity not measured at encryption (no --decoder)"
    peak = metadata.get("psnr")
    text = (f"SSIM {metadata['ssim']:.3f}, PSNR {'inf' if peak is None else f'{peak:.1f}'} dB "
            f"at the original {metadata.get('height')}x{metadata.get('width')}")
    if isinstance(metadata.get("model_ssim"), (int, float)):
        text += f" (SSIM {metadata['model_ssim']:.3f} at the model's size)"
    return text


# ----------------------------------------------------------------------- decrypt


def cmd_decrypt(args: argparse.Namespace) -> None:
    """Decrypt payloads with the key and decode them into images at their original size, mirroring the folders."""
    from aecrypt.data.images import written_by_aecrypt  # SciPy: decrypt only

    args.decoder = args.decoder or _committed_model("decoder")
    key = load_key(args.key)
    out = Path(args.output)
    jobs = plan(payloads_in(args.payloads), out, image_name, [args.key, args.decoder], args.force, written_by_aecrypt,
                "an image aecrypt decrypt wrote")
    with output_folder(out):
        _import_tensorflow_quietly()
        from aecrypt.method.model import checked_image_shape, load_model  # after the quiet import of TensorFlow

        decoder = load_model(args.decoder, expected="decoder")
        checked_image_shape(decoder, args.decoder)
        start = time.perf_counter()
        failed = run_batch(jobs, functools.partial(_decrypt_one, decoder, key, args), "decrypting", not args.quiet)
    finish("decrypted", "payload", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _decrypt_one(decoder: Any, key: bytes, args: argparse.Namespace, job: Job) -> None:
    """Read, decrypt (authenticating the header first) and decode one payload, then write its image."""
    from aecrypt.data.images import write_image  # SciPy and TensorFlow: decrypt only
    from aecrypt.method.fidelity import restore_image
    from aecrypt.method.pipeline import decode

    payload = read_payload(job.source)
    header = read_header(payload)
    if header.dtype == FILE_DTYPE:
        raise InputError("this payload holds a sealed file, not features; recover it with 'aecrypt unseal'")
    features = decrypt_features(payload, key)
    expected = tuple(decoder.input_shape[1:])
    if features.shape != expected:
        raise ModelFileError(
            f"this payload holds features of shape {features.shape}, but this decoder takes {expected}; "
            "use the decoder trained with the sender's encoder"
        )
    image = restore_image(decode(decoder, features[None])[0], header.metadata)
    with writing(job.target):
        write_image(job.target, image, replace=args.force)
    size = "" if header.metadata else " at the model's size (the original size is not stored)"
    say(f"{job.source} -> {job.target}: lossy reconstruction{size}, {fidelity_text(header.metadata)}", args.quiet)


# --------------------------------------------------------------- seal and unseal


def _read_file(path: Path) -> bytes:
    """A regular file's bytes, at most what a payload holds; ``InputError`` otherwise (a FIFO is refused unread)."""
    try:
        return read_bounded(path, MAX_BODY_BYTES)
    except FileTooLargeError as exc:
        raise InputError(f"{path}: too large for a payload ({exc.strerror})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read this file ({exc.strerror})") from None


def cmd_seal(args: argparse.Namespace) -> None:
    """Encrypt image files themselves (their bytes) with AES-256-GCM: lossless, unlike encrypt."""
    key = load_key(args.key)
    out = Path(args.output)
    jobs = plan(images_in(args.images), out, payload_name, [args.key], args.force, looks_like_payload, "an aecrypt payload")
    with output_folder(out):
        def work(job: Job) -> None:
            """Read and encrypt one file, then write its payload."""
            data = _read_file(job.source)
            metadata = {"suffix": job.source.suffix, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            payload = encrypt_file(data, key, metadata=metadata)
            with writing(job.target), atomic_file(job.target, replace=args.force) as handle:
                handle.write(payload)

        start = time.perf_counter()
        failed = run_batch(jobs, work, "sealing", not args.quiet)
    finish("sealed", "file", jobs, failed, out, time.perf_counter() - start, args.quiet)


def cmd_unseal(args: argparse.Namespace) -> None:
    """Decrypt sealed payloads back into the original files, bit for bit, mirroring the folders."""
    key = load_key(args.key)
    out = Path(args.output)
    sources = payloads_in(args.payloads)
    sealed_at = {out / file_name(source, relative): source for source, relative in sources}

    def identical(target: Path) -> bool:
        """Whether an existing file is the very file a payload holds (so --force may replace it)."""
        try:
            return sha256_file(target) == stored_metadata(sealed_at[target]).get("sha256")
        except OSError:
            return False

    jobs = plan(sources, out, file_name, [args.key], args.force, identical, "identical to the sealed file")
    with output_folder(out):
        def work(job: Job) -> None:
            """Read and decrypt one sealed payload, then write the original file."""
            payload = read_payload(job.source)
            data = decrypt_file(payload, key)
            if hashlib.sha256(data).hexdigest() != read_header(payload).metadata.get("sha256"):
                raise WrongKeyOrTamperedError("the recovered file does not match the SHA-256 sealed with it; the payload was altered")
            with writing(job.target), atomic_file(job.target, replace=args.force) as handle:
                handle.write(data)

        start = time.perf_counter()
        failed = run_batch(jobs, work, "unsealing", not args.quiet)
    finish("unsealed", "file", jobs, failed, out, time.perf_counter() - start, args.quiet)


# ----------------------------------------------------------------------- inspect


def _metadata_text(dtype: str, metadata: dict) -> str:
    """What a header's metadata says, for inspect: the original's size and mode, and the fidelity."""
    if dtype == FILE_DTYPE:
        return f"; sealed file ({metadata.get('suffix') or 'no extension'}, {metadata.get('bytes')} bytes), lossless"
    if not metadata:
        return "; no metadata (original size unknown)"
    return (f"; original {metadata.get('height')}x{metadata.get('width')} {metadata.get('mode')} "
            f"{metadata.get('suffix') or ''}, lossy reconstruction: {fidelity_text(metadata)}")


def cmd_inspect(args: argparse.Namespace) -> None:
    """Print each payload's header: scheme, dtype, shape, sizes and metadata (no key needed)."""
    def work(job: Job) -> None:
        """Print one payload's header."""
        h = read_header(read_payload(job.source))
        print(f"{job.source}: aecrypt payload v{h.version}, scheme {h.scheme} ({'authenticated' if h.authenticated else 'NOT authenticated'}), "
              f"dtype {h.dtype}, shape {'x'.join(map(str, h.shape))}, {h.plaintext_bytes} plaintext bytes, "
              f"{h.total_bytes} bytes in all (header {h.header_bytes}, ciphertext {h.body_bytes}, tag {len(h.tag)})"
              f"{_metadata_text(h.dtype, h.metadata)}", flush=True)

    jobs = [Job(Path(name)) for name in args.payloads]
    failed = run_batch(jobs, work, "inspecting", progress=False)
    if failed:
        raise BatchFailedError(f"{failed} of {len(jobs)} payload(s) could not be read (named above)")
