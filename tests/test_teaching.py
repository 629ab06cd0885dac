"""The teacher's kit (aecrypt.study.teaching): lectures parsed from the notebooks, every
exercise's outcome and runtime read from the committed run (and its solutions variants)
rather than typed, the syllabus, and the solutions run's checks."""

import json
import shutil

import pandas as pd
import pytest

from aecrypt import config
from aecrypt.errors import ParameterError
from aecrypt.progress import LIVE_ENV
from aecrypt.study.notebooks import notebook_paths
from aecrypt.study.plan import check_overrides, select_notebooks
from aecrypt.study.teaching import exercises, solutions
from aecrypt.study.teaching.committed import CommittedRun, duration
from aecrypt.study.teaching.lectures import lectures, numbered_items
from aecrypt.study.teaching.syllabus import PREREQUISITES, exercises_markdown, syllabus_markdown

#: The repository's committed default run (the tests point config.RESULTS_DIR elsewhere).
COMMITTED = config.PROJ_ROOT / "results" / "default"


def test_numbered_items_keep_each_collapsed_answer_apart():
    text = ("## Try it\n\nIntro 2. not an item.\n\n1. **First.** Set `seed = 1`\n   and look.\n\n"
            "   <details><summary>Worked answer</summary>\n\n   Because\n   of this.\n\n   Second paragraph.\n\n   </details>\n\n"
            "2. **Second.** No answer.\n")
    items = numbered_items(text)
    assert [i.title for i in items] == ["First", "Second"]
    assert items[0].text == "**First.** Set `seed = 1` and look." and items[0].answer == "Because\nof this.\n\nSecond paragraph."
    assert items[1].answer == ""


def test_every_notebook_is_a_lecture_with_objectives_exercises_and_self_check():
    read = lectures()
    assert [lecture.path for lecture in read] == notebook_paths()
    for lecture in read:
        assert lecture.title.startswith(lecture.number) and lecture.summary and 2 <= len(lecture.objectives) <= 3
        assert all(item.answer for item in lecture.exercises + lecture.self_check), lecture.stem
    assert set(PREREQUISITES) == {lecture.number for lecture in read}


def test_study_exercises_state_the_committed_tables_numbers():
    run = CommittedRun(COMMITTED)
    gaps = pd.read_csv(COMMITTED / "table_leakage_by_gap.csv").set_index("split")
    runtime, outcome = exercises.expected("01_data_prep", 1, run)
    assert runtime.startswith(f"about {duration(json.loads((COMMITTED / 'runs' / 'study.json').read_text())['seconds']['01_data_prep'])}")
    assert f"median nearest-training SSIM {gaps.loc['random (old)', 'median_ssim']:.3f}" in outcome[0]
    seed1 = pd.read_csv(COMMITTED / "seed-1" / "table_reconstruction.csv").iloc[0]
    _, outcome = exercises.expected("02_train_autoencoder", 3, run)
    assert f"seed 1: test SSIM {seed1['ssim']:.3f}" in outcome[0]
    for (notebook, number), answer in exercises.ANSWERS.items():
        if answer.variant == "main":  # answered by the study itself: every number is there
            runtime, outcome = exercises.expected(notebook, number, run)
            assert "not known" not in runtime + " ".join(outcome), (notebook, number)


def _committed_copy(tmp_path):
    """The committed run's tables and records, without its solutions variants."""
    out = tmp_path / "default"
    shutil.copytree(COMMITTED, out, ignore=shutil.ignore_patterns("*.png", "*.pdf", "*.npz", "executed", "slides", *solutions.VARIANTS))
    return out


def test_variant_exercises_say_what_makes_them_until_the_solutions_run_is_committed(tmp_path):
    runtime, outcome = exercises.expected("02_train_autoencoder", 2, CommittedRun(_committed_copy(tmp_path)))
    assert runtime.startswith("not known yet") and outcome[0].startswith("not known yet")
    assert "`make solutions` (variant pool2) makes it" in outcome[0]


