"""The ``aecrypt`` command line: reproduce the study, or encrypt real image files with a key.

Every error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import math
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aecrypt.config import STYLES
from aecrypt.errors import AecryptError, BatchFailedError, FidelityError, InputError, ModelFileError, OutputError, ParameterError

EXIT_ERROR = 1
EXIT_USAGE = 2
PAYLOAD_SUFFIX = ".aecrypt"
#: The image type ``decrypt`` writes when neither the payload's name nor its header says (x.aecrypt -> x.png).
DEFAULT_IMAGE_SUFFIX = ".png"
#: ``encrypt`` refuses an image the decoder reconstructs below this SSIM, unless --allow-lossy is given.
MIN_SSIM = 0.95
#: SSIM and PSNR are measured at the original size up to this many pixels; a larger image on a copy scaled down to it.
FIDELITY_MAX_PIXELS = 2048 * 2048
#: Digits kept of SSIM and PSNR in a payload's header.
METRIC_DIGITS = 4
#: The file beside a model that says what it was trained on (``parameters.dataset``).
MANIFEST_NAME = "manifest.json"
#: Training datasets of grey images (replicated to three channels): a colour image meets such a model with a warning.
GREY_DATASETS = frozenset({"mni152"})
#: A stored file extension is used in an output name only if it looks like one (no path separators).
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their start-up chatter, so errors stay one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from aecrypt.progress import stderr_to

    with stderr_to(os.devnull):  # TensorFlow's C++ start-up notices ignore log levels
        import tensorflow  # noqa: F401
        import keras  # noqa: F401


def _value(text: str):
    """Parse a ``-p`` value as a Python literal (number, None, True) or keep it as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@dataclass(frozen=True)
class Job:
    """One input file of a batch and the output it becomes (None for ``inspect``)."""

    source: Path
    target: Path | None = None


def _expand(paths: list[str], in_folder: Callable[[Path], list[Path]], nothing: str) -> list[tuple[Path, Path]]:
    """Each input file with its name relative to the folder argument it was found in (a file: its name)."""
    found: list[tuple[Path, Path]] = []
    for item in map(Path, paths):
        if item.is_dir():
            found += [(path, path.relative_to(item)) for path in in_folder(item)]
        elif item.exists():
            found.append((item, Path(item.name)))
        else:
            raise InputError(f"{item}: no such file or folder")
    if not found:
        raise InputError(nothing)
    return found


