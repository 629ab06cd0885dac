"""Every figure of a run, by file name: the tables and saved values it is drawn from and the
function that draws it; ``publish`` for a notebook and ``redraw`` for ``aecrypt figures``.

A notebook computes; ``publish`` saves what a figure needs (its tables are already CSV
files; image panels, labels and the like go to ``figure_data/<name>.npz``), reads it back
from disk, draws it, saves PNG and PDF, and shows it in the cell. ``aecrypt figures`` calls
the same ``redraw`` on the same files, so the command and the notebooks give
byte-identical files, in seconds and without a model or TensorFlow.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from aecrypt.config import RUNS_FOLDER, STYLES
from aecrypt.study import table_names as tables
from aecrypt.study.figures import draw, prepare
from aecrypt.study.figures.storage import FIGURE_DATA, check_layout, load_values, save_values
from aecrypt.study.figures.style import DEFAULT_STYLE, styled
from aecrypt.study.results import SavedFigure, save_figure


@dataclass(frozen=True)
class FigureSpec:
    """How one figure of a run is drawn: from which tables (CSV files of the run folder) and
    which saved values (``figure_data/<data>.npz``), by which function."""

    draw: Callable[[dict[str, Any]], plt.Figure]  # the loaded tables and values -> the figure
    tables: tuple[str, ...] = ()
    prepare: Callable[..., dict[str, Any]] | None = None  # a notebook's values -> what is saved (None: no values)
    data: str = ""  # the npz file it reads, if not its own (two figures of one sample)


def _image_rows(d: dict[str, Any]) -> plt.Figure:
    """A figure of labelled image rows from its saved rows."""
    return draw.image_rows(d["rows"], d["count"])


def _image_panels(d: dict[str, Any]) -> plt.Figure:
    """A figure of titled image panels from its saved panels."""
    return draw.image_panels(prepare.panels_back(d))


def _across(table: str) -> str:
    """The name of a table's rows from every training seed, stacked (``tables.ACROSS_SEEDS``)."""
    return tables.ACROSS_SEEDS[table]