def _with_variant(tmp_path, name: str, **params) -> CommittedRun:
    """The committed run copied, with a solutions variant made from its first seed's files."""
    out = _committed_copy(tmp_path)
    variant = out / name / "seed-0"
    shutil.copytree(out / "seed-0", variant)
    record = json.loads((variant / "runs" / "02_train_autoencoder.json").read_text())
    record["parameters"].update(params, run_name=name)
    (variant / "runs" / "02_train_autoencoder.json").write_text(json.dumps(record))
    (out / name / "runs").mkdir()
    (out / name / "runs" / solutions.SOLUTIONS_RECORD).write_text(json.dumps(
        {"cpu": "Test CPU", "cpu_count": 2, "seconds": {"02_train_autoencoder": 300.0, "05_noise_robustness": 30.0}}))
    return CommittedRun(out)


def test_variant_exercises_read_the_solutions_run(tmp_path):
    run = _with_variant(tmp_path, "pool2", pooling_stages=2)
    runtime, outcome = exercises.expected("05_noise_robustness", 1, run)
    assert runtime == "about 5.5 min (02 5.0 min + 05 30 s) on Test CPU, 2 cores"
    assert outcome[0].startswith("SSIM through the `pool2` pipeline: salt_pepper ")
    _, outcome = exercises.expected("02_train_autoencoder", 2, run)
    side = json.loads((COMMITTED / "seed-0" / "runs" / "02_train_autoencoder.json").read_text())["parameters"]["image_size"] // 4
    assert f"features per image {side}×{side}×3, {side * side * 3 * 4:,} bytes" in outcome[1]


def test_the_last_cell_points_elsewhere_while_a_new_committed_run_is_made(monkeypatch):
    monkeypatch.setenv(LIVE_ENV, "1")
    assert exercises.expected_markdown("01_data_prep", CommittedRun(COMMITTED)) == exercises.ELSEWHERE
    monkeypatch.delenv(LIVE_ENV)
    shown = exercises.expected_markdown("01_data_prep", CommittedRun(COMMITTED))
    assert shown.startswith("Expected outcomes from the committed run") and shown.count("**Runs in**") == 3


def test_syllabus_gives_each_lecture_in_order_with_its_committed_runtime():
    run, read = CommittedRun(COMMITTED), lectures()
    page = syllabus_markdown(read, run, lambda lecture: f"lectures/{lecture.path.name}", "exercises.md")
    seconds = json.loads((COMMITTED / "runs" / "study.json").read_text())["seconds"]
    positions = [page.index(f"## {lecture.title}") for lecture in read]
    assert positions == sorted(positions)
    assert f"| [{read[1].title}](lectures/{read[1].path.name}) | {duration(seconds['02_train_autoencoder (seed 0)'])}" in page  # the first training seed's run
    assert all(f"- {objective}" in page for lecture in read for objective in lecture.objectives)
    page = exercises_markdown(read, run, lambda lecture: f"lectures/{lecture.path.name}")
    assert page.count("<details><summary>Worked answer</summary>") == sum(len(lecture.exercises) for lecture in read)


def test_solutions_variants_are_checked_before_anything_runs():
    for variant in solutions.VARIANTS.values():
        overrides = {**variant.overrides, "run_name": variant.run_name}
        check_overrides(select_notebooks(list(variant.notebooks)), overrides)  # raises on an unknown parameter
        assert variant.notebooks[0] == "02"  # each trains its own model first
    with pytest.raises(ParameterError, match="no solutions variant named wider"):
        solutions.run_solutions("default", ["wider"])
    with pytest.raises(ParameterError, match="unknown profile"):
        solutions.run_solutions("huge")


@pytest.mark.notebooks
def test_a_solutions_variant_runs_and_its_exercises_read_it(tmp_path, monkeypatch):
    # The "wide" variant at smoke size, through the workflow as a named run, into a results folder of its own.
    for name, attribute in (("AECRYPT_RESULTS_DIR", "RESULTS_DIR"), ("AECRYPT_MODELS_DIR", "MODELS_DIR"), ("AECRYPT_DATA_DIR", "DATA_DIR")):
        monkeypatch.setenv(name, str(tmp_path / attribute.lower()))
        monkeypatch.setattr(config, attribute, tmp_path / attribute.lower())
    seconds = solutions.run_solutions("smoke", ["wide"])["wide"]
    assert list(seconds) == ["02_train_autoencoder", "06_security_analysis"]
    folder = solutions.variant_folder("smoke", "wide")
    assert json.loads((folder / "runs" / solutions.SOLUTIONS_RECORD).read_text())["seconds"] == seconds
    assert (folder / "seed-0" / "table_substitute_decoder.csv").is_file()
    assert not (config.results_dir("smoke") / "REPORT.md").exists()  # the main run's report is left alone
