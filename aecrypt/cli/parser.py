"""The ``aecrypt`` argument parser: one function per sub-command, each naming the function it runs."""

from __future__ import annotations

import argparse

from aecrypt.cli.crypto import cmd_inspect, cmd_keygen, cmd_seal, cmd_unseal
from aecrypt.cli.features import cmd_decrypt, cmd_encrypt
from aecrypt.cli.study import cmd_figures, cmd_readme, cmd_reproduce
from aecrypt.config import STYLES
from aecrypt.method.payload import FEATURE_DTYPES
from aecrypt.study.profiles import PROFILES

#: ``encrypt`` refuses an image the decoder reconstructs below this SSIM, unless --allow-lossy is given.
MIN_SSIM = 0.95
DESCRIPTION = ("Hybrid medical-image encryption: an autoencoder's features encrypted with AES-256-GCM "
               "(after Alslman et al., Electronics 2022).")
#: The example ``--help`` ends with: it runs from any folder (the committed model is found beside the package,
#: with its decoder, so the loss is measured), as tests/test_cli.py checks.
EXAMPLE = ("aecrypt keygen study.key && aecrypt encrypt scans/ --key study.key -o sealed/ && "
           "aecrypt decrypt sealed/ --key study.key -o opened/")
EPILOG = (f"Example: {EXAMPLE}  (encrypt and decrypt use the committed model, trained on MNI152 brain MRI, "
          "unless given --encoder/--decoder; encrypt measures each image's reconstruction and refuses one below --min-ssim)")
_PAYLOADS_OUT = "folder for the payloads; DIR/a/x.png becomes OUTPUT/a/x.png.aecrypt (sub-folders kept)"
_REPLACE_PAYLOADS = "replace payloads that already exist (only aecrypt payloads; never an input)"
_SENDERS_KEY = "key file made by 'aecrypt keygen' (mode 0600: only you may read it)"
_PAYLOAD_FILES = "payload files or folders of *.aecrypt files"

Commands = argparse._SubParsersAction  # what add_subparsers returns


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="aecrypt", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_keygen, _encrypt, _decrypt, _seal, _unseal, _inspect, _reproduce, _figures, _readme):
        add(commands)
    return parser


def _output_arguments(p: argparse.ArgumentParser, output_help: str, force_help: str,
                      quiet_help: str = "print nothing but errors") -> None:
    """The -o, --force and --quiet arguments of a command that writes files."""
    p.add_argument("-o", "--output", required=True, help=output_help)
    p.add_argument("--force", action="store_true", help=force_help)
    p.add_argument("-q", "--quiet", action="store_true", help=quiet_help)


def _keygen(commands: Commands) -> None:
    """aecrypt keygen KEYFILE."""
    p = commands.add_parser("keygen", help="write a new random AES-256 key file (mode 0600, never overwrites)")
    p.add_argument("keyfile", help="where to write the key")
    p.set_defaults(func=cmd_keygen)


def _encrypt(commands: Commands) -> None:
    """aecrypt encrypt IMAGES --key KEY -o OUT, with the models, the precision and the fidelity bound."""
    p = commands.add_parser("encrypt", help="encode images with the encoder and encrypt the features (AES-256-GCM)")
    p.add_argument("images", nargs="+", help="image files or folders (PNG, JPEG, TIFF, DICOM, NIfTI); each is encoded "
                                             "at its own size and bit depth, every frame of a multi-frame file")
    p.add_argument("--encoder", help="the sender's encoder (.keras), from notebook 02 (default: the committed model, "
                                     "models/default/main/seed-0/, trained on MNI152 brain MRI slices, with its decoder)")
    p.add_argument("--key", required=True, help=_SENDERS_KEY)
    _output_arguments(p, _PAYLOADS_OUT, _REPLACE_PAYLOADS, "print nothing but errors and warnings")
    p.add_argument("--dtype", choices=FEATURE_DTYPES, default="float32",
                   help="feature precision in the payload (default float32: exact)")
    p.add_argument("--fundus-crop", action="store_true",
                   help="crop fundus photographs to their field of view first (decrypt then gives the cropped size)")
    p.add_argument("--decoder", help="the paired decoder (.keras): measure each image's reconstruction (SSIM, PSNR) "
                                     "and store it in the payload; without it fidelity is not measured")
    p.add_argument("--min-ssim", type=float, default=MIN_SSIM,
                   help=f"refuse an image the decoder reconstructs below this SSIM (default {MIN_SSIM})")
    p.add_argument("--allow-lossy", action="store_true", help="encrypt images below --min-ssim anyway")
    p.add_argument("--axis", type=int, default=2, choices=(0, 1, 2),
                   help="the axis NIfTI volumes are sliced along (default 2: axial for RAS-oriented volumes)")
    p.set_defaults(func=cmd_encrypt)


