"""Run the aecrypt command line for a test: in this process by default (a fresh process
spends about 10 s importing TensorFlow, and the CLI tests make some fifty calls), or in a
fresh process where the test is about the process itself (its exit, a kill, what reaches
the terminal)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

from aecrypt.cli.main import main


def aecrypt(*args, cwd=None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """``aecrypt ARGS`` as ``main`` runs it, with its exit status, stdout and stderr captured
    (``timeout`` is accepted for the process form's sake and ignored)."""
    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or os.getcwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, or a usage error
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def aecrypt_process(*args, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``aecrypt ARGS`` in a fresh Python process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "aecrypt.cli.main", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