#: Every figure a run draws, by file name, in notebook order.
FIGURES: dict[str, FigureSpec] = {
    "fig_leakage": FigureSpec(lambda d: draw.leakage_histograms(d["per_split"], d["threshold"]), prepare=prepare.leakage_data),
    "fig_dataset_samples": FigureSpec(lambda d: draw.sample_grid(d["images"], d["labels"], d["per_class"]), prepare=prepare.sample_grid_data),
    "fig_dataset_intensities": FigureSpec(lambda d: draw.intensity_histograms(d["edges"], d["counts"]), prepare=prepare.intensity_counts),
    "fig_retina": FigureSpec(_image_panels, prepare=prepare.panels_data),
    "fig5_training_loss": FigureSpec(
        lambda d: draw.training_history(pd.DataFrame(d["history"]), d["best_epoch"], d["stopped_because"]), prepare=prepare.history_data),
    "fig_reconstructions": FigureSpec(
        _image_rows, prepare=lambda originals, others: prepare.image_rows_data([("original", originals), ("reconstruction", others)])),
    "fig_reconstructions_ood": FigureSpec(
        _image_rows, prepare=lambda originals, others: prepare.image_rows_data([("original", originals), ("reconstruction", others)], 8)),
    "fig6_image_journey": FigureSpec(_image_panels, prepare=prepare.panels_data),
    "fig6_image_journey_retina": FigureSpec(_image_panels, prepare=prepare.panels_data),
    "fig_paper_scheme_bitflip": FigureSpec(_image_panels, prepare=prepare.panels_data),
    "fig_time_breakdown": FigureSpec(lambda d: draw.time_breakdown(d[tables.END_TO_END]), tables=(tables.END_TO_END,)),
    "fig_aes_size_sweep": FigureSpec(lambda d: draw.aes_size_sweep(d[tables.AES_SIZE_SWEEP]), tables=(tables.AES_SIZE_SWEEP,)),
    "fig_rate_distortion": FigureSpec(
        lambda d: draw.rate_distortion(d[tables.RATE_DISTORTION], d["metrics"], d["kinds"]), tables=(tables.RATE_DISTORTION,),
        prepare=lambda metrics, kinds: {"metrics": dict(metrics), "kinds": dict(kinds)}),
    "fig_noise_methods": FigureSpec(
        lambda d: draw.noise_methods(d[tables.NOISE_ALL].query("data == 'test'"), d["labels"]), tables=(tables.NOISE_ALL,),
        prepare=lambda labels: {"labels": dict(labels)}),
    "fig_noise_examples": FigureSpec(lambda d: draw.noise_examples(d["original"], d["examples"], d["labels"]),
                                     prepare=prepare.noise_examples_data),
    "fig_noise_sweep": FigureSpec(
        lambda d: draw.noise_sweep(d[tables.NOISE_SWEEP], d["labels"], d["strength_labels"]), tables=(tables.NOISE_SWEEP,),
        prepare=lambda labels, strength_labels: {"labels": dict(labels), "strength_labels": dict(strength_labels)}),
    "fig_cipher_bytes": FigureSpec(lambda d: draw.byte_images(prepare.byte_samples(d)), prepare=prepare.byte_samples_data),
    "fig_byte_histograms": FigureSpec(lambda d: draw.byte_histograms(prepare.byte_samples(d)), data="fig_cipher_bytes"),
    "fig_feature_views": FigureSpec(lambda d: draw.feature_views(d["image"], d["views"]), prepare=prepare.feature_views_data),
    "fig_substitute_decoder": FigureSpec(_image_rows, prepare=prepare.image_rows_data),
    "fig_attack_curve": FigureSpec(
        lambda d: draw.attack_curve(d[tables.ATTACK_CURVE], float(d[tables.SUBSTITUTE_DECODER]["ssim"].iloc[0])),
        tables=(tables.ATTACK_CURVE, tables.SUBSTITUTE_DECODER)),
    # drawn by the report in a run's folder, from every training seed's rows (tables.ACROSS_SEEDS)
    "fig_seeds_training_loss": FigureSpec(lambda d: draw.seeds_training_history(d[_across("training_history")]),
                                          tables=(_across("training_history"),)),
    "fig_seeds_noise_methods": FigureSpec(
        lambda d: draw.seeds_noise_methods(d[_across(tables.NOISE_ALL)].query("data == 'test'"), d["labels"]),
        tables=(_across(tables.NOISE_ALL),), prepare=lambda labels: {"labels": dict(labels)}),
    "fig_seeds_noise_sweep": FigureSpec(
        lambda d: draw.seeds_noise_sweep(d[_across(tables.NOISE_SWEEP)], d["labels"], d["strength_labels"]),
        tables=(_across(tables.NOISE_SWEEP),),
        prepare=lambda labels, strength_labels: {"labels": dict(labels), "strength_labels": dict(strength_labels)}),
    "fig_seeds_attack_curve": FigureSpec(
        lambda d: draw.seeds_attack_curve(d[_across(tables.ATTACK_CURVE)], d[_across(tables.SUBSTITUTE_DECODER)]),
        tables=(_across(tables.ATTACK_CURVE), _across(tables.SUBSTITUTE_DECODER))),
}


def data_path(name: str, folder: str | Path) -> Path:
    """The file a figure's saved values live in."""
    return Path(folder) / FIGURE_DATA / f"{FIGURES[name].data or name}.npz"


def save_data(name: str, folder: str | Path, values: dict[str, Any]) -> Path:
    """Save a figure's values (arrays, numbers, strings, lists and dicts of them) to its npz file."""
    return save_values(data_path(name, folder), values)


def load_data(name: str, folder: str | Path) -> dict[str, Any]:
    """A figure's tables (CSV files of ``folder``) and saved values, as its draw function takes them."""
    spec, folder = FIGURES[name], Path(folder)
    loaded: dict[str, Any] = {table: pd.read_csv(folder / f"{table}.csv") for table in spec.tables}
    if spec.prepare is not None or spec.data:
        loaded.update(load_values(data_path(name, folder)))
    return loaded


def has_data(name: str, folder: str | Path) -> bool:
    """Whether ``folder`` holds everything figure ``name`` is drawn from."""
    spec, folder = FIGURES[name], Path(folder)
    files = [folder / f"{table}.csv" for table in spec.tables]
    if spec.prepare is not None or spec.data:
        files.append(data_path(name, folder))
    return all(path.is_file() for path in files)


