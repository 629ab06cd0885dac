"""The study commands: reproduce (run the notebooks), figures (redraw from saved data) and readme."""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

from aecrypt.errors import InputError, ParameterError


def _value(text: str):
    """Parse a ``-p`` value as a Python literal (number, None, True) or keep it as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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
                        force=args.force, slurm=args.slurm, keep_finished=args.keep_finished)
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
    from aecrypt.study.readme import update_readme

    print(f"rewrote the results block of {update_readme()}")
