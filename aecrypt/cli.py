"""The ``aecrypt`` command line: reproduce the study, or encrypt real image files with a key.

Every error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import sys
import time
from pathlib import Path

from aecrypt.errors import AecryptError, ParameterError

EXIT_ERROR = 1
EXIT_USAGE = 2
PAYLOAD_SUFFIX = ".aecrypt"


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


def _expand(paths: list[str], in_folder, nothing: str) -> list[Path]:
    """Files as given, folders expanded by ``in_folder``; an error if a path is missing or none is left."""
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            files += in_folder(item)
        elif item.exists():
            files.append(item)
        else:
            raise AecryptError(f"{item}: no such file or folder")
    if not files:
        raise AecryptError(nothing)
    return files


def _images_in(paths: list[str]) -> list[Path]:
    """Expand files and folders (recursively) into a list of image files."""
    from aecrypt.data import IMAGE_SUFFIXES, find_images

    return _expand(paths, find_images, f"no images given (supported: {', '.join(IMAGE_SUFFIXES)})")


def _payloads_in(paths: list[str]) -> list[Path]:
    """Expand files and folders into payload files (``*.aecrypt`` inside folders)."""
    return _expand(paths, lambda folder: sorted(folder.rglob(f"*{PAYLOAD_SUFFIX}")), f"no payloads given (files ending in {PAYLOAD_SUFFIX})")


def cmd_keygen(args: argparse.Namespace) -> None:
    """Write a new random AES-256 key file (mode 0600)."""
    from aecrypt.cipher import generate_key, save_key

    path = save_key(generate_key(), args.keyfile)
    print(f"wrote a new AES-256 key to {path} (readable only by you; share it with the receiver over a safe channel)")


def cmd_encrypt(args: argparse.Namespace) -> None:
    """Encode images with the encoder and write one encrypted payload per image."""
    import numpy as np
    from tqdm import tqdm

    from aecrypt.cipher import encrypt_features, load_key
    from aecrypt.data import prepare_image, read_image
    from aecrypt.model import image_shape, load_model
    from aecrypt.pipeline import encode
    from aecrypt.results import atomic_path

    key = load_key(args.key)
    encoder = load_model(args.encoder, expected="encoder")
    size, _, channels = image_shape(encoder)
    files = _images_in(args.images)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in tqdm(files, desc="encrypting", unit="image", disable=len(files) < 2 or args.quiet):
        image = prepare_image(read_image(path), size, channels, fundus_crop=args.fundus_crop)
        features = encode(encoder, image[None])[0]
        target = out / (path.stem + PAYLOAD_SUFFIX)
        with atomic_path(target) as tmp:
            tmp.write_bytes(encrypt_features(features, key, scheme="gcm", dtype=args.dtype))
    seconds = time.perf_counter() - start
    if not args.quiet:
        print(f"encrypted {len(files)} image(s) into {out}/ in {seconds:.2f} s ({len(files) / seconds:.1f} images/s)")


def cmd_decrypt(args: argparse.Namespace) -> None:
    """Decrypt payloads with the key and decode them into PNG images."""
    from tqdm import tqdm

    from aecrypt.cipher import load_key
    from aecrypt.data import write_image
    from aecrypt.model import load_model
    from aecrypt.pipeline import receive

    key = load_key(args.key)
    decoder = load_model(args.decoder, expected="decoder")
    files = _payloads_in(args.payloads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in tqdm(files, desc="decrypting", unit="payload", disable=len(files) < 2 or args.quiet):
        try:
            image = receive(decoder, [path.read_bytes()], key)[0]
        except AecryptError as exc:
            raise AecryptError(f"{path}: {exc}") from None
        write_image(out / (path.stem + ".png"), image)
    seconds = time.perf_counter() - start
    if not args.quiet:
        print(f"decrypted {len(files)} payload(s) into {out}/ in {seconds:.2f} s ({len(files) / seconds:.1f} images/s)")


def cmd_inspect(args: argparse.Namespace) -> None:
    """Print a payload's header: scheme, dtype, shape and sizes (no key needed)."""
    from aecrypt.cipher import read_header

    for name in args.payloads:
        path = Path(name)
        if not path.is_file():
            raise AecryptError(f"{path}: no such payload file")
        h = read_header(path.read_bytes())
        print(f"{path}: aecrypt payload v{h.version}, scheme {h.scheme} ({'authenticated' if h.authenticated else 'NOT authenticated'}), "
              f"dtype {h.dtype}, shape {'x'.join(map(str, h.shape))}, {h.plaintext_bytes} plaintext bytes, "
              f"{h.total_bytes} bytes in all (header {h.header_bytes}, ciphertext {h.body_bytes}, tag {len(h.tag)})")


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
    p.add_argument("--key", required=True, help="key file made by 'aecrypt keygen'")
    p.add_argument("-o", "--output", required=True, help="folder for the payloads (one IMAGE.aecrypt per image)")
    p.add_argument("--dtype", choices=("float32", "float16", "uint8"), default="float32",
                   help="feature precision in the payload (default float32: exact)")
    p.add_argument("--fundus-crop", action="store_true", help="crop fundus photographs to their field of view first")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser("decrypt", help="decrypt payloads and decode them into PNG images")
    p.add_argument("payloads", nargs="+", help="payload files or folders of *.aecrypt files")
    p.add_argument("--decoder", required=True, help="the receiver's decoder (.keras), from notebook 02")
    p.add_argument("--key", required=True, help="the key file the sender used")
    p.add_argument("-o", "--output", required=True, help="folder for the decoded images")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_decrypt)

    p = sub.add_parser("inspect", help="show a payload's header (scheme, dtype, shape, sizes); needs no key")
    p.add_argument("payloads", nargs="+", help="payload files")
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
        if args.command in ("encrypt", "decrypt"):
            _import_tensorflow_quietly()
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