#: The folder beside a run's outputs whose records say the style its figures were drawn in.
STYLE_RECORD = RUNS_FOLDER


def recorded_style(folder: str | Path) -> str:
    """The figure style a run recorded (``figure_style`` in its ``runs/*.json``), else ``DEFAULT_STYLE``."""
    for path in sorted((Path(folder) / STYLE_RECORD).glob("*.json")):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            style = json.loads(path.read_text()).get("parameters", {}).get("figure_style")
            if style in STYLES:
                return style
    return DEFAULT_STYLE


def redraw(name: str, folder: str | Path, style: str | None = None, show: bool = False) -> SavedFigure:
    """Draw figure ``name`` from ``folder``'s saved data and save it as PNG and PDF: into
    ``folder`` in the run's own style, into ``folder/<style>/`` in another; ``show``: also
    into the running notebook's cell. Returns the files."""
    folder = Path(folder)
    own = recorded_style(folder)
    style = style or own
    with styled(style):
        fig = FIGURES[name].draw(load_data(name, folder))
        try:
            saved = save_figure(fig, name, folder if style == own else folder / style)
            if show:
                show_in_notebook(fig)
        finally:
            plt.close(fig)
    return saved


def show_in_notebook(fig: plt.Figure) -> None:
    """Show a figure in the notebook cell that is running, as a PNG at the style's screen
    resolution; outside a notebook's kernel, nothing.

    Explicit, because the inline backend shows only the figures still open when the cell
    ends that were made in interactive mode, and a published figure is closed once saved.
    """
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if getattr(shell, "kernel", None) is None:
        return
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plt.rcParams["figure.dpi"])
    display(Image(data=buffer.getvalue(), format="png"))


def publish(name: str, folder: str | Path, **values: Any) -> SavedFigure:
    """Save what figure ``name`` needs (its tables are already written), then draw it from
    the saved files exactly as ``aecrypt figures`` does and show it in the notebook's cell."""
    spec = FIGURES[name]
    if spec.prepare is not None:
        save_data(name, folder, spec.prepare(**values))
    elif values:
        raise TypeError(f"{name} is drawn from its tables alone; it takes no values (got {', '.join(values)})")
    return redraw(name, folder, show=True)


def run_folders(folder: str | Path) -> list[Path]:
    """A run's folder and its per-seed sub-folders (``seed-1/``), each that holds figure data."""
    folder = Path(folder)
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and (p / STYLE_RECORD).is_dir()) if folder.is_dir() else []
    return [p for p in candidates if any(has_data(name, p) for name in FIGURES)]


def _redraw_files(name: str, folder: str, style: str | None) -> list[Path]:
    """``redraw`` for a worker process: the files written."""
    return list(redraw(name, folder, style).values())


def redraw_all(folder: str | Path, style: str | None = None, workers: int | None = None) -> list[Path]:
    """Redraw every figure of a run (and of its per-seed sub-folders) from its saved data,
    one process per CPU (each figure's files are the same whichever process draws them);
    returns the files written. Data an older aecrypt saved is refused before anything is drawn."""
    runs = run_folders(folder)
    for run in runs:
        check_layout(run)
    jobs = [(name, str(run), style) for run in runs for name in FIGURES if has_data(name, run)]
    jobs.sort(key=lambda job: _draw_order(job[0]))  # the slowest first, so no process waits on one at the end
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        return [path for job in jobs for path in _redraw_files(*job)]
    # Forked (matplotlib, the draw functions and the data already imported) unless TensorFlow
    # is loaded (a notebook, a test run): its threads do not survive a fork, so then spawned.
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        return [path for files in pool.map(_redraw_files, *zip(*jobs)) for path in files]


#: Figures that take longest to draw (about 2 to 4 s each on the 2-core machine, image
#: panels and many axes), measured; ``redraw_all`` starts them first.
SLOWEST_FIGURES = ("fig_byte_histograms", "fig_noise_examples", "fig_rate_distortion", "fig_noise_sweep",
                   "fig_cipher_bytes", "fig_substitute_decoder", "fig_leakage", "fig_dataset_samples")


def _draw_order(name: str) -> int:
    """Where figure ``name`` goes in the drawing queue: the slowest first, the rest after."""
    return SLOWEST_FIGURES.index(name) if name in SLOWEST_FIGURES else len(SLOWEST_FIGURES)
