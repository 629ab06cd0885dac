"""REPORT.md, the spread across seeds, and README's generated results block."""

import json

import pandas as pd
import pytest

from aecrypt.config import PROJ_ROOT
from aecrypt.study.readme import README_END, README_START, readme_block, readme_block_in, update_readme
from aecrypt.study.report import seed_folders, seed_spread, write_seed_tables


def _run(folder, seed, ssim):
    """A fake notebook-02 record and reconstruction table for one seed."""
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    (folder / "runs" / "02_train_autoencoder.json").write_text(json.dumps({"parameters": {"seed": seed}}))
    pd.DataFrame({"images": ["test", "training"], "count": [10, 40], "ssim": [ssim, ssim + 0.01],
                  "psnr_db": [30.0, 31.0], "mse": [0.001, 0.0009]}).to_csv(folder / "table_reconstruction.csv", index=False)


def test_seed_spread_gives_mean_and_sd_per_row(tmp_path):
    _run(tmp_path / "seed-0", 0, 0.90)
    _run(tmp_path / "seed-1", 1, 0.92)
    _run(tmp_path / "seed-2", 2, 0.94)
    (tmp_path / "seed-x").mkdir()  # not a seed folder
    assert sorted(seed_folders(tmp_path)) == [0, 1, 2]
    spread = seed_spread(seed_folders(tmp_path), "table_reconstruction", ("images",), ("ssim", "psnr_db")).set_index("images")
    assert spread.loc["test", "ssim_mean"] == pytest.approx(0.92)
    assert spread.loc["test", "ssim_std"] == pytest.approx(0.02)
    assert spread.loc["training", "seeds"] == 3
    assert write_seed_tables(tmp_path) == ["table_seeds_reconstruction"]
    assert (tmp_path / "table_seeds_reconstruction.md").is_file()


def test_one_seed_gives_no_spread(tmp_path):
    _run(tmp_path / "seed-0", 0, 0.9)
    _run(tmp_path, 5, 0.8)  # the run's own folder holds no seed's model
    assert seed_spread(seed_folders(tmp_path), "table_reconstruction", ("images",), ("ssim",)) is None
    assert write_seed_tables(tmp_path) == []


def test_a_noise_level_no_seed_reaches_reads_as_such_not_nan(tmp_path):
    from aecrypt.study.readme import RunColumn, result_rows

    columns = {"noise": ["speckle", "gaussian"], "data": ["test", "test"]}
    pd.DataFrame({**columns, "ssim_noisy": [float("nan"), 0.13], "ssim_pipeline": [float("nan"), 0.4]}).to_csv(
        tmp_path / "table6_matched.csv", index=False)
    pd.DataFrame({**columns, "ssim_noisy_mean": [float("nan"), 0.13], "ssim_noisy_std": [float("nan"), 0.01],
                  "ssim_pipeline_mean": [float("nan"), 0.4], "ssim_pipeline_std": [float("nan"), 0.1]}).to_csv(
        tmp_path / "table_seeds_table6_matched.csv", index=False)
    run = object.__new__(RunColumn)  # the tables alone, without a whole run's records
    run.out = run.first = tmp_path
    run.mismatch = None
    value = run.value("table6_matched", lambda t: t["noise"] == "speckle", "ssim_noisy", "{:.2f}")
    assert value == "" and run.value("table6_matched", lambda t: t["noise"] == "gaussian", "ssim_noisy", "{:.2f}") == "0.13 ± 0.01"
    run.table = lambda name, real=run.table: real(name) if "table6" in name else None
    rows = result_rows(run)
    assert rows["speckle noise at the paper's noisy-input SSIM: SSIM noisy → through the pipeline"][0] == "(no strength reaches it)"
    assert rows["salt and pepper noise at the paper's noisy-input SSIM: MSE noisy → through the pipeline"][1] == "0.00 → 0.00"


def test_byte_counts_stay_whole_numbers_in_tables_and_readme(tmp_path):
    from aecrypt.study.readme import RunColumn, variant_lines
    from aecrypt.study.results import write_table

    table = pd.DataFrame({"claim": ["feature bytes", "reconstruction"], "variant": ["deployed", "deployed"],
                          "mean": [1605632.0, 0.9515], "sd": [float("nan"), 0.0062], "verdict": ["measured once", "holds"]})
    markdown = write_table(table, "table_deployed_variant", tmp_path)["md"].read_text()
    assert " 1605632 |" in markdown and "e+06" not in markdown
    run = object.__new__(RunColumn)
    run.table = lambda name: table if name == "table_deployed_variant" else None
    lines = variant_lines(run)
    assert "| feature bytes | 1,605,632 |" in lines and "| reconstruction | 0.9515 ± 0.0062: holds |" in lines


