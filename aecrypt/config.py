"""Every standard path of the project, defined once, relative to the package.

Paths hang off ``PROJ_ROOT`` (the folder that holds ``aecrypt/``), never off the
working directory, so notebooks, tests and the command line agree wherever they run.
Set ``AECRYPT_RESULTS_DIR`` or ``AECRYPT_DATA_DIR`` to redirect outputs or caches
(tests do, so they never touch the committed results).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT: Path = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR: Path = PROJ_ROOT / "notebooks"
DATA_DIR: Path = Path(os.environ.get("AECRYPT_DATA_DIR", PROJ_ROOT / "data"))
PROCESSED_DIR: Path = DATA_DIR / "processed"
RESULTS_DIR: Path = Path(os.environ.get("AECRYPT_RESULTS_DIR", PROJ_ROOT / "results"))
MODELS_DIR: Path = Path(os.environ.get("AECRYPT_MODELS_DIR", PROJ_ROOT / "models"))

#: The committed model (the default run's, trained on MNI152 brain MRI slices): what
#: ``aecrypt encrypt`` and ``decrypt`` use when no --encoder or --decoder is given.
COMMITTED_MODEL_DIR: Path = PROJ_ROOT / "models" / "default" / "main" / "seed-0"

#: The figure styles (``aecrypt/study/styles/<style>.mplstyle``): a journal page, a 16:9 slide, a screen.
STYLES: tuple[str, ...] = ("paper", "slides", "notebook")

#: The folder of a run (and of each of its seeds) that holds each notebook's record (``runs/<notebook>.json``) and ``study.json``.
RUNS_FOLDER = "runs"

#: Name of the Jupyter kernel that ``make`` registers for the project's virtualenv.
KERNEL_NAME: str = "aecrypt"


def results_dir(profile: str) -> Path:
    """Folder for one run profile's tables and figures (``results/<profile>``)."""
    return RESULTS_DIR / profile


def scratch_dir(profile: str) -> Path:
    """Folder for ad-hoc runs (papermill by hand, JupyterLab): git-ignored, never committed."""
    return RESULTS_DIR / "scratch" / profile


def models_dir(profile: str) -> Path:
    """Folder for one run profile's trained encoder and decoder."""
    return MODELS_DIR / profile
