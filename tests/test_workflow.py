"""The study's workflow (``aecrypt reproduce`` on Snakemake): what it plans, what it reruns
and why, runs that stay in their lane, and provenance that tells the truth.

The fast tests check the plan, the reasons a job runs and the SLURM submissions (a dry
run: no cluster is reachable here). The ``notebooks`` tests work on copies of the
session's smoke study (conftest's ``smoke_project``, seeds 0 and 1)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from aecrypt import config
from aecrypt.errors import ModelFileError, ParameterError
from aecrypt.study import profiles
from aecrypt.study.freshness import REPORT, job_reasons, left_behind, package_hash, pending
from aecrypt.study.plan import TF_THREADS, make_plan
from aecrypt.study.workflow import parse_dry_run, reproduce
from clirun import aecrypt
from smokeproject import copy_project, copy_study, environment, git, jobs_run, tables_of
from smokeproject import reproduce as reproduce_in

# -------------------------------------------------------------------- plans and checks


def _one_line_refusal(*args: str) -> str:
    """The first line of ``aecrypt reproduce ARGS``'s error; nothing may have been run."""
    result = aecrypt("reproduce", *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert not config.RESULTS_DIR.exists()
    return result.stderr.splitlines()[0]


@pytest.mark.parametrize("name", ["../x", "../../../tmp/x", "a/b", "seed-1", "runs", "executed", "figure_data", "slides", "scratch", ".x", ""])
def test_a_run_name_that_would_leave_its_folder_is_refused(name):
    line = _one_line_refusal("--profile", "smoke", "--only", "02", "-p", "run_name", name)
    assert "run_name must be a plain name" in line and "nothing was run" in line


def test_the_profile_is_set_only_by_its_option():
    assert "set with --profile" in _one_line_refusal("--profile", "smoke", "--only", "02", "-p", "profile", "default")
    assert "leave out -p publish" in _one_line_refusal("--profile", "smoke", "-p", "publish", "False")
    assert "--cores takes a whole number" in _one_line_refusal("--profile", "smoke", "--cores", "0")


def test_a_profile_names_its_full_and_partial_seeds():
    plan = make_plan("default")
    assert [job.label for job in plan.jobs] == [
        "01_data_prep", "02_train_autoencoder (seed 0)", "02_train_autoencoder (seed 1)", "02_train_autoencoder (seed 2)",
        "03_encrypt_decrypt (seed 0)", "04_timing (seed 0)", "04_timing (seed 1)", "04_timing (seed 2)",
        "05_noise_robustness (seed 0)", "05_noise_robustness (seed 1)",
        "05_noise_robustness (seed 2)", "06_security_analysis (seed 0)", "06_security_analysis (seed 1)", "06_security_analysis (seed 2)"]
    assert {job.seed for job in make_plan("default", seeds=[4, 5]).jobs if job.notebook == "03_encrypt_decrypt"} == {4}
    paper = {job.label: job.parameters for job in make_plan("paper").jobs}  # the whole study for seed 0, Table 6 as the paper's for 1 and 2
    assert paper["05_noise_robustness (seed 1)"]["noise_scope"] == "paper" and "noise_scope" not in paper["05_noise_robustness (seed 0)"]
    assert "06_security_analysis (seed 2)" not in paper and "06_security_analysis (seed 0)" in paper


def test_the_main_run_brings_its_variants_up_to_date_first():
    from aecrypt.study.workflow import variants_to_run

    assert [name for name, _ in variants_to_run("default", None, {})] == ["deployed"]
    assert variants_to_run("default", ["02"], {}) == [] and variants_to_run("default", None, {"run_name": "wide"}) == []
    deployed = dict(variants_to_run("default", None, {}))["deployed"]
    plan = make_plan("default", only=list(deployed["notebooks"]), overrides={**deployed["parameters"], "run_name": "deployed"})
    chosen = [job for job in plan.jobs if job.key in plan.selected]
    assert {job.notebook for job in chosen} == set(deployed["notebooks"])
    assert all(job.parameters.get("bottleneck", 0) == 0 for job in chosen)
    assert plan.job("06_security_analysis/seed-1").parameters["attack_bounds"] is False


def test_partial_seeds_take_their_extra_parameters_and_the_users_win(monkeypatch):
    partial = {"02_train_autoencoder": {}, "05_noise_robustness": {"bm3d_images": 0, "sweep_points": 3}}
    monkeypatch.setitem(profiles.PROFILES, "smoke", {**profiles.PROFILES["smoke"], "partial_notebooks": partial})
    plan = make_plan("smoke", seeds=[0, 1], overrides={"sweep_points": 4})
    by_label = {job.label: job.parameters for job in plan.jobs}
    assert by_label["05_noise_robustness (seed 1)"] == {"profile": "smoke", "bm3d_images": 0, "sweep_points": 4, "publish": True,
                                                        "run_name": "main", "seed": 1}
    assert by_label["05_noise_robustness (seed 0)"]["sweep_points"] == 4 and "bm3d_images" not in by_label["05_noise_robustness (seed 0)"]
    assert "06_security_analysis (seed 1)" not in by_label
    monkeypatch.setitem(profiles.PROFILES, "smoke", {**profiles.PROFILES["smoke"], "partial_notebooks": {"05_noise_robustness": {"epochs": 2}}})
    with pytest.raises(ParameterError, match="05_noise_robustness declares no parameter epochs"):
        make_plan("smoke", seeds=[0, 1])


def test_a_named_run_lives_in_its_own_folders():
    plan = make_plan("smoke", only=["02", "05"], overrides={"run_name": "wide"})
    for job in plan.jobs:
        assert config.RESULTS_DIR / "smoke" / "wide" in [job.folder, *job.folder.parents], job.label
        assert job.models is None or job.models == config.MODELS_DIR / "smoke" / "wide" / "seed-0"
    assert plan.report == config.RESULTS_DIR / "smoke" / "wide" / "REPORT.md"
    with pytest.raises(ModelFileError, match=r"not trained; train it first: aecrypt reproduce --profile smoke --only 02 --seeds 0 -p run_name wide"):
        make_plan("smoke", only=["05"], overrides={"run_name": "wide"})


def _finished(job, package: str, **record) -> None:
    """Outputs and a record for a job, as if it had run with the code and parameters now."""
    from aecrypt.study.freshness import file_hash, job_stamp

    for path in job.outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"written": time.perf_counter_ns()}))  # another model, another manifest
    inputs = {role: file_hash(path) for role, path in job.reads.items()}
    job.record.write_text(json.dumps({"workflow": {**job_stamp(job, package), "inputs": inputs, **record}}))


