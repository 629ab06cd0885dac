"""The ``aecrypt`` command line: reproduce the study, or encrypt real image files with a key.

Every error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aecrypt.errors import AecryptError, BatchFailedError, InputError, OutputError, ParameterError

EXIT_ERROR = 1
EXIT_USAGE = 2
PAYLOAD_SUFFIX = ".aecrypt"
#: The image type ``decrypt`` writes when a payload's name does not say (x.aecrypt -> x.png).
DEFAULT_IMAGE_SUFFIX = ".png"


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null meanwhile: TensorFlow's C++ start-up notices ignore log levels."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their start-up chatter, so errors stay one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_silenced():
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
    from aecrypt.data import IMAGE_SUFFIXES, find_images

    return _expand(paths, find_images, f"no images given (supported: {', '.join(IMAGE_SUFFIXES)})")


def _payloads_in(paths: list[str]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into payload files (``*.aecrypt`` inside folders)."""
    def in_folder(folder: Path) -> list[Path]:
        """Payload files anywhere under a folder, sorted."""
        return sorted(path for path in folder.rglob(f"*{PAYLOAD_SUFFIX}") if path.is_file())

    return _expand(paths, in_folder, f"no payloads given (files ending in {PAYLOAD_SUFFIX})")


def _payload_name(image: Path) -> Path:
    """Where an image's payload goes, relative to -o: a/x.png -> a/x.png.aecrypt."""
    return image.with_name(image.name + PAYLOAD_SUFFIX)


def _image_name(payload: Path) -> Path:
    """Where a payload's image goes, relative to -o: a/x.png.aecrypt -> a/x.png, a/x.aecrypt -> a/x.png."""
    from aecrypt.data import IMAGE_SUFFIXES

    name = payload.name.removesuffix(PAYLOAD_SUFFIX)
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        name += DEFAULT_IMAGE_SUFFIX
    return payload.with_name(name)


def _entry(path: Path) -> Path:
    """The directory entry a path names: its folder resolved, its last part (a symlink) kept."""
    return Path(os.path.realpath(path.parent)) / path.name


def _plan(
    sources: list[tuple[Path, Path]], out: Path, name: Callable[[Path], Path], reads: list[str],
    force: bool, replaceable: Callable[[Path], bool], what: str,
) -> list[Job]:
    """Pair each input with its output under ``out``; refuse clashes, inputs and existing outputs up front."""
    if os.path.lexists(out) and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; -o takes a folder (new or existing)")
    jobs: dict[Path, Job] = {}
    for source, relative in sources:
        job = Job(source, out / name(relative))
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
    from aecrypt.results import TEMP_SUFFIX

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
        print(f"{verb} {done} {noun}(s) into {out}/ in {seconds:.2f} s ({done / max(seconds, 1e-9):.1f} images/s)")


def cmd_keygen(args: argparse.Namespace) -> None:
    """Write a new random AES-256 key file (mode 0600)."""
    from aecrypt.cipher import generate_key, save_key

    path = save_key(generate_key(), args.keyfile)
    print(f"wrote a new AES-256 key to {path} (readable only by you; share it with the receiver over a safe channel)")


def cmd_encrypt(args: argparse.Namespace) -> None:
    """Encode images with the encoder and write one encrypted payload per image, mirroring the folders."""
    from aecrypt.cipher import encrypt_features, load_key, looks_like_payload
    from aecrypt.data import prepare_image, read_image
    from aecrypt.results import atomic_file

    key = load_key(args.key)
    out = Path(args.output)
    jobs = _plan(_images_in(args.images), out, _payload_name, [args.key, args.encoder], args.force, looks_like_payload, "an aecrypt payload")
    with _output_folder(out):
        _import_tensorflow_quietly()
        from aecrypt.model import checked_image_shape, load_model
        from aecrypt.pipeline import encode

        encoder = load_model(args.encoder, expected="encoder")
        size, _, channels = checked_image_shape(encoder, args.encoder)

        def work(job: Job) -> None:
            """Read, encode and encrypt one image, then write its payload."""
            image = prepare_image(read_image(job.source), size, channels, fundus_crop=args.fundus_crop)
            payload = encrypt_features(encode(encoder, image[None])[0], key, scheme="gcm", dtype=args.dtype)
            with _writing(job.target), atomic_file(job.target, replace=args.force) as handle:
                handle.write(payload)

        start = time.perf_counter()
        failed = _run_batch(jobs, work, "encrypting", not args.quiet)
    _finish("encrypted", "image", jobs, failed, out, time.perf_counter() - start, args.quiet)


