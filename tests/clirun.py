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
import threading

from aecrypt.cli.main import main


def aecrypt(*args, cwd=None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """``aecrypt ARGS`` as ``main`` runs it, with its exit status, stdout and stderr captured.

    With ``timeout``, ``main`` runs in a thread and a run that outlives it raises
    ``subprocess.TimeoutExpired``, as the process form does (the thread, blocked, is left behind).
    """
    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    done: list = []  # the exit status, or the exception main raised

    def run() -> None:
        """Run ``main`` and keep its exit status (or what it raised, to raise it in the caller)."""
        try:
            done.append(main(argv))
        except SystemExit as exc:  # argparse: --help, or a usage error
            done.append(exc.code if isinstance(exc.code, int) else int(exc.code is not None))
        except BaseException as exc:  # noqa: BLE001 - raised again below, in the test's own thread
            done.append(exc)

    with contextlib.chdir(cwd or os.getcwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if timeout is None:
            run()
        else:
            thread = threading.Thread(target=run, name="aecrypt " + " ".join(argv[:1]), daemon=True)
            thread.start()
            thread.join(timeout)
            if thread.is_alive():
                raise subprocess.TimeoutExpired(argv, timeout, out.getvalue(), err.getvalue())
    if isinstance(done[0], BaseException):
        raise done[0]
    return subprocess.CompletedProcess(argv, done[0], out.getvalue(), err.getvalue())


def aecrypt_process(*args, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``aecrypt ARGS`` in a fresh Python process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "aecrypt.cli.main", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