def test_a_job_runs_when_its_code_parameters_or_input_changed():
    plan, package = make_plan("smoke"), package_hash()
    for job in plan.jobs:  # the model first: 03 to 06 record its hash
        _finished(job, package)
    assert list(pending(plan, package)) == ["report"]
    assert list(pending(make_plan("smoke", only=["04"]), package, force=True)) == ["04_timing/seed-0", REPORT]
    train, timing = plan.job("02_train_autoencoder/seed-0"), plan.job("04_timing/seed-0")
    assert job_reasons(timing, "another") == ["changed code: the aecrypt package"]
    _finished(train, package, parameters={**train.parameters, "epochs": 3})
    assert job_reasons(train, package) == ["changed parameters: epochs (3 → 'unset')"]
    assert job_reasons(timing, package) == ["changed input: the model in " + str(train.models)]
    todo = pending(make_plan("smoke", only=["02"]), package)
    assert todo["04_timing/seed-0"] == ["its input is rerun: 02_train_autoencoder (seed 0)"] and REPORT in todo
    only_03 = make_plan("smoke", only=["03"])  # 02 stays out of date, and says so
    assert left_behind(only_03, package, pending(only_03, package))["02_train_autoencoder/seed-0"][0].startswith("changed parameters")
    _finished(train, package, tf_threads=TF_THREADS + 1)
    assert job_reasons(train, package) == [f"changed TensorFlow thread count ({TF_THREADS + 1} → {TF_THREADS})"]
    train.executed.unlink()
    (train.executed.parent / f".running-{train.executed.name}").write_text("")
    assert job_reasons(train, package) == ["stopped part-way last time"]


