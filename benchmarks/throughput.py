"""The throughput part of ``make bench``: ``aecrypt encrypt`` on a folder of native-size
slices, as an engineer runs it, with where its time goes and its peak memory.

A private temporary folder gets MNI152 slices at their native size (197x233, 233x189,
197x189) as 16-bit DICOM series of made-up patients (``aecrypt.data.examples``). The
command line's own encrypt path (``aecrypt.cli.parser`` to ``cmd_encrypt``: the committed
encoder, its decoder measuring every reconstruction, AES-256-GCM, a payload per file)
encrypts each folder in a fresh process, so each peak RSS is its own. Its stages are
timed by wrapping, for that run only, the functions the command calls (``STAGES``). Used
only by ``bench.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

import pandas as pd
from profiling import in_child, peak_rss_mib  # benchmarks/, beside this file

from aecrypt.progress import stderr_to

#: Folder sizes (slices): the first is the throughput run; peak memory is compared across both.
SIZES, QUICK_SIZES = (1000, 250), (40, 10)
#: Made-up patients the slices are spread over, and slices per series.
PATIENTS, PER_SERIES = 8, 50
#: The command's stages: the function (module, attribute) each is timed by, wrapped while a run lasts.
#: ``atomic_file`` is a context manager: its time runs from opening the payload to closing it.
STAGES = {
    "read (I/O)": ("aecrypt.data.scans", "read_scan"),
    "encoder": ("aecrypt.method.native", "encode_frames"),
    "decoder (fidelity check)": ("aecrypt.method.native", "decode_frames"),
    "fidelity metrics": ("aecrypt.method.fidelity", "fidelity"),
    "AES-GCM": ("aecrypt.cli.features", "encrypt_features"),
    "write (I/O)": ("aecrypt.cli.features", "atomic_file"),
}
#: The whole batch (every file, after the models are loaded), timed the same way.
BATCH = ("aecrypt.cli.features", "run_batch")
CONTEXT_STAGES = frozenset({"write (I/O)"})
#: Peak memory may grow this much from the smaller folder to the larger before it counts as unbounded.
RSS_GROWTH_TARGET = 1.1
#: Matrix side for the same-run matmul ceiling (as the core part measures it).
MATMUL_SIDE, QUICK_MATMUL_SIDE = 2048, 512


class StageClock:
    """Seconds spent in named functions while a run lasts, by wrapping them in their modules."""

    def __init__(self) -> None:
        self.seconds: Counter = Counter()
        self.encoded_pixels = 0  # padded input pixels the encoder ran on, for its FLOP rate

    @contextlib.contextmanager
    def wrapped(self, stages: dict[str, tuple[str, str]]) -> Iterator[StageClock]:
        """Each stage's function replaced by a timed copy meanwhile; the originals put back after."""
        saved = []
        for stage, (module_name, attribute) in stages.items():
            module = import_module(module_name)
            original = getattr(module, attribute)
            saved.append((module, attribute, original))
            setattr(module, attribute, self._timed_context(stage, original) if stage in CONTEXT_STAGES else self._timed(stage, original))
        try:
            yield self
        finally:
            for module, attribute, original in saved:
                setattr(module, attribute, original)

    def _timed(self, stage: str, function: Callable) -> Callable:
        """``function``, adding its time to ``stage`` (and, for the encoder, the pixels it ran on)."""
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start
                if stage == "encoder":
                    self.encoded_pixels += _padded_pixels(args[0].stride, args[1].shape)
        return timed

    def _timed_context(self, stage: str, factory: Callable) -> Callable:
        """A context manager ``factory`` whose time, from entering to leaving, goes to ``stage``."""
        @contextlib.contextmanager
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                with factory(*args, **kwargs) as handle:
                    yield handle
            finally:
                self.seconds[stage] += time.perf_counter() - start
        return timed


def _padded_pixels(stride: int, shape: tuple[int, ...]) -> int:
    """Input pixels the encoder runs on for frames (N, H, W, C): each side padded to the stride."""
    from aecrypt.method.native import padded_side

    frames, height, width = shape[:3]
    return frames * padded_side(height, stride) * padded_side(width, stride)


def encrypt_folder(folder: str, out: str, key: str, matmul_side: int | None) -> dict:
    """``aecrypt encrypt FOLDER --key KEY -o OUT --allow-lossy`` in this process, timed by stage
    (its per-file lines go to OUT.log; the progress bar to the terminal); then, if
    ``matmul_side``, the matmul ceiling in the same process. Returns the times and peak RSS."""
    start = time.perf_counter()  # start-up, as the command pays it: TensorFlow's import and the models' loading
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_to(os.devnull):  # TensorFlow's C++ start-up notices ignore log levels (as the command line does)
        import keras  # noqa: F401
    from aecrypt.cli.parser import build_parser

    args = build_parser().parse_args(["encrypt", folder, "--key", key, "-o", out, "--allow-lossy"])
    clock = StageClock()
    with clock.wrapped({**STAGES, "batch": BATCH}), open(f"{out}.log", "w") as log, contextlib.redirect_stdout(log):
        args.func(args)
    result = {"seconds": time.perf_counter() - start, "stages": dict(clock.seconds), "encoded_pixels": clock.encoded_pixels,
              "payloads": sum(1 for _ in Path(out).rglob("*.aecrypt")), "peak_rss_mib": peak_rss_mib(),
              "encoder_flops_per_pixel": _encoder_flops_per_pixel()}
    if matmul_side:
        from profiling import matmul_gflops  # benchmarks/, beside this file

        result["matmul_gflops"] = matmul_gflops("float32", n=matmul_side)
    return result