def _images_in(paths: list[str]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into image files with their relative names."""
    from aecrypt.data.datasets import IMAGE_SUFFIXES, find_images

    return _expand(paths, find_images, f"no images given (supported: {', '.join(IMAGE_SUFFIXES)})")


def _payloads_in(paths: list[str]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into payload files (``*.aecrypt`` inside folders)."""
    def in_folder(folder: Path) -> list[Path]:
        """Payload files anywhere under a folder, sorted."""
        return sorted(path for path in folder.rglob(f"*{PAYLOAD_SUFFIX}") if path.is_file())

    return _expand(paths, in_folder, f"no payloads given (files ending in {PAYLOAD_SUFFIX})")


def _payload_name(source: Path, image: Path) -> Path:
    """Where an image's payload goes, relative to -o: a/x.png -> a/x.png.aecrypt."""
    return image.with_name(image.name + PAYLOAD_SUFFIX)


def _image_name(source: Path, payload: Path) -> Path:
    """Where a payload's image goes, relative to -o: a/x.png.aecrypt -> a/x.png; a/x.aecrypt -> a/x + the stored extension (or .png)."""
    from aecrypt.data.datasets import IMAGE_SUFFIXES

    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        stored = _stored_metadata(source).get("suffix", "")
        name += stored if stored.lower() in IMAGE_SUFFIXES else DEFAULT_IMAGE_SUFFIX
    return payload.with_name(name)


def _file_name(source: Path, payload: Path) -> Path:
    """Where a sealed file goes, relative to -o: a/x.dcm.aecrypt -> a/x.dcm; a/x.aecrypt -> a/x + the stored extension."""
    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    stored = _stored_metadata(source).get("suffix", "")
    if Path(name).suffix.lower() != stored.lower():
        name += stored
    return payload.with_name(name)


def _stored_metadata(payload: Path) -> dict:
    """A payload's header metadata, read without the key, for naming its output ({} if unreadable).

    It is not yet authenticated here, so a stored extension is used only if it is a plain one.
    """
    from aecrypt.method.cipher import read_header, read_payload

    try:
        metadata = dict(read_header(read_payload(payload)).metadata)
    except AecryptError:
        return {}
    suffix = metadata.get("suffix")
    if not (isinstance(suffix, str) and _SAFE_SUFFIX.fullmatch(suffix)):
        metadata.pop("suffix", None)
    return metadata


def _entry(path: Path) -> Path:
    """The directory entry a path names: its folder resolved, its last part (a symlink) kept."""
    return Path(os.path.realpath(path.parent)) / path.name


def _plan(
    sources: list[tuple[Path, Path]], out: Path, name: Callable[[Path, Path], Path], reads: list[str],
    force: bool, replaceable: Callable[[Path], bool], what: str,
) -> list[Job]:
    """Pair each input with its output under ``out``; refuse clashes, inputs and existing outputs up front."""
    if os.path.lexists(out) and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; -o takes a folder (new or existing)")
    jobs: dict[Path, Job] = {}
    for source, relative in sources:
        job = Job(source, out / name(source, relative))
        earlier = jobs.setdefault(_entry(job.target), job)
        if earlier.source != job.source and _entry(earlier.source) != _entry(job.source):
            raise OutputError(
                f"{earlier.source} and {job.source} would both be written to {job.target}; "
                "rename one of them, or give them in separate runs with different -o folders"
            )
    inputs = {Path(os.path.realpath(path)) for path, _ in sources} | {_entry(path) for path, _ in sources}
    inputs |= {Path(os.path.realpath(path)) for path in reads} | {_entry(Path(path)) for path in reads}
    for job in jobs.values():
        if _entry(job.target) in inputs:
            raise OutputError(
                f"{job.target}: is a file this command reads; aecrypt never overwrites its inputs, "
                "even with --force; choose another -o"
            )
    for job in jobs.values():
        if os.path.lexists(job.target):
            _check_replaceable(job.target, force, replaceable, what)
    return list(jobs.values())


def _check_replaceable(target: Path, force: bool, replaceable: Callable[[Path], bool], what: str) -> None:
    """Refuse an existing output unless --force is given and it is a symlink (replaced, not followed) or ``what``."""
    if not force:
        raise OutputError(f"{target}: already exists; add --force to replace it, or choose another -o")
    if not target.is_symlink() and not (target.is_file() and replaceable(target)):
        raise OutputError(
            f"{target}: exists and is not {what}, so it may be an original; --force replaces only files "
            "aecrypt wrote. Move it away, or choose another -o"
        )


@contextlib.contextmanager
def _output_folder(out: Path) -> Iterator[None]:
    """Create the -o folder and check that it is writable; remove it again if this run made it and wrote nothing."""
    from aecrypt.files import TEMP_SUFFIX

    created = not os.path.lexists(out)
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=out, suffix=TEMP_SUFFIX)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write into this folder ({exc.strerror}); choose another -o") from None
        yield
    finally:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


@contextlib.contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Turn a failed write of ``target`` into one ``OutputError`` naming it (nothing is left behind)."""
    try:
        yield
    except FileExistsError:
        raise OutputError(f"{target}: not written, something appeared there meanwhile; add --force to replace it, or choose another -o") from None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write it ({exc.strerror or exc}); check the -o folder's space and permissions") from None


def _named(path: Path, exc: AecryptError) -> AecryptError:
    """The error with the input's name in front (once), and only its first line."""
    message = (str(exc).splitlines() or [type(exc).__name__])[0]
    prefix = f"{path}: "
    return type(exc)(message if message.startswith(prefix) else prefix + message)


def _run_batch(jobs: list[Job], work: Callable[[Job], None], desc: str, progress: bool) -> int:
    """Run ``work`` on every job, reporting each failure as one line naming its file; the number that failed.

    A single job's error is raised as it is, so that it is the only line.
    """
    from tqdm import tqdm

    failed = 0
    for job in tqdm(jobs, desc=desc, unit="file", disable=not progress or len(jobs) < 2 or not sys.stderr.isatty()):
        try:
            work(job)
        except AecryptError as exc:
            if len(jobs) == 1:
                raise _named(job.source, exc) from None
            failed += 1
            tqdm.write(f"aecrypt: error: {_named(job.source, exc)}", file=sys.stderr)
    return failed