def test_keep_finished_runs_only_what_is_missing_whatever_changed():
    # a long run resumed across sessions: its finished jobs stay, made by their own commit
    plan, package = make_plan("smoke"), package_hash()
    for job in plan.jobs:
        _finished(job, package)
    train = plan.job("02_train_autoencoder/seed-0")
    _finished(train, package, parameters={**train.parameters, "epochs": 3})
    assert "02_train_autoencoder/seed-0" in pending(plan, "another package")
    assert list(pending(plan, "another package", keep=True)) == ["report"]
    plan.job("05_noise_robustness/seed-0").executed.unlink()
    assert list(pending(plan, "another package", keep=True)) == ["05_noise_robustness/seed-0", "report"]
    with pytest.raises(ParameterError, match="give one of the two"):
        reproduce("smoke", force=True, keep_finished=True)


def test_the_package_hash_covers_the_modules_notebooks_run(tmp_path):
    package = tmp_path / "aecrypt"
    for name in ("config.py", "study/runs.py", "study/styles/paper.mplstyle", "cli/main.py"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(name)
    before = package_hash(package)
    (package / "cli" / "main.py").write_text("the command line changed")
    assert package_hash(package) == before
    (package / "study" / "styles" / "paper.mplstyle").write_text("font.size: 7")
    assert package_hash(package) != before


def test_the_dirty_check_looks_at_code_only_and_a_run_passes_its_commit_on(tmp_path, monkeypatch):
    from aecrypt.study.results import COMMIT_ENV, git_commit

    for name in ("aecrypt/x.py", "results/default/table.csv", "models/default/main/seed-0/encoder.keras", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("one")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "x")
    monkeypatch.setattr(config, "PROJ_ROOT", tmp_path)
    monkeypatch.delenv(COMMIT_ENV, raising=False)
    for name in ("results/default/table.csv", "models/default/main/seed-0/encoder.keras", "README.md"):
        (tmp_path / name).write_text("two")
    assert not git_commit().endswith("-dirty")
    (tmp_path / "aecrypt" / "x.py").write_text("two")
    assert git_commit().endswith("-dirty")
    monkeypatch.setenv(COMMIT_ENV, "abc1234")
    assert git_commit() == "abc1234"


def test_written_results_take_the_users_umask(tmp_path):
    from aecrypt.study.readme import README_END, README_START, update_readme
    from aecrypt.study.results import write_table

    previous = os.umask(0o022)
    try:
        paths = write_table(pd.DataFrame({"a": [1]}), "table_x", tmp_path)
        readme = tmp_path / "README.md"
        readme.write_text(f"{README_START}\n{README_END}\n")
        os.chmod(readme, 0o600)
        update_readme(readme, config.PROJ_ROOT / "results")
    finally:
        os.umask(previous)
    for path in [*paths.values(), readme]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_executed_copies_record_no_machine_path(tmp_path):
    from aecrypt.study.notebooks import clean_executed

    nb = nbformat.v4.new_notebook(metadata={"papermill": {"input_path": str(config.NOTEBOOKS_DIR / "04_timing.ipynb"),
                                                          "output_path": str(tmp_path / ".running-04_timing.ipynb")}})
    path = tmp_path / ".running-04_timing.ipynb"
    nbformat.write(nb, path)
    clean_executed(path, config.NOTEBOOKS_DIR / "04_timing.ipynb", config.PROJ_ROOT / "results" / "x" / "04_timing.ipynb")
    papermill = nbformat.read(path, as_version=4).metadata.papermill
    assert (papermill.input_path, papermill.output_path) == ("notebooks/04_timing.ipynb", "results/x/04_timing.ipynb")
    clean_executed(path, config.NOTEBOOKS_DIR / "04_timing.ipynb", tmp_path / "04_timing.ipynb")  # outside the project: its name
    assert nbformat.read(path, as_version=4).metadata.papermill.output_path == "04_timing.ipynb"


def test_seeds_made_by_other_code_or_parameters_are_not_averaged(tmp_path):
    from aecrypt.study.report import write_seed_tables

    for seed, package, epochs in ((0, "a", 16), (1, "a", 16), (2, "b", 16)):
        runs = tmp_path / f"seed-{seed}" / "runs"
        runs.mkdir(parents=True)
        record = {"git_commit": f"c{package}", "workflow": {"notebook": "n", "package": package,
                                                             "parameters": {"seed": seed, "epochs": epochs, "run_name": "main"}}}
        (runs / "02_train_autoencoder.json").write_text(json.dumps(record))
        pd.DataFrame({"images": ["test"], "ssim": [0.9 + seed / 100]}).to_csv(tmp_path / f"seed-{seed}" / "table_reconstruction.csv", index=False)
    (tmp_path / "table_seeds_reconstruction.csv").write_text("stale")
    assert write_seed_tables(tmp_path) == []
    assert not (tmp_path / "table_seeds_reconstruction.csv").exists()
    from aecrypt.study.provenance import seed_folders, seed_mismatch

    message = seed_mismatch(seed_folders(tmp_path))
    assert message.startswith("Seeds 0, 1, 2 are not aggregated: seed 2's 02_train_autoencoder was made with other code (commit cb, not ca)")
    assert "\n" not in message


def test_parse_dry_run_reads_snakemakes_listing():
    text = ("Job stats:\n[Mon]\nrule train_autoencoder:\n    output: a, b\n    jobid: 2\n    reason: Missing output files: a\n"
            "    wildcards: profile=smoke, seed=1\n    resources: tmpdir=<TBD>, cpus_per_task=2, mem_mb=2000, gpu=1\n"
            "localrule report:\n    input: a\n    resources: tmpdir=<TBD>\nThis was a dry-run (flag -n).\n")
    jobs = parse_dry_run(text)
    assert [(job["rule"], job["local"]) for job in jobs] == [("train_autoencoder", False), ("report", True)]
    assert jobs[0]["wildcards"] == {"profile": "smoke", "seed": "1"} and jobs[0]["resources"]["gpu"] == "1"


def test_the_slurm_dry_run_shows_one_submission_per_job_with_its_resources(tmp_path):
    # No cluster is reachable here: Snakemake's own dry run with the SLURM profile
    # (workflow/profiles/slurm) lists what it would submit.
    outcome = reproduce("smoke", seeds=[0, 1], dry_run=True, slurm=True)
    submitted = {job["key"]: job for job in outcome.submissions}
    assert set(submitted) == {job.key for job in outcome.plan.jobs} | {REPORT}
    for job in outcome.plan.jobs:
        resources = submitted[job.key]["resources"]
        assert resources["cpus_per_task"] == str(TF_THREADS) and int(resources["mem_mb"]) > 0 and int(resources["runtime"]) > 0
        assert (resources.get("gpu") == "1") == job.trains, job.label
        assert not submitted[job.key]["local"]


def test_the_slurm_dry_run_prints_the_submissions():
    result = aecrypt("reproduce", "--profile", "smoke", "--slurm", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "dry run for profile smoke, run main, seed 0: 7 of 7 job(s) would be submitted to SLURM"
    submissions = [line.strip() for line in lines if line.strip().startswith("sbatch: ")]
    assert len(submissions) == 6 and sum("gpu=1" in line for line in submissions) == 1
    assert "  report: its inputs are rerun\n      runs on this machine (a local rule)" in result.stdout


# -------------------------------------------------------------------- runs (smoke size)


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.notebooks
def test_a_second_run_runs_nothing(smoke_project, smoke_data):
    project, _ = smoke_project
    before = _tree(project / "results") | _tree(project / "models")
    again = reproduce_in(project, smoke_data, "--seeds", "0,1")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing to do") and jobs_run(again.stdout) == []
    assert _tree(project / "results") | _tree(project / "models") == before


@pytest.mark.notebooks
def test_every_training_seed_is_tested_on_the_same_split(smoke_project):
    # issue 27: split_seed draws the split, the training seed the weights; the same test images in every seed
    project, _ = smoke_project
    manifests = [json.loads(path.read_text()) for path in sorted((project / "models" / "smoke" / "main").glob("seed-*/manifest.json"))]
    assert len(manifests) == 2
    assert len({m["data"]["test_hash"] for m in manifests}) == 1 and len({m["data"]["train_hash"] for m in manifests}) == 1
    assert len({m["parameters"]["seed"] for m in manifests}) == 2  # different training seeds
    assert manifests[0]["data"]["test_images"] == manifests[1]["data"]["test_images"]


@pytest.mark.notebooks
def test_a_clean_clone_is_marked_clean_writes_0644_and_records_no_machine_path(smoke_project):
    project, _ = smoke_project
    records = [json.loads(p.read_text()) for p in (project / "results" / "smoke").rglob("runs/*.json")]
    assert len(records) == 10 and not [r["git_commit"] for r in records if r["git_commit"].endswith("-dirty")]
    report = (project / "results" / "smoke" / "REPORT.md").read_text()
    assert "uncommitted changes" not in report and "Seeds 0, 1: the `table_seeds_*` tables" in report
    written = [p for p in (project / "results" / "smoke").rglob("*") if p.is_file() and p.suffix != ".log"]
    assert [str(p) for p in written if stat.S_IMODE(p.stat().st_mode) != 0o644] == []
    texts = [p for p in [*written, *(project / "models" / "smoke").rglob("*.json")] if p.suffix in (".json", ".ipynb", ".md", ".csv", ".tex")]
    assert [str(p) for p in texts if str(project) in p.read_text()] == []
    assert not list((project / "results" / "smoke").rglob(".running-*"))


@pytest.mark.notebooks
def test_a_fresh_clone_treats_the_committed_results_as_done(smoke_project, smoke_data, tmp_path):
    # Committed results, cloned: no .snakemake/ metadata, every file with its checkout time.
    project, _ = smoke_project
    source = copy_study(project, tmp_path / "source")
    git(source, "add", "-f", "results/smoke", "models/smoke")
    git(source, "commit", "-q", "-m", "the smoke run")
    subprocess.run(["git", "clone", "-q", str(source), str(tmp_path / "clone")], check=True)
    clone = tmp_path / "clone"
    done = reproduce_in(clone, smoke_data, "--seeds", "0,1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nothing to do"), done.stdout
    assert git(clone, "status", "--porcelain") == ""


@pytest.mark.notebooks
def test_an_edited_notebook_reruns_itself_and_the_report_and_the_seeds_are_not_mixed(smoke_project, smoke_data, tmp_path):
    project = copy_study(smoke_project[0], tmp_path / "project")
    path = project / "notebooks" / "05_noise_robustness.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("An edit."))
    nbformat.write(nb, path)
    done = reproduce_in(project, smoke_data, "--seeds", "0")  # seed 1's copy of 05 is left as it was
    assert done.returncode == 0, done.stderr
    assert jobs_run(done.stdout) == ["05_noise_robustness (seed 0)", "report"]
    report = (project / "results" / "smoke" / "REPORT.md").read_text()
    assert "Seeds 0, 1 are not aggregated: seed 1's 05_noise_robustness was made with other code" in report
    assert not list((project / "results" / "smoke").glob("table_seeds_*"))


#: Runs a dry run in a project with its own package and prints what it found, as JSON.
DRY_RUN = """import json
from aecrypt.study.workflow import reproduce
outcome = reproduce("smoke", seeds=[0, 1], overrides={"epochs": 2}, dry_run=True)
print(json.dumps({"jobs": [job.key for job in outcome.plan.jobs], "todo": outcome.todo,
                  "snakemake": [job["key"] for job in outcome.submissions]}))
"""


@pytest.mark.notebooks
def test_a_changed_parameter_of_02_reruns_02_to_06(smoke_project, smoke_data):
    project, _ = smoke_project
    done = subprocess.run([sys.executable, "-c", DRY_RUN], cwd=project, env=environment(project, smoke_data),
                          capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.splitlines()[-1])
    assert list(found["todo"]) == [key for key in found["jobs"] if not key.startswith("01_")] + [REPORT]
    assert found["todo"]["02_train_autoencoder/seed-1"] == ["changed parameters: epochs ('unset' → 2)"]
    assert found["todo"]["05_noise_robustness/seed-1"] == ["its input is rerun: 02_train_autoencoder (seed 1)"]
    assert sorted(found["snakemake"]) == sorted(found["todo"])  # Snakemake's own dry run agrees


def _descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (kernels start sessions of their own)."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.notebooks
def test_a_killed_run_resumes_where_it_stopped(smoke_project, smoke_data, tmp_path):
    project = copy_study(smoke_project[0], tmp_path / "project")
    seed_0 = project / "results" / "smoke" / "seed-0"
    for name in ("03_encrypt_decrypt", "04_timing"):  # as if the run had finished 01 and 02 only
        (seed_0 / "executed" / f"{name}.ipynb").unlink()
    command = [sys.executable, "-m", "aecrypt.cli.main", "reproduce", "--profile", "smoke", "--seeds", "0,1"]
    run = subprocess.Popen(command, cwd=project, env=environment(project, smoke_data), stdout=subprocess.PIPE, text=True,
                           start_new_session=True)
    for line in run.stdout:
        if line.startswith("[") and "03_encrypt_decrypt" in line:
            break
    time.sleep(5)  # notebook 03 is running
    processes = [run.pid, *_descendants(run.pid)]
    for pid in processes:  # kill -9, as a power cut would
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    run.wait()
    assert not (seed_0 / "executed" / "03_encrypt_decrypt.ipynb").exists()
    again = reproduce_in(project, smoke_data, "--seeds", "0,1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert jobs_run(again.stdout) == ["03_encrypt_decrypt (seed 0)", "04_timing (seed 0)", "report"]


@pytest.mark.notebooks
def test_seeds_side_by_side_give_the_serial_tables(smoke_project, smoke_data, tmp_path):
    # Two jobs at once on two cores: each TensorFlow keeps its fixed thread count, so the
    # tables are those of the serial run byte for byte (timing columns aside).
    project = copy_project(tmp_path / "project")
    done = reproduce_in(project, smoke_data, "--seeds", "0,1", "--cores", "2", "--only", "02,05,06")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(seed 1): done in" in done.stdout  # with jobs side by side, each end line names its job
    serial, parallel = tables_of(smoke_project[0] / "results" / "smoke"), tables_of(project / "results" / "smoke")
    assert len(parallel) >= 24
    for name, table in parallel.items():
        expected = serial[name]
        if name == "table_verdicts":  # the claims notebook 04 decides (timing, less data) are not in this --only run
            expected = expected[expected["claim"].isin(table["claim"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(table, expected, obj=name)


@pytest.mark.notebooks
def test_a_named_run_leaves_the_main_run_as_it_was(smoke_project, smoke_data, tmp_path):
    project = copy_study(smoke_project[0], tmp_path / "project")
    main = {"results": _tree(project / "results" / "smoke"), "models": _tree(project / "models" / "smoke" / "main")}
    refused = reproduce_in(project, smoke_data, "--only", "05", "-p", "run_name", "long", "-p", "denoise_epochs", "3")
    assert refused.returncode != 0 and "train it first: aecrypt reproduce --profile smoke --only 02" in refused.stderr
    done = reproduce_in(project, smoke_data, "--seeds", "0", "--only", "02,05", "-p", "run_name", "long", "-p", "denoise_epochs", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    lane = project / "results" / "smoke" / "long"
    assert (lane / "REPORT.md").is_file() and (lane / "seed-0" / "table6_noise_robustness.csv").is_file()
    assert (project / "models" / "smoke" / "long" / "seed-0" / "manifest.json").is_file()
    after = _tree(project / "results" / "smoke")
    assert {name: digest for name, digest in after.items() if not name.startswith("long/")} == main["results"]
    assert _tree(project / "models" / "smoke" / "main") == main["models"]
    assert "denoise_epochs=3" in (lane / "REPORT.md").read_text()