def _encoder_flops_per_pixel() -> float:
    """The committed encoder's FLOPs per input pixel (convolutions: the work grows with the area)."""
    from aecrypt import config
    from aecrypt.method.model import load_model, model_flops

    encoder = load_model(config.COMMITTED_MODEL_DIR / "encoder.keras", expected="encoder")
    height, width = encoder.input_shape[1:3]
    return model_flops(encoder) / (height * width)


def bench_throughput(quick: bool) -> tuple[pd.DataFrame, dict]:
    """Generate each folder size, encrypt it in its own process, and tabulate the larger run
    (images/s, each stage's share, the encoder against the matmul ceiling) and both peak RSS."""
    from aecrypt.data.examples import mni152_dicom_folder
    from aecrypt.method.keys import generate_key, save_key

    sizes = QUICK_SIZES if quick else SIZES
    work = Path(tempfile.mkdtemp(prefix="aecrypt-bench-throughput-"))  # private (0700), removed below
    runs, generated = {}, {}
    try:
        key = save_key(generate_key(), work / "bench.key")
        for index, count in enumerate(sizes):
            start = time.perf_counter()
            mni152_dicom_folder(work / f"slices-{count}", count, PATIENTS, PER_SERIES)
            generated[count] = time.perf_counter() - start
            side = (QUICK_MATMUL_SIDE if quick else MATMUL_SIDE) if index == 0 else None
            runs[count] = in_child(encrypt_folder, str(work / f"slices-{count}"), str(work / f"payloads-{count}"), str(key), side)
            print(f"  throughput, {count} slices: {count / runs[count]['stages']['batch']:.1f} img/s, "
                  f"peak RSS {runs[count]['peak_rss_mib']:.0f} MiB", flush=True)
            shutil.rmtree(work / f"payloads-{count}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return throughput_table(runs, sizes), {"generate_seconds": generated, "runs": runs}


def throughput_table(runs: dict[int, dict], sizes: tuple[int, int]) -> pd.DataFrame:
    """The throughput rows: the larger folder's rate, stage shares and encoder rate, and both folders' peak RSS."""
    large, small = (runs[size] for size in sizes)
    batch = large["stages"]["batch"]
    encoder_gflops = large["encoder_flops_per_pixel"] * large["encoded_pixels"] / large["stages"]["encoder"] / 1e9
    growth = large["peak_rss_mib"] / small["peak_rss_mib"]

    def line(name: str, value: float, unit: str, target: str = "", met: bool | None = None, note: str = "") -> dict:
        return {"measurement": name, "value": value, "unit": unit, "target": target,
                "met": "" if met is None else ("yes" if met else "NO"), "note": note}

    rows = [
        line("slices in folder", sizes[0], "images", note=f"MNI152 slices at native size as 16-bit DICOM, {PATIENTS} made-up "
             f"patients; every one encrypted ({large['payloads']} payloads)"),
        line("encrypt throughput", sizes[0] / batch, "img/s", note="aecrypt encrypt with the committed model and its fidelity "
             f"check (--allow-lossy); the models loaded in {large['seconds'] - batch:.1f} s before (TensorFlow imported earlier)"),
    ]
    timed = sum(large["stages"][stage] for stage in STAGES)
    for stage in (*STAGES, "other"):
        seconds = batch - timed if stage == "other" else large["stages"].get(stage, 0.0)
        rows.append(line(f"share of time: {stage}", 100 * seconds / batch, "%",
                         note="planning, size checks, the payload's header, progress" if stage == "other" else ""))
    rows += [
        line("encoder rate", encoder_gflops, "GFLOP/s", note=f"{large['encoder_flops_per_pixel'] * large['encoded_pixels'] / sizes[0] / 1e9:.2f} "
             "GFLOP a slice (padded to the stride), one slice a call"),
        line("matmul ceiling (same run)", large["matmul_gflops"], "GFLOP/s", note="float32"),
        line("encoder / matmul ceiling", encoder_gflops / large["matmul_gflops"], "ratio"),
        line(f"peak RSS, {sizes[0]} slices", large["peak_rss_mib"], "MiB", note="the encrypting process, TensorFlow included"),
        line(f"peak RSS, {sizes[1]} slices", small["peak_rss_mib"], "MiB"),
        line("peak RSS growth with the folder", growth, "ratio", f"<= {RSS_GROWTH_TARGET:g}", growth <= RSS_GROWTH_TARGET,
             note=f"{sizes[0] / sizes[1]:g} times the slices"),
    ]
    return pd.DataFrame(rows)
