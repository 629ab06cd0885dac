"""Writing results: tables (CSV, Markdown, LaTeX), figures (PNG, PDF) and run metadata, atomically.

Every write goes to a temporary file beside the target and is renamed into place, so an
interrupted run never leaves a half-written table behind.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from aecrypt import config
from aecrypt.files import atomic_path, write_text

#: Packages whose versions every run records.
RECORDED_PACKAGES = (
    "aecrypt", "tensorflow", "tensorflow-cpu", "keras", "numpy", "pycryptodome", "cryptography",
    "scikit-image", "pandas", "papermill", "nilearn", "matplotlib", "seaborn", "bm3d",
)


#: Columns that hold a measured time or a rate derived from one: they change from run to
#: run and machine to machine; every other column of a table repeats under the same seed.
TIMING_COLUMN = re.compile(r"(_s|_MB_s|seconds|minutes|per_second|reduction_percent)$")


def is_timing_column(name: str) -> bool:
    """Whether a table column is a wall-clock measurement (left out of reproducibility checks)."""
    return bool(TIMING_COLUMN.search(name))


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (numpy scalars and paths become plain values)."""
    return write_text(path, json.dumps(data, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars, paths and other simple objects."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def write_table(
    table: pd.DataFrame, name: str, folder: str | Path, caption: str = "", float_format: str = "{:.4g}",
    formats: tuple[str, ...] = ("csv", "md", "tex"),
) -> dict[str, Path]:
    """Write a table as ``name.csv`` (data), ``name.md`` and ``name.tex`` (for the paper);
    ``formats=("csv",)`` for long per-image tables that REPORT.md should not print."""
    folder = Path(folder)
    paths = {suffix: folder / f"{name}.{suffix}" for suffix in formats}
    if "csv" in paths:
        with atomic_path(paths["csv"]) as tmp:
            table.to_csv(tmp, index=False)
    shown = table.map(lambda v: _format_cell(v, float_format))
    if "md" in paths:
        write_text(paths["md"], (f"**{caption}**\n\n" if caption else "") + markdown_table(table, shown) + "\n")
    if "tex" in paths:
        write_text(paths["tex"], latex_table(table, shown, name, caption))
    return paths


#: How a column name's words read in a paper's table header.
HEADER_WORDS = {"ssim": "SSIM", "psnr": "PSNR", "mse": "MSE", "npcr": "NPCR", "uaci": "UACI", "aes": "AES", "iqr": "IQR",
                "ood": "OOD", "p90": "90th percentile", "corr": "correlation", "abs": "absolute", "r": "r", "val": "validation",
                "keras": "Keras", "openssl": "OpenSSL", "chi": "chi"}
#: A column name's last words and the unit they stand for (longest first).
HEADER_UNITS = ((("MB", "s"), "MB/s"), (("per", "second"), "per s"), (("percent",), "%"), (("s",), "s"), (("db",), "dB"),
                (("mm",), "mm"), (("bits",), "bits"), (("bytes",), "bytes"), (("minutes",), "min"), (("seconds",), "s"))
#: Units that a column's first word implies though its name does not say them.
IMPLIED_UNITS = {"npcr": "%", "uaci": "%", "psnr": "dB"}


def header_label(column: str) -> str:
    """A column name as a table header in words, its unit in brackets: 'encrypt_median_s' ->
    'encrypt median (s)', 'psnr_db_mean' -> 'PSNR mean (dB)', 'npcr' -> 'NPCR (%)'."""
    words = column.split("_")
    statistic = [words.pop()] if len(words) > 1 and words[-1] in ("mean", "std") else []
    unit = IMPLIED_UNITS.get(words[0], "")
    for suffix, name in HEADER_UNITS:
        if len(words) > len(suffix) and tuple(words[-len(suffix):]) == suffix:
            words, unit = words[: -len(suffix)], name
            break
    text = " ".join(HEADER_WORDS.get(w, w) for w in words + statistic)
    return f"{text} ({unit})" if unit else text


def markdown_table(table: pd.DataFrame, shown: pd.DataFrame) -> str:
    """``shown`` (cells already formatted) as Markdown, its cells as written: tabulate would
    re-read '1605632' as a number and print it as 1.60563e+06; numeric columns right-aligned."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    align = tuple("right" if is_numeric_dtype(table[c]) and not is_bool_dtype(table[c]) else "left" for c in table.columns)
    return shown.to_markdown(index=False, disable_numparse=True, colalign=align)


def latex_table(table: pd.DataFrame, shown: pd.DataFrame, name: str, caption: str = "") -> str:
    """A table for the paper: booktabs rules, headers in words with units, numbers right-aligned."""
    from pandas.api.types import is_numeric_dtype

    columns = "".join("r" if is_numeric_dtype(table[c]) and not table[c].dtype == bool else "l" for c in table.columns)
    return shown.rename(columns=header_label).to_latex(index=False, caption=caption or None, label=f"tab:{name}", escape=True,
                                                       column_format=columns)


def _format_cell(value: Any, float_format: str) -> Any:
    """Whole numbers as integers (byte counts), other floats with ``float_format``, NaN as '-'."""
    if isinstance(value, float):
        if value != value:
            return "-"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value)}"
        return float_format.format(value)
    return value


class SavedFigure(dict):
    """The files a figure was saved to, by suffix; shown in a notebook as one plain line."""

    def __repr__(self) -> str:
        return "saved " + " and ".join(_relative(path) for path in self.values())


def _relative(path: Path) -> str:
    """A path relative to the project when it lies inside it (no machine's folders in outputs)."""
    try:
        return str(Path(path).resolve().relative_to(config.PROJ_ROOT))
    except ValueError:
        return str(path)


#: Font tables a PDF's embedded TrueType subset can leave out: glyph substitution and
#: positioning rules (matplotlib has already placed every glyph; a PDF viewer never
#: applies them). Subsetting them took about three quarters of the time of embedding a
#: DejaVu Sans subset (0.19 s of each PDF's font, against 0.04 s without).
LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "kern")


@contextmanager
def _glyphs_only_font_subsets() -> Iterator[None]:
    """While saving: font subsets (fontTools, which matplotlib calls for ``pdf.fonttype`` 42)
    drop ``LAYOUT_TABLES``; nothing changes if this fontTools keeps its defaults elsewhere."""
    try:
        from fontTools import subset
    except ImportError:  # no fontTools: matplotlib embeds no TrueType subsets either
        yield
        return
    defaults = getattr(subset.Options, "_drop_tables_default", None)
    if not isinstance(defaults, list):
        yield
        return
    subset.Options._drop_tables_default = defaults + [t for t in LAYOUT_TABLES if t not in defaults]
    try:
        yield
    finally:
        subset.Options._drop_tables_default = defaults


def save_figure(fig, name: str, folder: str | Path, dpi: int | None = None) -> SavedFigure:
    """Save a matplotlib figure as ``name.png`` (at ``dpi``, by default the style's
    ``savefig.dpi``) and ``name.pdf`` (no creation date, so the same figure gives the same file)."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    paths = SavedFigure()
    # The tight bounding box, laid out once for both files (savefig's "tight" lays out per file).
    tight = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    for suffix in ("png", "pdf"):
        metadata = {"CreationDate": None} if suffix == "pdf" else None
        with atomic_path(folder / f"{name}.{suffix}") as tmp, _glyphs_only_font_subsets():
            fig.savefig(tmp, dpi=dpi, bbox_inches=tight, format=suffix, metadata=metadata)
        paths[suffix] = folder / f"{name}.{suffix}"
    return paths


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the study depends on."""
    found = {}
    for name in RECORDED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for timing tables."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: What makes the numbers: a change to these tracked files marks a run '-dirty'. A run's own
#: outputs (results/, models/, README's generated block) and the other documents do not.
CODE_PATHS = ("aecrypt", "notebooks", "workflow", "benchmarks", "pyproject.toml", "environment.yml", "Makefile")
#: Set by ``aecrypt reproduce`` for every job: the commit it found when it started, so a
#: job never reports a change that a job before it made (such as a rewritten model file).
COMMIT_ENV = "AECRYPT_GIT_COMMIT"


def git_commit() -> str:
    """The project's git commit (with '-dirty' if its code has uncommitted changes), or
    'unknown'; inside ``aecrypt reproduce``, the one it found at its start."""
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=config.PROJ_ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                               cwd=config.PROJ_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if commit.returncode != 0:
        return "unknown"
    return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def run_metadata(parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a reader needs to reproduce a result: parameters, versions, CPU, commit, time."""
    return {
        "parameters": parameters or {},
        "packages": package_versions(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