def _decrypt(commands: Commands) -> None:
    """aecrypt decrypt PAYLOADS --key KEY -o OUT, with the decoder."""
    p = commands.add_parser("decrypt", help="decrypt payloads and decode them into images (the autoencoder's lossy reconstruction)")
    p.add_argument("payloads", nargs="+", help=_PAYLOAD_FILES)
    p.add_argument("--decoder", help="the receiver's decoder (.keras), from notebook 02 (default: the committed model's, "
                                     "models/default/main/seed-0/decoder.keras)")
    p.add_argument("--any-decoder", action="store_true",
                   help="decode with --decoder even if the payload names another (the stated fidelity then does not hold)")
    p.add_argument("--key", required=True, help="the key file the sender used")
    _output_arguments(p, "folder for the decoded images; DIR/a/x.png.aecrypt becomes OUTPUT/a/x.png (x.aecrypt: x.png)",
                      "replace images an earlier decrypt wrote (never an original scan, never an input)")
    p.set_defaults(func=cmd_decrypt)


def _seal(commands: Commands) -> None:
    """aecrypt seal FILES --key KEY -o OUT."""
    p = commands.add_parser("seal", help="encrypt any files themselves with AES-256-GCM (lossless: unseal gives them back bit for bit)")
    p.add_argument("images", nargs="+", help="files, or folders (every regular file in them; the summary names what "
                                             "was left out, and why)")
    p.add_argument("--key", required=True, help=_SENDERS_KEY)
    _output_arguments(p, _PAYLOADS_OUT, _REPLACE_PAYLOADS)
    p.set_defaults(func=cmd_seal)


def _unseal(commands: Commands) -> None:
    """aecrypt unseal PAYLOADS --key KEY -o OUT."""
    p = commands.add_parser("unseal", help="decrypt payloads made by 'aecrypt seal' back into the original files, bit for bit")
    p.add_argument("payloads", nargs="+", help=_PAYLOAD_FILES)
    p.add_argument("--key", required=True, help="the key file the sender used")
    _output_arguments(p, "folder for the files; DIR/a/x.png.aecrypt becomes OUTPUT/a/x.png (the stored extension)",
                      "replace a file only if it is identical to the sealed one")
    p.set_defaults(func=cmd_unseal)


def _inspect(commands: Commands) -> None:
    """aecrypt inspect PAYLOADS (no key)."""
    p = commands.add_parser("inspect", help="show a payload's header (scheme, dtype, shape, sizes, original size, fidelity); "
                                            "without --key its fields are shown as unverified")
    p.add_argument("payloads", nargs="+", help="payload files (each is read; a failure names its file)")
    p.add_argument("--key", help="verify each payload with this key first (its header is then authenticated)")
    p.set_defaults(func=cmd_inspect)


def _reproduce(commands: Commands) -> None:
    """aecrypt reproduce [--profile P] [--only NN] [--seeds S] [-p NAME VALUE] [--cores N] [--dry-run] [--force] [--slurm]."""
    p = commands.add_parser("reproduce", help="bring results/<profile>/ up to date: run each notebook that is new or out of date "
                                              "through papermill (a Snakemake workflow), then write REPORT.md")
    p.add_argument("--profile", default="default", choices=tuple(PROFILES), help="run profile (default: default)")
    p.add_argument("--only", action="append", help="run only these notebooks, by number: --only 04,05")
    p.add_argument("--dataset", choices=("mni152", "folder"), help="dataset for every notebook")
    p.add_argument("--data-dir", help="your image folder when --dataset folder")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a notebook parameter (checked against the notebooks' parameters cells)")
    p.add_argument("--seeds", help="training seeds, e.g. 0,1,2 (default: the profile's); the split is the same for all; "
                                   "the report gives each claim per seed, mean and standard deviation")
    p.add_argument("--cores", type=int, default=1, help="run up to this many jobs side by side (default 1); "
                                                        "each job's TensorFlow keeps its own fixed thread count, so the numbers do not change")
    p.add_argument("--dry-run", action="store_true", help="list the jobs that would run and why (new, changed code, "
                                                          "changed parameters, changed input), and run nothing")
    p.add_argument("--force", action="store_true", help="rerun the chosen notebooks (--only) even where they are up to date")
    p.add_argument("--keep-finished", action="store_true", help="never rerun a job whose outputs exist, whatever changed since "
                                                                "(a long run resumed across sessions; REPORT.md names each job's commit)")
    p.add_argument("--slurm", action="store_true", help="submit each job to SLURM (workflow/profiles/slurm) instead of running it here")
    p.set_defaults(func=cmd_reproduce)


def _figures(commands: Commands) -> None:
    """aecrypt figures [--profile P] [--style S]."""
    p = commands.add_parser("figures", help="redraw a run's figures from its saved data in seconds (no model, no TensorFlow)")
    p.add_argument("--profile", default="default", choices=tuple(PROFILES), help="whose results (default: default)")
    p.add_argument("--style", choices=STYLES,
                   help="paper: 3.5/7.2 in wide, 300 dpi; slides: 16:9; notebook: on screen. The run's own style "
                        "(recorded; paper for default) redraws in place, another goes to results/<profile>/<style>/")
    p.set_defaults(func=cmd_figures)


def _readme(commands: Commands) -> None:
    """aecrypt readme."""
    p = commands.add_parser("readme", help="rewrite README.md's results block from the committed results/default files")
    p.set_defaults(func=cmd_readme)