def cmd_decrypt(args: argparse.Namespace) -> None:
    """Decrypt payloads with the key and decode them into images, mirroring the folders."""
    from aecrypt.cipher import load_key, read_payload
    from aecrypt.data import write_image, written_by_aecrypt

    key = load_key(args.key)
    out = Path(args.output)
    jobs = _plan(_payloads_in(args.payloads), out, _image_name, [args.key, args.decoder], args.force, written_by_aecrypt,
                 "an image aecrypt decrypt wrote")
    with _output_folder(out):
        _import_tensorflow_quietly()
        from aecrypt.model import checked_image_shape, load_model
        from aecrypt.pipeline import receive

        decoder = load_model(args.decoder, expected="decoder")
        checked_image_shape(decoder, args.decoder)

        def work(job: Job) -> None:
            """Read, decrypt and decode one payload, then write its image."""
            image = receive(decoder, [read_payload(job.source)], key)[0]
            with _writing(job.target):
                write_image(job.target, image, replace=args.force)

        start = time.perf_counter()
        failed = _run_batch(jobs, work, "decrypting", not args.quiet)
    _finish("decrypted", "payload", jobs, failed, out, time.perf_counter() - start, args.quiet)


def cmd_inspect(args: argparse.Namespace) -> None:
    """Print each payload's header: scheme, dtype, shape and sizes (no key needed)."""
    from aecrypt.cipher import read_header, read_payload

    def work(job: Job) -> None:
        """Print one payload's header."""
        h = read_header(read_payload(job.source))
        print(f"{job.source}: aecrypt payload v{h.version}, scheme {h.scheme} ({'authenticated' if h.authenticated else 'NOT authenticated'}), "
              f"dtype {h.dtype}, shape {'x'.join(map(str, h.shape))}, {h.plaintext_bytes} plaintext bytes, "
              f"{h.total_bytes} bytes in all (header {h.header_bytes}, ciphertext {h.body_bytes}, tag {len(h.tag)})", flush=True)

    jobs = [Job(Path(name)) for name in args.payloads]
    failed = _run_batch(jobs, work, "inspecting", progress=False)
    if failed:
        raise BatchFailedError(f"{failed} of {len(jobs)} payload(s) could not be read (named above)")


def cmd_reproduce(args: argparse.Namespace) -> None:
    """Run the study's notebooks through papermill and write the report."""
    from aecrypt.runner import run_study

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
    study = run_study(args.profile, only=only, overrides=overrides, seeds=seeds)
    if args.profile == "default" and only is None and not overrides:
        from aecrypt.report import update_readme

        print(f"README.md results block rewritten from {update_readme().parent / 'results' / 'default'}")
    print(f"study done in {(time.perf_counter() - start) / 60:.1f} min; report: {study.report}")


def _seeds(text: str) -> list[int]:
    """'0,1,2' as a list of seeds, or a ParameterError."""
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ParameterError(f"--seeds takes whole numbers separated by commas, such as 0,1,2; not {text!r}") from None


def cmd_readme(args: argparse.Namespace) -> None:
    """Rewrite README.md's results block from the committed results/default files."""
    from aecrypt.report import update_readme

    print(f"rewrote the results block of {update_readme()}")


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
    p.add_argument("--encoder", required=True, help="the sender's encoder (.keras), from notebook 02")
    p.add_argument("--key", required=True, help="key file made by 'aecrypt keygen' (mode 0600: only you may read it)")
    p.add_argument("-o", "--output", required=True,
                   help="folder for the payloads; DIR/a/x.png becomes OUTPUT/a/x.png.aecrypt (sub-folders kept)")
    p.add_argument("--force", action="store_true",
                   help="replace payloads that already exist (only aecrypt payloads; never an input)")
    p.add_argument("--dtype", choices=("float32", "float16", "uint8"), default="float32",
                   help="feature precision in the payload (default float32: exact)")
    p.add_argument("--fundus-crop", action="store_true", help="crop fundus photographs to their field of view first")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser("decrypt", help="decrypt payloads and decode them into images (the autoencoder's lossy reconstruction)")
    p.add_argument("payloads", nargs="+", help="payload files or folders of *.aecrypt files")
    p.add_argument("--decoder", required=True, help="the receiver's decoder (.keras), from notebook 02")
    p.add_argument("--key", required=True, help="the key file the sender used")
    p.add_argument("-o", "--output", required=True,
                   help="folder for the decoded images; DIR/a/x.png.aecrypt becomes OUTPUT/a/x.png (x.aecrypt: x.png)")
    p.add_argument("--force", action="store_true",
                   help="replace images an earlier decrypt wrote (never an original scan, never an input)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_decrypt)

    p = sub.add_parser("inspect", help="show a payload's header (scheme, dtype, shape, sizes); needs no key")
    p.add_argument("payloads", nargs="+", help="payload files (each is read; a failure names its file)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("reproduce", help="run every notebook through papermill and write results/<profile>/REPORT.md")
    p.add_argument("--profile", default="default", choices=("smoke", "default", "paper"), help="run profile (default: default)")
    p.add_argument("--only", action="append", help="run only these notebooks, by number: --only 04,05")
    p.add_argument("--dataset", choices=("mni152", "folder"), help="dataset for every notebook")
    p.add_argument("--data-dir", help="your image folder when --dataset folder")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a notebook parameter (checked against the notebooks' parameters cells)")
    p.add_argument("--seeds", help="run the seed-dependent notebooks (02, 05, 06) once per seed, e.g. 0,1,2; "
                                   "the report gives mean and standard deviation across them")
    p.set_defaults(func=cmd_reproduce)

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
