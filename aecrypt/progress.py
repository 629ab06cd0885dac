"""Live progress for batch runs: one line per epoch or step, to the terminal of ``aecrypt reproduce``.

A notebook executed by papermill prints into the notebook, where nobody watching
``make reproduce`` sees it. Each job of the study's workflow sets ``LIVE_ENV`` for its
kernel; then ``live`` also writes the line to the kernel's own standard output, which the
kernel inherited from its job: the progress file that ``aecrypt reproduce`` follows and
prints. Interactive sessions see the usual progress bars instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

#: Set (to "1") by the study's jobs for the kernels they start.
LIVE_ENV = "AECRYPT_LIVE_PROGRESS"
#: When jobs run side by side: the job's name, put before each of its live lines.
LIVE_LABEL_ENV = "AECRYPT_LIVE_LABEL"
#: How far live lines are indented under the terminal's "[2/6] 02_train_autoencoder (seed 0) ..." line.
INDENT = "      "
#: Loops over fewer items than this show no progress bar.
QUIET_BELOW = 50


def enabled() -> bool:
    """Whether this process runs under ``aecrypt reproduce`` and should report live."""
    return os.environ.get(LIVE_ENV) == "1"


def live(message: str) -> None:
    """Write one progress line to the batch run's terminal (a no-op outside a batch run)."""
    if not enabled():
        return
    try:  # in a kernel that captures file descriptors, sys.stdout.fileno() is the inherited terminal
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        fd = 1  # one that does not (ipykernel under pytest, for one) left descriptor 1 as it found it
    label = os.environ.get(LIVE_LABEL_ENV)
    try:
        os.write(fd, f"{INDENT}{label + ': ' if label else ''}{message}\n".encode())
    except OSError:
        pass  # no terminal to write to: progress is a courtesy, never a failure


@contextlib.contextmanager
def stderr_to(path: str | os.PathLike) -> Iterator[None]:
    """Point file descriptor 2 at ``path`` meanwhile (C libraries and child processes write
    there, whatever ``sys.stderr`` is); restored afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "w") as handle:
            os.dup2(handle.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def quiet_bar(items, description: str):
    """A tqdm progress bar over ``items`` that stays quiet for short lists (under 50)."""
    from tqdm.auto import tqdm  # imported here: a light command that never loops need not load tqdm

    return tqdm(items, desc=description, disable=len(items) < QUIET_BELOW or enabled(), leave=False)  # live lines instead under reproduce