def test_readme_block_is_what_the_committed_results_give():
    # Every number in README's results section comes from results/default and results/bench;
    # regenerate it with `aecrypt readme` after committing a new run.
    readme = PROJ_ROOT / "README.md"
    assert readme_block_in(readme) == readme_block(PROJ_ROOT / "results", PROJ_ROOT / "results" / "bench")


def test_update_readme_rewrites_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nstale 0.123\n{README_END}\noutro\n")
    update_readme(readme, PROJ_ROOT / "results")
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "stale" not in text
    assert readme_block_in(readme) == readme_block(PROJ_ROOT / "results")


def test_the_papers_contradictions_are_listed_in_report_and_readme():
    from aecrypt.paper import INCONSISTENCIES, inconsistencies_markdown

    table = inconsistencies_markdown()
    assert table.count("\n") == len(INCONSISTENCIES) + 1
    for topic in ("data set size", "time saved", "encoder depth", "units", "decoder upsampling", "row keys"):
        assert f"| {topic} |" in table
    assert table in readme_block(PROJ_ROOT / "results")


def test_readme_shows_the_scale_run_with_its_targets_and_a_dirty_tree(tmp_path):
    from aecrypt.study.readme import scale_lines

    pd.DataFrame([
        {"measurement": "cache build peak RSS", "value": 812.5, "unit": "MiB", "target": "< 3072 MiB", "met": "yes", "note": ""},
        {"measurement": "streamed / in memory", "value": 0.85, "unit": "ratio", "target": ">= 0.9", "met": "NO", "note": ""},
        {"measurement": "cache build time", "value": 93.0, "unit": "s", "target": None, "met": None, "note": ""},
    ]).to_csv(tmp_path / "scale.csv", index=False)
    (tmp_path / "scale_run.json").write_text(json.dumps({"git_commit": "abc1234-dirty"}))
    lines = scale_lines(tmp_path)
    assert "| cache build peak RSS | 812.5 MiB | < 3072 MiB (met) |" in lines
    assert "| streamed / in memory | 0.85 ratio | >= 0.9 (not met) |" in lines
    assert "| cache build time | 93 s |  |" in lines
    assert "uncommitted changes" in lines[0]


def test_readme_shows_the_throughput_run_with_its_cpu_and_targets(tmp_path):
    from aecrypt.study.readme import readme_block, throughput_lines

    pd.DataFrame([
        {"measurement": "encrypt throughput", "value": 16.55, "unit": "img/s", "target": None, "met": None, "note": ""},
        {"measurement": "share of time: encoder", "value": 19.4, "unit": "%", "target": None, "met": None, "note": ""},
        {"measurement": "peak RSS growth with the folder", "value": 1.25, "unit": "ratio", "target": "<= 1.1", "met": "NO", "note": ""},
    ]).to_csv(tmp_path / "throughput.csv", index=False)
    (tmp_path / "throughput_run.json").write_text(json.dumps({"git_commit": "abc1234", "cpu": "AMD EPYC", "cpu_count": 2}))
    lines = throughput_lines(tmp_path)
    assert "| encrypt throughput | 16.55 img/s |  |" in lines and "| share of time: encoder | 19.4 % |  |" in lines
    assert "| peak RSS growth with the folder | 1.25 ratio | <= 1.1 (not met) |" in lines
    assert "AMD EPYC (2 cores), commit `abc1234`." in lines[0] and "uncommitted" not in lines[0]
    assert "\n".join(lines) in readme_block(PROJ_ROOT / "results", bench=tmp_path)


def test_the_training_line_says_how_the_learning_rate_moved():
    from aecrypt.study.report import _schedule_words

    assert _schedule_words(pd.Series({"learning_rate_schedule": "cosine"})) == " with the learning rate cosine-decayed over the epochs"
    assert _schedule_words({"learning_rate_schedule": "constant"}) == " at a constant learning rate"
    assert _schedule_words(pd.Series({"epochs_run": 20})) == ""  # a record from before schedules says nothing