def _finish(verb: str, noun: str, jobs: list[Job], failed: int, out: Path, seconds: float, quiet: bool) -> None:
    """Print the run's summary, or raise ``BatchFailedError`` (its one summary line) if any input failed."""
    done = len(jobs) - failed
    if failed:
        raise BatchFailedError(f"{failed} of {len(jobs)} {noun}(s) failed (named above); {verb} the other {done} into {out}/")
    if not quiet:
        print(f"{verb} {done} {noun}(s) into {out}/ in {seconds:.2f} s ({done / max(seconds, 1e-9):.1f} {noun}s/s)")


def cmd_keygen(args: argparse.Namespace) -> None:
    """Write a new random AES-256 key file (mode 0600)."""
    from aecrypt.method.cipher import generate_key, save_key

    path = save_key(generate_key(), args.keyfile)
    print(f"wrote a new AES-256 key to {path} (readable only by you; share it with the receiver over a safe channel)")


def _warn(message: str) -> None:
    """Print one warning line on stderr (through tqdm, so a progress bar stays intact)."""
    from tqdm import tqdm

    tqdm.write(f"aecrypt: warning: {message}", file=sys.stderr)


def _say(message: str, quiet: bool) -> None:
    """Print one line on stdout unless --quiet (through tqdm, so a progress bar stays intact)."""
    from tqdm import tqdm

    if not quiet:
        tqdm.write(message, file=sys.stdout)


