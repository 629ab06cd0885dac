"""A copy of this project to run the study in, as a user's clone: a git repository with
one clean commit, its own results/ and models/, and ``aecrypt reproduce`` run in a fresh
process under umask 022. The workflow tests share one smoke study made this way and work
on copies of it, so no test touches this repository's results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from aecrypt.config import PROJ_ROOT

#: Left out of a copy: the committed runs (a smoke study writes its own) and the caches.
NOT_COPIED = ("results/", "models/")
GIT_USER = ["-c", "user.name=aecrypt tests", "-c", "user.email=tests@aecrypt.invalid"]


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder``; its standard output."""
    done = subprocess.run(["git", *GIT_USER, *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout


def copy_project(target: Path) -> Path:
    """This working tree's tracked and untracked (not ignored) files, committed runs left
    out, as a new git repository with one commit: a clean clone of the code as it is now."""
    names = git(PROJ_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in names:
        source = PROJ_ROOT / name
        if name and not name.startswith(NOT_COPIED) and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "a copy of the project")
    return target


def copy_study(project: Path, target: Path) -> Path:
    """A copy of a project with everything its study wrote (results, models, .snakemake)."""
    return Path(shutil.copytree(project, target, symlinks=True))


def environment(project: Path, data: Path) -> dict[str, str]:
    """The environment of a user's shell in ``project``: its package first on the path,
    results and models in the project, the processed-data cache shared between copies."""
    env = {k: v for k, v in os.environ.items() if k not in ("AECRYPT_RESULTS_DIR", "AECRYPT_MODELS_DIR")}
    return {**env, "PYTHONPATH": str(project), "AECRYPT_DATA_DIR": str(data)}


def reproduce(project: Path, data: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``aecrypt reproduce --profile smoke ARGS`` in ``project``, in a fresh process under umask 022."""
    return subprocess.run([sys.executable, "-m", "aecrypt.cli.main", "reproduce", "--profile", "smoke", *args], cwd=project,
                          env=environment(project, data), capture_output=True, text=True, timeout=timeout,
                          preexec_fn=lambda: os.umask(0o022))


def jobs_run(stdout: str) -> list[str]:
    """The jobs a run started, by the terminal's lines ('[2/7] 02_train_autoencoder (seed 0) ...')."""
    return [line.split("] ", 1)[1].removesuffix(" ...") for line in stdout.splitlines() if line.startswith("[") and line.endswith(" ...")]


def tables_of(folder: Path) -> dict:
    """Every CSV table of a run folder and its seed folders (by relative path), as written,
    timing columns dropped."""
    import pandas as pd

    from aecrypt.study.results import is_timing_column

    tables = {}
    for path in sorted(folder.rglob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)  # compare the text as written
        tables[str(path.relative_to(folder).with_suffix(""))] = frame[[c for c in frame.columns if not is_timing_column(c)]]
    return tables
