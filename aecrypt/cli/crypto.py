"""The key and lossless commands: keygen, seal, unseal and inspect.

They load neither TensorFlow nor SciPy, so they answer in a fraction of a second
(``encrypt`` and ``decrypt``, which run the autoencoder, are in ``features``).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from aecrypt.cli.planning import (
    Job,
    file_name,
    files_in,
    finish,
    output_folder,
    payload_name,
    payloads_in,
    plan,
    run_batch,
    stored_metadata,
    warn,
    writing,
)
from aecrypt.errors import BatchFailedError, InputError, WrongKeyOrTamperedError
from aecrypt.files import FileTooLargeError, atomic_file, read_bounded, remove_leftovers, sha256_file
from aecrypt.method.header import FILE_DTYPE, MAX_BODY_BYTES, PayloadHeader, read_header
from aecrypt.method.keys import generate_key, load_key, save_key
from aecrypt.method.payload import decrypt_file, decrypt_payload, encrypt_file, looks_like_payload, read_payload
from aecrypt.terminal import escaped


def cmd_keygen(args: argparse.Namespace) -> None:
    """Write a new random AES-256 key file (mode 0600), removing what an interrupted keygen left."""
    path = Path(args.keyfile)
    removed, _ = remove_leftovers(path.parent, path.name)
    for leftover in removed:
        warn(f"removed {leftover}, a temporary file an interrupted keygen left (it may have held a key)")
    save_key(generate_key(), path)
    print(escaped(f"wrote a new AES-256 key to {path} (readable only by you; share it with the receiver over a safe channel)"))


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
    """Encrypt files themselves (their bytes) with AES-256-GCM: lossless, unlike encrypt.

    Any regular file is sealed (a DICOM, a NIfTI, a PDF); in a folder, every regular file
    with bytes in it, and the summary names each entry left out and why.
    """
    key = load_key(args.key)
    out = Path(args.output)
    sources, skipped = files_in(args.images)
    jobs = plan(sources, out, payload_name, [args.key], args.force, looks_like_payload, "an aecrypt payload")
    with output_folder(out):

        def work(job: Job) -> None:
            """Read and encrypt one file, then write its payload."""
            data = _read_file(job.source)
            metadata = {"suffix": _suffix(job.source), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            payload = encrypt_file(data, key, metadata=metadata)
            with writing(job.target, args.force), atomic_file(job.target, replace=args.force) as handle:
                handle.write(payload)

        start = time.perf_counter()
        failed = run_batch(jobs, work, "sealing", not args.quiet)
    finish("sealed", "file", jobs, failed, out, time.perf_counter() - start, args.quiet, skipped)


def _suffix(path: Path) -> str:
    """A file's extension as a payload records it ('.nii.gz' as one)."""
    return ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix


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
            with writing(job.target, args.force), atomic_file(job.target, replace=args.force) as handle:
                handle.write(data)

        start = time.perf_counter()
        failed = run_batch(jobs, work, "unsealing", not args.quiet)
    finish("unsealed", "file", jobs, failed, out, time.perf_counter() - start, args.quiet)


# ----------------------------------------------------------------------- inspect


def fidelity_text(metadata: dict) -> str:
    """'SSIM 0.962, PSNR 31.0 dB at the original 233x197' from a header's metadata, or a note that it was not measured."""
    if not _is_number(metadata.get("ssim")):
        return "fidelity not measured at encryption (no --decoder)"
    peak = metadata.get("psnr")
    text = (f"SSIM {metadata['ssim']:.3f}, PSNR {f'{peak:.1f}' if _is_number(peak) else 'inf'} dB "
            f"at the original {_size(metadata)}")
    if _is_number(metadata.get("ssim_worst")):
        text += f" (worst frame SSIM {metadata['ssim_worst']:.3f})"
    if _is_number(metadata.get("mean_error")) and _is_number(metadata.get("max_error")):
        text += f", mean error {metadata['mean_error']:.4g} {metadata.get('units')}, largest {metadata['max_error']:.4g}"
    if _is_number(metadata.get("model_ssim")):  # a payload of an earlier version, made through the model's square size
        text += f" (SSIM {metadata['model_ssim']:.3f} at the model's size)"
    return text


def _is_number(value: object) -> bool:
    """Whether a header field is a number (not a string a forger put there)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _size(metadata: dict) -> str:
    """'233x197', or '10 frames of 64x64'."""
    size = f"{metadata.get('height')}x{metadata.get('width')}"
    frames = metadata.get("frames")
    return f"{frames} frames of {size}" if _is_number(frames) and frames > 1 else size


def metadata_text(header: PayloadHeader) -> str:
    """What a header's metadata says: the original's size, type and mode, the models and the fidelity."""
    metadata = header.metadata
    if header.dtype == FILE_DTYPE:
        return f"sealed file ({metadata.get('suffix') or 'no extension'}, {metadata.get('bytes')} bytes), lossless"
    if not metadata:
        return "no metadata (original size unknown)"
    kind = {"dicom": "DICOM", "nifti": f"NIfTI sliced along axis {metadata.get('axis')}"}.get(metadata.get("format"), metadata.get("mode"))
    values = f", {metadata['dtype']} values" if isinstance(metadata.get("dtype"), str) else ""
    text = (f"original {_size(metadata)} {kind} {metadata.get('suffix') or ''}".rstrip()
            + f"{values}, lossy reconstruction: {fidelity_text(metadata)}")
    if isinstance(metadata.get("decoder"), str):
        text += f"; decoder {metadata['decoder'][:12]}"
    return text


def cmd_inspect(args: argparse.Namespace) -> None:
    """Print each payload's header: scheme, dtype, shape, sizes and metadata.

    Without ``--key`` nothing in the header is verified yet (anyone can write a header), so
    its metadata is printed labelled as unverified; with the key the payload is
    authenticated first and its metadata labelled verified.
    """
    key = load_key(args.key) if args.key else None

    def work(job: Job) -> None:
        """Print one payload's header."""
        payload = read_payload(job.source)
        h = read_header(payload)
        if key is not None:
            decrypt_payload(payload, key)  # authenticates every header byte, or raises
        label = "verified with the key" if key is not None else "UNVERIFIED (no --key: anyone could have written these)"
        scheme = "authenticated" if h.authenticated else "NOT authenticated"
        private = f" with a private block of {h.private_bytes}" if h.private_bytes else ""
        print(escaped(f"{job.source}: aecrypt payload v{h.version}, scheme {h.scheme} ({scheme}), dtype {h.dtype}, "
                      f"shape {'x'.join(map(str, h.shape))}, {h.plaintext_bytes} plaintext bytes, {h.total_bytes} bytes in all "
                      f"(header {h.header_bytes}, ciphertext {h.body_bytes}{private}, tag {len(h.tag)}); "
                      f"{label}: {metadata_text(h)}"), flush=True)

    jobs = [Job(Path(name)) for name in args.payloads]
    failed = run_batch(jobs, work, "inspecting", progress=False)
    if failed:
        raise BatchFailedError(f"{sum(failed.values())} of {len(jobs)} payload(s) could not be read (named above)")

