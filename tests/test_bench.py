"""The benchmark finishes on any CPU: without native bfloat16 its bfloat16 rows are skipped and say so."""

import importlib.util
import sys

import pandas as pd
import pytest

from aecrypt.config import PROJ_ROOT


@pytest.fixture
def bench(monkeypatch):
    """benchmarks/bench.py as a module (it imports its neighbour profiling.py)."""
    monkeypatch.syspath_prepend(str(PROJ_ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench", PROJ_ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_cpu_without_native_bfloat16_skips_the_bfloat16_rows_and_says_so(bench, monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "native_bfloat16", lambda: False)
    assert bench.benched_precisions() == ["float32"]
    assert bench.main(["--quick", "--part", "core", "--out", str(tmp_path), "--quality-epochs", "1", "--repeats", "2"]) == 0
    table = pd.read_csv(tmp_path / "bench.csv")
    assert not table["measurement"].str.contains(r"\[mixed_bfloat16\]").any()
    skipped = table[table["section"] == "skipped"]
    assert len(skipped) == 1 and "no native bfloat16" in skipped["note"].iloc[0]
    assert "not measured on this CPU" in (tmp_path / "precision_quality.md").read_text()


def test_a_child_reports_its_own_peak_memory_not_its_parents(bench):
    # getrusage's ru_maxrss survives fork and exec: a spawned child measured that way reported the
    # parent's peak (every scale and throughput phase read 2983 MiB, the cache build's). The child
    # here allocates nothing, after this process has held 600 MiB more than it needs.
    from profiling import in_child, peak_rss_mib

    ballast = bytearray(600 * 2**20)
    ballast[:: 4096] = b"\x01" * len(ballast[:: 4096])  # touch every page, so it is resident
    parent = peak_rss_mib()
    child = in_child(peak_rss_mib)
    del ballast
    assert parent > 600
    assert child < parent - 500


def test_a_cpu_with_native_bfloat16_benchmarks_both(bench, monkeypatch):
    monkeypatch.setattr(bench, "native_bfloat16", lambda: True)
    assert bench.benched_precisions() == ["float32", "mixed_bfloat16"]


@pytest.mark.slow
def test_the_throughput_part_encrypts_a_folder_through_the_command_line_and_times_its_stages(bench, tmp_path):
    from throughput import QUICK_SIZES, STAGES

    assert bench.main(["--quick", "--part", "throughput", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "throughput.csv").set_index("measurement")
    assert table.loc["slices in folder", "value"] == QUICK_SIZES[0] >= 24
    assert f"({QUICK_SIZES[0]} payloads)" in table.loc["slices in folder", "note"]  # every slice encrypted
    assert table.loc["encrypt throughput", "value"] > 0
    shares = table[table.index.str.startswith("share of time: ")]
    assert len(shares) == len(STAGES) + 1 and shares["value"].sum() == pytest.approx(100)
    assert (shares.drop("share of time: other")["value"] > 0).all()  # every stage was reached and timed
    assert 0 < table.loc["encoder / matmul ceiling", "value"] < 2
    for size in QUICK_SIZES:
        assert table.loc[f"peak RSS, {size} slices", "value"] > 100
    assert (tmp_path / "throughput.md").is_file() and (tmp_path / "throughput_run.json").is_file()