def _grey_dataset(encoder: str) -> str | None:
    """The grey-image dataset the encoder was trained on, from the manifest beside it (None if colour or unknown)."""
    try:
        dataset = json.loads((Path(encoder).parent / MANIFEST_NAME).read_text())["parameters"]["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dataset if dataset in GREY_DATASETS else None


def _is_colour(image) -> bool:
    """Whether an HxWxC image in [0, 1] has three channels that differ (not grey stored as RGB)."""
    import numpy as np

    return image.shape[-1] == 3 and not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def _image_metadata(path: Path, image) -> dict:
    """What decrypt needs to give an image back its shape: height, width, colour mode and channels, extension."""
    from PIL import Image

    with Image.open(path) as handle:
        mode = handle.mode
    return {"height": int(image.shape[0]), "width": int(image.shape[1]), "mode": mode,
            "channels": int(image.shape[-1]), "suffix": path.suffix}


def _fidelity(decoder, original, image, features, key: bytes, dtype: str, metadata: dict) -> dict:
    """SSIM and PSNR of what decrypt will write against the original pixels, and at the model's size against ``image``.

    The features are decoded as the receiver gets them (float16 or uint8 as sent); the
    reconstruction is brought back to the original size and mode, as decrypt does, and
    rounded to 8 bits. An image over ``FIDELITY_MAX_PIXELS`` is compared on copies scaled down to it.
    """
    import numpy as np
    from skimage.transform import resize

    from aecrypt.method.cipher import decrypt_features, encrypt_features
    from aecrypt.data.datasets import to_uint8
    from aecrypt.method.pipeline import decode

    received = decrypt_features(encrypt_features(features, key, dtype=dtype), key)
    reconstruction = np.clip(decode(decoder, received[None])[0], 0.0, 1.0)
    if reconstruction.shape != image.shape:
        raise ModelFileError(f"the decoder reconstructs {reconstruction.shape}, but the encoder takes {image.shape}; "
                             "pass the decoder trained with this encoder")
    written = to_uint8(_restore(reconstruction, metadata)).astype(np.float32) / 255.0
    scale = min(1.0, math.sqrt(FIDELITY_MAX_PIXELS / (original.shape[0] * original.shape[1])))
    if scale < 1.0:
        size = (max(1, round(original.shape[0] * scale)), max(1, round(original.shape[1] * scale)))
        original, written = (resize(x, (*size, x.shape[-1]), anti_aliasing=True, preserve_range=True) for x in (original, written))
    if written.shape[-1] != original.shape[-1]:  # a grey decoder's output for a colour original
        written = np.repeat(written, original.shape[-1], axis=-1)
    return {**_metrics(original, written, ""), **_metrics(image, reconstruction, "model_")}


def _metrics(original, other, prefix: str) -> dict:
    """SSIM and PSNR (None if infinite) of two images, rounded, under keys with ``prefix``."""
    from aecrypt.method.metrics import psnr, ssim

    peak = psnr(original, other)
    return {f"{prefix}ssim": round(ssim(original, other), METRIC_DIGITS),
            f"{prefix}psnr": round(peak, METRIC_DIGITS) if math.isfinite(peak) else None}


def _fidelity_text(metadata: dict) -> str:
    """'SSIM 0.889, PSNR 28.0 dB at 233x197 (0.972 at the model's size)' from a header's metadata, or a note that it was not measured."""
    if not isinstance(metadata.get("ssim"), (int, float)):
        return "fidelity not measured at encryption (no --decoder)"
    peak = metadata.get("psnr")
    text = (f"SSIM {metadata['ssim']:.3f}, PSNR {'inf' if peak is None else f'{peak:.1f}'} dB "
            f"at the original {metadata.get('height')}x{metadata.get('width')}")
    if isinstance(metadata.get("model_ssim"), (int, float)):
        text += f" (SSIM {metadata['model_ssim']:.3f} at the model's size)"
    return text


def cmd_encrypt(args: argparse.Namespace) -> None:
    """Encode images with the encoder and write one encrypted payload per image, mirroring the folders.

    With ``--decoder`` each image's reconstruction is measured (SSIM, PSNR) and stored in the
    payload's authenticated header with the image's size and mode; one below ``--min-ssim`` is
    refused unless ``--allow-lossy`` is given.
    """
    from aecrypt.method.cipher import encrypt_features, load_key, looks_like_payload
    from aecrypt.data.datasets import crop_fundus, prepare_image, read_image
    from aecrypt.files import atomic_file

    if not -1.0 <= args.min_ssim <= 1.0:
        raise ParameterError(f"--min-ssim is an SSIM, between -1 and 1; not {args.min_ssim}")
    if args.encoder is None:  # the committed model, with its paired decoder to measure the loss
        args.encoder = _committed_model("encoder")
        args.decoder = args.decoder or _committed_model("decoder")
    key = load_key(args.key)
    out = Path(args.output)
    reads = [args.key, args.encoder] + ([args.decoder] if args.decoder else [])
    jobs = _plan(_images_in(args.images), out, _payload_name, reads, args.force, looks_like_payload, "an aecrypt payload")
    grey_dataset = _grey_dataset(args.encoder)
    with _output_folder(out):
        _import_tensorflow_quietly()
        from aecrypt.method.model import checked_image_shape, load_model
        from aecrypt.method.pipeline import encode

        encoder = load_model(args.encoder, expected="encoder")
        size, _, channels = checked_image_shape(encoder, args.encoder)
        decoder = load_model(args.decoder, expected="decoder") if args.decoder else None
        if decoder is not None:
            checked_image_shape(decoder, args.decoder)

        def work(job: Job) -> None:
            """Read, encode, measure and encrypt one image, then write its payload."""
            raw = read_image(job.source)
            raw = crop_fundus(raw) if args.fundus_crop else raw
            metadata = _image_metadata(job.source, raw)
            if grey_dataset and _is_colour(raw):
                _warn(f"{job.source}: a colour image, but the encoder was trained on grey {grey_dataset} images; "
                      "its colours will not come back")
            image = prepare_image(raw, size, channels)
            features = encode(encoder, image[None])[0]
            if decoder is not None:
                metadata.update(_fidelity(decoder, raw, image, features, key, args.dtype, metadata))
                if metadata["ssim"] < args.min_ssim and not args.allow_lossy:
                    raise FidelityError(
                        f"{job.source}: the decoder reconstructs this image at SSIM {metadata['ssim']:.3f}, below "
                        f"--min-ssim {args.min_ssim:g}; pass --allow-lossy to encrypt it anyway, or 'aecrypt seal' it (exact)"
                    )
            payload = encrypt_features(features, key, scheme="gcm", dtype=args.dtype, metadata=metadata)
            with _writing(job.target), atomic_file(job.target, replace=args.force) as handle:
                handle.write(payload)
            if decoder is not None:
                _say(f"{job.source} -> {job.target}: reconstruction at {_fidelity_text(metadata)}", args.quiet)

        start = time.perf_counter()
        failed = _run_batch(jobs, work, "encrypting", not args.quiet)
    if decoder is None and failed < len(jobs):
        _warn("fidelity not measured: without --decoder, encrypt cannot say how close decrypt's reconstruction "
              "will be; pass the paired decoder to measure it and to refuse images below --min-ssim")
    _finish("encrypted", "image", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _committed_model(part: str) -> str:
    """The committed default model's encoder or decoder file, or an InputError saying what to pass."""
    from aecrypt import config

    path = config.COMMITTED_MODEL_DIR / f"{part}.keras"
    if not path.is_file():
        raise InputError(f"no --{part} given and the committed model's {path} is missing; pass --{part} FILE, "
                         "or train one with 'aecrypt reproduce --only 02'")
    return str(path)


def cmd_decrypt(args: argparse.Namespace) -> None:
    """Decrypt payloads with the key and decode them into images at their original size, mirroring the folders."""
    from aecrypt.method.cipher import FILE_DTYPE, decrypt_features, load_key, read_header, read_payload
    from aecrypt.data.datasets import write_image, written_by_aecrypt

    args.decoder = args.decoder or _committed_model("decoder")
    key = load_key(args.key)
    out = Path(args.output)
    jobs = _plan(_payloads_in(args.payloads), out, _image_name, [args.key, args.decoder], args.force, written_by_aecrypt,
                 "an image aecrypt decrypt wrote")
    with _output_folder(out):
        _import_tensorflow_quietly()
        from aecrypt.method.model import checked_image_shape, load_model
        from aecrypt.method.pipeline import decode

        decoder = load_model(args.decoder, expected="decoder")
        checked_image_shape(decoder, args.decoder)
        expected = tuple(decoder.input_shape[1:])

        def work(job: Job) -> None:
            """Read, decrypt (authenticating the header first) and decode one payload, then write its image."""
            payload = read_payload(job.source)
            header = read_header(payload)
            if header.dtype == FILE_DTYPE:
                raise InputError("this payload holds a sealed file, not features; recover it with 'aecrypt unseal'")
            features = decrypt_features(payload, key)
            if features.shape != expected:
                raise ModelFileError(
                    f"this payload holds features of shape {features.shape}, but this decoder takes {expected}; "
                    "use the decoder trained with the sender's encoder"
                )
            image = _restore(decode(decoder, features[None])[0], header.metadata)
            with _writing(job.target):
                write_image(job.target, image, replace=args.force)
            size = "" if header.metadata else " at the model's size (the original size is not stored)"
            _say(f"{job.source} -> {job.target}: lossy reconstruction{size}, {_fidelity_text(header.metadata)}", args.quiet)

        start = time.perf_counter()
        failed = _run_batch(jobs, work, "decrypting", not args.quiet)
    _finish("decrypted", "payload", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _restore(image, metadata: dict):
    """A reconstruction back at the original height and width (undoing pad-to-square) and, if it was grey, one channel."""
    import numpy as np
    from PIL import Image
    from skimage.transform import resize

    from aecrypt.data.datasets import set_channels
    from aecrypt.errors import PayloadFormatError

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


def _read_file(path: Path) -> bytes:
    """A regular file's bytes, read with the payload size bound; ``InputError`` otherwise."""
    from aecrypt.method.cipher import MAX_BODY_BYTES

    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InputError(f"{path}: not a regular file")
            if info.st_size > MAX_BODY_BYTES:
                raise InputError(f"{path}: {info.st_size} bytes, more than a payload holds ({MAX_BODY_BYTES} bytes at most)")
            return handle.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read this file ({exc.strerror})") from None


def _sha256(path: Path) -> str:
    """SHA-256 of a file, in hex ('' if it cannot be read)."""
    try:
        return hashlib.sha256(_read_file(path)).hexdigest()
    except AecryptError:
        return ""


def cmd_seal(args: argparse.Namespace) -> None:
    """Encrypt image files themselves (their bytes) with AES-256-GCM: lossless, unlike encrypt."""
    from aecrypt.method.cipher import encrypt_file, load_key, looks_like_payload
    from aecrypt.files import atomic_file

    key = load_key(args.key)
    out = Path(args.output)
    jobs = _plan(_images_in(args.images), out, _payload_name, [args.key], args.force, looks_like_payload, "an aecrypt payload")
    with _output_folder(out):
        def work(job: Job) -> None:
            """Read and encrypt one file, then write its payload."""
            data = _read_file(job.source)
            metadata = {"suffix": job.source.suffix, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            payload = encrypt_file(data, key, metadata=metadata)
            with _writing(job.target), atomic_file(job.target, replace=args.force) as handle:
                handle.write(payload)

        start = time.perf_counter()
        failed = _run_batch(jobs, work, "sealing", not args.quiet)
    _finish("sealed", "file", jobs, failed, out, time.perf_counter() - start, args.quiet)


def cmd_unseal(args: argparse.Namespace) -> None:
    """Decrypt sealed payloads back into the original files, bit for bit, mirroring the folders."""
    from aecrypt.method.cipher import decrypt_file, load_key, read_header, read_payload
    from aecrypt.errors import WrongKeyOrTamperedError
    from aecrypt.files import atomic_file

    key = load_key(args.key)
    out = Path(args.output)
    sources = _payloads_in(args.payloads)
    sealed_at = {out / _file_name(source, relative): source for source, relative in sources}

    def identical(target: Path) -> bool:
        """Whether an existing file is the very file a payload holds (so --force may replace it)."""
        return _sha256(target) == _stored_metadata(sealed_at[target]).get("sha256")

    jobs = _plan(sources, out, _file_name, [args.key], args.force, identical, "identical to the sealed file")
    with _output_folder(out):
        def work(job: Job) -> None:
            """Read and decrypt one sealed payload, then write the original file."""
            payload = read_payload(job.source)
            data = decrypt_file(payload, key)
            if hashlib.sha256(data).hexdigest() != read_header(payload).metadata.get("sha256"):
                raise WrongKeyOrTamperedError("the recovered file does not match the SHA-256 sealed with it; the payload was altered")
            with _writing(job.target), atomic_file(job.target, replace=args.force) as handle:
                handle.write(data)

        start = time.perf_counter()
        failed = _run_batch(jobs, work, "unsealing", not args.quiet)
    _finish("unsealed", "file", jobs, failed, out, time.perf_counter() - start, args.quiet)


def _metadata_text(dtype: str, metadata: dict) -> str:
    """What a header's metadata says, for inspect: the original's size and mode, and the fidelity."""
    if dtype == "file":
        return f"; sealed file ({metadata.get('suffix') or 'no extension'}, {metadata.get('bytes')} bytes), lossless"
    if not metadata:
        return "; no metadata (original size unknown)"
    return (f"; original {metadata.get('height')}x{metadata.get('width')} {metadata.get('mode')} "
            f"{metadata.get('suffix') or ''}, lossy reconstruction: {_fidelity_text(metadata)}")


def cmd_inspect(args: argparse.Namespace) -> None:
    """Print each payload's header: scheme, dtype, shape, sizes and metadata (no key needed)."""
    from aecrypt.method.cipher import read_header, read_payload

    def work(job: Job) -> None:
        """Print one payload's header."""
        h = read_header(read_payload(job.source))
        print(f"{job.source}: aecrypt payload v{h.version}, scheme {h.scheme} ({'authenticated' if h.authenticated else 'NOT authenticated'}), "
              f"dtype {h.dtype}, shape {'x'.join(map(str, h.shape))}, {h.plaintext_bytes} plaintext bytes, "
              f"{h.total_bytes} bytes in all (header {h.header_bytes}, ciphertext {h.body_bytes}, tag {len(h.tag)})"
              f"{_metadata_text(h.dtype, h.metadata)}", flush=True)

    jobs = [Job(Path(name)) for name in args.payloads]
    failed = _run_batch(jobs, work, "inspecting", progress=False)
    if failed:
        raise BatchFailedError(f"{failed} of {len(jobs)} payload(s) could not be read (named above)")


def cmd_reproduce(args: argparse.Namespace) -> None:
    """Bring the study's results up to date through its workflow (Snakemake), then the report."""
    from aecrypt.study.workflow import reproduce

    overrides = {name: _value(value) for name, value in args.param}
    if args.data_dir and args.dataset != "folder":
        raise ParameterError("--data-dir is read only with --dataset folder; add --dataset folder, or drop --data-dir")
    if args.dataset:
        overrides["dataset"] = args.dataset
    if args.data_dir:
        overrides["data_dir"] = str(Path(args.data_dir).resolve())
    only = [item for chunk in args.only for item in chunk.split(",")] if args.only is not None else None
    seeds = _seeds(args.seeds) if args.seeds is not None else None
    start = time.perf_counter()
    outcome = reproduce(args.profile, only=only, overrides=overrides, seeds=seeds, cores=args.cores, dry_run=args.dry_run,
                        force=args.force, slurm=args.slurm)
    if outcome.ran:
        print(f"study done in {(time.perf_counter() - start) / 60:.1f} min; report: {outcome.report}")


def _seeds(text: str) -> list[int]:
    """'0,1,2' as a list of seeds, or a ParameterError."""
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ParameterError(f"--seeds takes whole numbers separated by commas, such as 0,1,2; not {text!r}") from None


def cmd_figures(args: argparse.Namespace) -> None:
    """Redraw a run's figures from its saved data (tables and figure_data/), without a model or TensorFlow."""
    from aecrypt import config
    from aecrypt.study.figures import redraw_all, run_folders

    folder = config.results_dir(args.profile)
    runs = run_folders(folder)
    if not runs:
        raise InputError(f"{folder}: no figure data (tables, figure_data/) to draw from; "
                         f"run the study first: aecrypt reproduce --profile {args.profile}")
    start = time.perf_counter()
    written = redraw_all(folder, args.style)
    where = f"{folder}" + (f" and {len(runs) - 1} seed folder(s)" if len(runs) > 1 else "")
    print(f"drew {len(written) // 2} figure(s) from the saved data of {where} in {time.perf_counter() - start:.1f} s"
          + (f" ({args.style} style)" if args.style else " (each run's recorded style)"))


def cmd_readme(args: argparse.Namespace) -> None:
    """Rewrite README.md's results block from the committed results/default files."""
    from aecrypt.study.report import update_readme

    print(f"rewrote the results block of {update_readme()}")


def _output_arguments(p: argparse.ArgumentParser, output_help: str, force_help: str) -> None:
    """The -o, --force and --quiet arguments of a command that writes files."""
    p.add_argument("-o", "--output", required=True, help=output_help)
    p.add_argument("--force", action="store_true", help=force_help)
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="aecrypt",
        description="Hybrid medical-image encryption: an autoencoder's features encrypted with AES-256-GCM "
                    "(after Alslman et al., Electronics 2022).",
        epilog="Example: aecrypt keygen study.key && aecrypt encrypt scans/ --encoder models/default/main/encoder.keras "
               "--key study.key -o sealed/",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="write a new random AES-256 key file (mode 0600, never overwrites)")
    p.add_argument("keyfile", help="where to write the key")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("encrypt", help="encode images with the encoder and encrypt the features (AES-256-GCM)")
    p.add_argument("images", nargs="+", help="image files or folders (PNG, JPEG, TIFF)")
    p.add_argument("--encoder", help="the sender's encoder (.keras), from notebook 02 (default: the committed model, "
                                     "models/default/main/, trained on MNI152 brain MRI slices, with its decoder)")
    p.add_argument("--key", required=True, help="key file made by 'aecrypt keygen' (mode 0600: only you may read it)")
    p.add_argument("-o", "--output", required=True,
                   help="folder for the payloads; DIR/a/x.png becomes OUTPUT/a/x.png.aecrypt (sub-folders kept)")
    p.add_argument("--force", action="store_true",
                   help="replace payloads that already exist (only aecrypt payloads; never an input)")
    p.add_argument("--dtype", choices=("float32", "float16", "uint8"), default="float32",
                   help="feature precision in the payload (default float32: exact)")
    p.add_argument("--fundus-crop", action="store_true", help="crop fundus photographs to their field of view first (decrypt then gives the cropped size)")
    p.add_argument("--decoder", help="the paired decoder (.keras): measure each image's reconstruction (SSIM, PSNR) "
                                     "and store it in the payload; without it fidelity is not measured")
    p.add_argument("--min-ssim", type=float, default=MIN_SSIM,
                   help=f"refuse an image the decoder reconstructs below this SSIM (default {MIN_SSIM})")
    p.add_argument("--allow-lossy", action="store_true", help="encrypt images below --min-ssim anyway")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors and warnings")
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser("decrypt", help="decrypt payloads and decode them into images (the autoencoder's lossy reconstruction)")
    p.add_argument("payloads", nargs="+", help="payload files or folders of *.aecrypt files")
    p.add_argument("--decoder", help="the receiver's decoder (.keras), from notebook 02 (default: the committed model's, "
                                     "models/default/main/decoder.keras)")
    p.add_argument("--key", required=True, help="the key file the sender used")
    p.add_argument("-o", "--output", required=True,
                   help="folder for the decoded images; DIR/a/x.png.aecrypt becomes OUTPUT/a/x.png (x.aecrypt: x.png)")
    p.add_argument("--force", action="store_true",
                   help="replace images an earlier decrypt wrote (never an original scan, never an input)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_decrypt)

    p = sub.add_parser("seal", help="encrypt image files themselves with AES-256-GCM (lossless: unseal gives them back bit for bit)")
    p.add_argument("images", nargs="+", help="files, or folders of images (PNG, JPEG, TIFF)")
    p.add_argument("--key", required=True, help="key file made by 'aecrypt keygen' (mode 0600: only you may read it)")
    _output_arguments(p, "folder for the payloads; DIR/a/x.png becomes OUTPUT/a/x.png.aecrypt (sub-folders kept)",
                      "replace payloads that already exist (only aecrypt payloads; never an input)")
    p.set_defaults(func=cmd_seal)

    p = sub.add_parser("unseal", help="decrypt payloads made by 'aecrypt seal' back into the original files, bit for bit")
    p.add_argument("payloads", nargs="+", help="payload files or folders of *.aecrypt files")
    p.add_argument("--key", required=True, help="the key file the sender used")
    _output_arguments(p, "folder for the files; DIR/a/x.png.aecrypt becomes OUTPUT/a/x.png (the stored extension)",
                      "replace a file only if it is identical to the sealed one")
    p.set_defaults(func=cmd_unseal)

    p = sub.add_parser("inspect", help="show a payload's header (scheme, dtype, shape, sizes, original size, fidelity); needs no key")
    p.add_argument("payloads", nargs="+", help="payload files (each is read; a failure names its file)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("reproduce", help="bring results/<profile>/ up to date: run each notebook that is new or out of date "
                                         "through papermill (a Snakemake workflow), then write REPORT.md")
    p.add_argument("--profile", default="default", choices=("smoke", "default", "paper"), help="run profile (default: default)")
    p.add_argument("--only", action="append", help="run only these notebooks, by number: --only 04,05")
    p.add_argument("--dataset", choices=("mni152", "folder"), help="dataset for every notebook")
    p.add_argument("--data-dir", help="your image folder when --dataset folder")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a notebook parameter (checked against the notebooks' parameters cells)")
    p.add_argument("--seeds", help="training seeds, e.g. 0,1,2 (default: the profile's); the first runs every notebook, "
                                   "the others the seed-dependent ones (02, 05, 06); the report gives mean and standard deviation")
    p.add_argument("--cores", type=int, default=1, help="run up to this many jobs side by side (default 1); "
                                                        "each job's TensorFlow keeps its own fixed thread count, so the numbers do not change")
    p.add_argument("--dry-run", action="store_true", help="list the jobs that would run and why (new, changed code, "
                                                          "changed parameters, changed input), and run nothing")
    p.add_argument("--force", action="store_true", help="rerun the chosen notebooks (--only) even where they are up to date")
    p.add_argument("--slurm", action="store_true", help="submit each job to SLURM (workflow/profiles/slurm) instead of running it here")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("figures", help="redraw a run's figures from its saved data in seconds (no model, no TensorFlow)")
    p.add_argument("--profile", default="default", choices=("smoke", "default", "paper"), help="whose results (default: default)")
    p.add_argument("--style", choices=STYLES,
                   help="paper: 3.5/7.2 in wide, 300 dpi; slides: 16:9; notebook: on screen. The run's own style "
                        "(recorded; paper for default) redraws in place, another goes to results/<profile>/<style>/")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("readme", help="rewrite README.md's results block from the committed results/default files")
    p.set_defaults(func=cmd_readme)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one sub-command; an aecrypt error becomes one line and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AecryptError as exc:
        first, *rest = str(exc).splitlines() or [type(exc).__name__]
        print(f"aecrypt: error: {first}", file=sys.stderr)
        for line in rest:
            print(line, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("aecrypt: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
