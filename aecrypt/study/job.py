"""One job of the study's workflow: a notebook executed through papermill, or a lane's report.

The workflow's rules (``workflow/Snakefile``) run ``python -m aecrypt.study.job notebook
--plan PLAN --notebook NAME [--seed N]`` for each notebook and training seed, and
``python -m aecrypt.study.job report --plan PLAN`` last. The plan file (``plan.Plan.save``)
holds every job's parameters and folders, the commit found when ``aecrypt reproduce``
started, and the progress file its terminal follows.

A job writes to that file what the terminal shows: its start and end (as ``EVENT``
lines, one JSON object each) and, through its standard output, which its kernel
inherits, the kernel's live lines (``aecrypt.progress``). The kernel's standard error
goes to ``<notebook>.stderr.log`` beside the executed copy. The executed copy is written
last, with the job's record added to ``runs/<notebook>.json`` just before, so an executed
copy exists only where its job finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.errors import AecryptError, NotebookFailedError
from aecrypt.progress import LIVE_ENV, LIVE_LABEL_ENV, stderr_to
from aecrypt.study.freshness import REPORT, RECORD_KEY, RUNNING_PREFIX, file_hash, job_stamp
from aecrypt.study.plan import TF_THREADS, Job, Plan, job_key, notebook_of
from aecrypt.study.results import COMMIT_ENV, write_json

#: How a progress line that reports an event (not a kernel's live line) starts.
EVENT = "@@aecrypt "


class Progress:
    """The progress file of ``aecrypt reproduce``, appended to (one write per line, so
    lines of jobs running side by side never mix), or nothing when there is none."""

    def __init__(self, path: str | None) -> None:
        """Open the progress file for appending (nothing when ``path`` is None)."""
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None

    def event(self, kind: str, key: str, **values: Any) -> None:
        """Report that job ``key`` started, finished or failed."""
        if self.fd is not None:
            os.write(self.fd, (EVENT + json.dumps({"event": kind, "key": key, **values}) + "\n").encode())

    def take_stdout(self) -> None:
        """Send this process's standard output (which kernels inherit) to the progress file."""
        if self.fd is not None:
            sys.stdout.flush()
            os.dup2(self.fd, 1)


def kernel_name() -> str:
    """The project's registered kernel ('aecrypt') if present, else this interpreter's 'python3'."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    return config.KERNEL_NAME if config.KERNEL_NAME in specs else "python3"


def kernel_environment(job: Job, settings: dict[str, Any]) -> None:
    """What the job's kernel inherits: live progress on, TensorFlow quiet and on its fixed
    thread count, the commit taken at the start, and a label when jobs run side by side."""
    os.environ[LIVE_ENV] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow start-up notices
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(TF_THREADS)
    if settings.get("git_commit"):
        os.environ[COMMIT_ENV] = settings["git_commit"]
    if settings.get("labels"):
        os.environ[LIVE_LABEL_ENV] = job.label
    else:
        os.environ.pop(LIVE_LABEL_ENV, None)


def run_notebook(job: Job, settings: dict[str, Any], progress: Progress) -> float:
    """Execute one notebook job; returns its wall time. A failure leaves the executed copy,
    with its traceback, as ``<notebook>.failed.ipynb`` and raises a NotebookFailedError."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from aecrypt.study.notebooks import clean_executed

    source = notebook_of(job)
    job.executed.parent.mkdir(parents=True, exist_ok=True)
    partial = job.executed.parent / f"{RUNNING_PREFIX}{job.executed.name}"
    inputs = {role: file_hash(path) for role, path in job.reads.items()}
    kernel_environment(job, settings)
    progress.event("start", job.key)
    start = time.perf_counter()
    try:
        with stderr_to(job.log):
            papermill.execute_notebook(
                str(source), str(partial), parameters=job.parameters, kernel_name=kernel_name(), cwd=str(source.parent),
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            )
    except PapermillExecutionError as exc:
        _keep_failed(job, partial, source)
        raise NotebookFailedError(
            f"{source.name} ({job.label}) failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
            f"{exc.ename}: {exc.evalue}\n  the executed copy, with the traceback, is {job.failed}; the kernel's log is {job.log}"
        ) from None
    except Exception as exc:  # the kernel died (out of memory, killed) or papermill could not start it
        _keep_failed(job, partial, source)
        raise NotebookFailedError(f"{source.name} ({job.label}) stopped: {type(exc).__name__}: {exc}; the kernel's log is {job.log}") from None
    seconds = time.perf_counter() - start
    clean_executed(partial, source, job.executed)
    add_record(job.record, {**job_stamp(job, settings["package"]), "inputs": inputs, "seconds": round(seconds, 1)})
    os.replace(partial, job.executed)
    job.failed.unlink(missing_ok=True)
    return seconds


def _keep_failed(job: Job, partial: Path, source: Path) -> None:
    """Keep what a failed run executed, cleaned, as ``<notebook>.failed.ipynb``."""
    if partial.is_file():
        from aecrypt.study.notebooks import clean_executed

        clean_executed(partial, source, job.failed)
        os.replace(partial, job.failed)


def add_record(path: Path, record: dict[str, Any]) -> Path:
    """Add the workflow's record to a ``runs/*.json`` file the notebook wrote."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise NotebookFailedError(f"{path}: the notebook finished without writing its run record; it must call study.start") from None
    return write_json(path, {**data, RECORD_KEY: record})


def run_report(plan: Plan, settings: dict[str, Any], progress: Progress) -> float:
    """Write the lane's REPORT.md and spread tables (and, for the committed profiles, its
    slides; for the default profile's main run, README's results block)."""
    from aecrypt.study.report import write_lane_report

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    progress.event("start", REPORT)
    start = time.perf_counter()
    write_lane_report(plan, settings["package"])
    return time.perf_counter() - start


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The job's command line."""
    parser = argparse.ArgumentParser(prog="python -m aecrypt.study.job", description="Run one job of the study's workflow.")
    parser.add_argument("what", choices=("notebook", "report"))
    parser.add_argument("--plan", required=True, help="the plan file aecrypt reproduce wrote")
    parser.add_argument("--notebook", help="the notebook's name, such as 02_train_autoencoder")
    parser.add_argument("--seed", type=int, help="its training seed (none for notebook 01)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the job; an aecrypt error is reported to the progress file and as one line, exit status 1."""
    args = parse_arguments(argv)
    plan, settings = Plan.load(args.plan)
    progress = Progress(settings.get("progress"))
    progress.take_stdout()
    key = REPORT if args.what == "report" else job_key(args.notebook, args.seed)
    try:
        seconds = run_report(plan, settings, progress) if args.what == "report" else run_notebook(plan.job(key), settings, progress)
    except AecryptError as exc:
        progress.event("failed", key, message=str(exc))
        print(f"aecrypt: error: {exc}", file=sys.stderr)
        return 1
    progress.event("done", key, seconds=round(seconds, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
