"""What every study notebook does first: read its parameters, record the run, find the model.

Keeps notebooks thin. ``start`` reads the notebook's own parameters cell (so each
parameter is declared once), checks each value's type, fills the ones left as ``None``
from the profile, and writes the run's parameters, package versions, CPU and commit
beside the results. Notebook 02 saves the trained encoder and decoder with a manifest of
everything that fixed their data; notebooks 03-06 take their data parameters from that
manifest, so no two notebooks can disagree about which images are test images.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecrypt import config, progress
from aecrypt.config import RUNS_FOLDER
from aecrypt.errors import ManifestMismatchError, ModelFileError
from aecrypt.study.parameters import SEED_FOLDER_PREFIX, check_values, declared_parameters
from aecrypt.study.profiles import FIGURE_STYLES, PROFILES, resolve
from aecrypt.study.results import run_metadata, write_json

ENCODER_FILE = "encoder.keras"
DECODER_FILE = "decoder.keras"
MANIFEST_FILE = "manifest.json"
#: The notebook that trains and saves the model; the others that name a run_name load it.
TRAINING_NOTEBOOK = "02_train_autoencoder"
#: Everything that fixes which images a model was trained, validated and tested on.
DATA_PARAMETERS = (
    "dataset", "data_dir", "image_size", "max_images", "per_class", "test_fraction",
    "validation_fraction", "fundus_crop", "split", "guard_mm", "split_seed",
)
MAIN_RUN = "main"
#: Sub-folder of models/ for models trained outside ``aecrypt reproduce``.
SCRATCH = "scratch"


@dataclass
class Run:
    """One notebook's run: its resolved parameters, where its outputs go, its model's manifest."""

    notebook: str
    params: dict[str, Any]
    out: Path
    manifest: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    models: Path = Path()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.params[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def smoke(self) -> bool:
        """Whether this is a smoke run, whose numbers only check the plumbing."""
        return self.params["profile"] == "smoke"


def seed_folder(seed: int) -> str:
    """The name of one training seed's folder (``seed-0``): every training seed's outputs and model live in one."""
    return f"{SEED_FOLDER_PREFIX}{seed}"


def model_folder(profile: str, run_name: str = MAIN_RUN, publish: bool = True, seed: int = 0) -> Path:
    """Where one training seed's encoder, decoder and manifest live:
    ``models/<profile>/<run_name>/seed-<n>/`` for ``aecrypt reproduce`` (the default
    profile's main models are committed), else the git-ignored ``models/scratch/...``, so
    training by hand never replaces a published model."""
    base = config.models_dir(profile) if publish else config.MODELS_DIR / SCRATCH / profile
    return base / run_name / seed_folder(seed)


def model_source(notebook: str, profile: str, run_name: str, publish: bool, seed: int) -> Path:
    """The model a notebook uses: notebook 02 saves where ``publish`` says; the others load
    a hand-trained model (``models/scratch/...``) when one exists, else the published one."""
    if publish or notebook == TRAINING_NOTEBOOK:
        return model_folder(profile, run_name, publish, seed)
    scratch = model_folder(profile, run_name, False, seed)
    return scratch if (scratch / MANIFEST_FILE).is_file() else model_folder(profile, run_name, True, seed)


def output_folder(profile: str, run_name: str = MAIN_RUN, publish: bool = False, seed: int | None = None) -> Path:
    """``results/<profile>[/<run_name>][/seed-<n>]`` when publishing (``aecrypt reproduce``),
    else the same under the git-ignored ``results/scratch/``, so ad-hoc runs never touch
    committed results. What does not depend on a training seed (the data, notebook 01; the
    report and the spread across seeds) lies in the run's folder, each seed's outputs in
    its ``seed-<n>/``."""
    base = config.results_dir(profile) if publish else config.scratch_dir(profile)
    run = base if run_name == MAIN_RUN else base / run_name
    return run if seed is None else run / seed_folder(seed)


def notebook_path(notebook: str) -> Path:
    """The study notebook of that name."""
    return config.NOTEBOOKS_DIR / f"{notebook}.ipynb"


def start(notebook: str, namespace: Mapping[str, Any]) -> Run:
    """Read the notebook's parameters from ``namespace`` (its ``globals()``), check and
    resolve them, check them against the trained model's manifest, and record the run."""
    declared = declared_parameters(notebook_path(notebook))
    given = check_values({name: namespace[name] for name in declared if name in namespace}, declared)
    explicit = {name: value for name, value in given.items() if value is not None}
    profile = given.pop("profile")
    params = resolve(profile, **given)
    manifest = None
    if "seed" in declared and params.get("seed") is None:  # the profile's first training seed's model
        params["seed"] = PROFILES[profile]["seeds"][0]
    seed = params.get("seed") if "seed" in declared else None
    models = model_source(notebook, profile, params.get("run_name", MAIN_RUN), bool(params.get("publish")), seed or 0)
    if seed is not None and "run_name" in declared and notebook != TRAINING_NOTEBOOK:  # 03 to 06 read 02's model
        manifest = read_manifest(models)
        params.update(manifest_data(manifest, explicit, list(DATA_PARAMETERS)))
        trained = manifest.get("git_commit", "an unknown commit")
        print(f"Model: {shown(models)} (trained by notebook 02 at {trained}, {manifest.get('time_utc', 'time unknown')}).")
    if "precision" in params:  # record what "auto" chose on this machine
        from aecrypt.method.model import resolve_precision

        params["precision"] = resolve_precision(params["precision"])
    out = output_folder(profile, params.get("run_name", MAIN_RUN), bool(params.get("publish")), seed)
    out.mkdir(parents=True, exist_ok=True)
    if not params.get("publish"):
        print(f"Ad-hoc run: outputs go to {shown(out)} (aecrypt reproduce, or publish=True, writes into "
              f"{shown(config.results_dir(profile))}).")
    params["figure_style"] = FIGURE_STYLES[profile]  # recorded: aecrypt figures redraws in it
    from aecrypt.study.figures import use_style

    use_style(params["figure_style"])
    if progress.enabled():  # under aecrypt reproduce: TensorFlow's own warnings (retracing...) go to the job's log
        library_warnings_to_log()
    if profile == "smoke":
        print("SMOKE RUN: tiny images and one epoch; these numbers only check the plumbing, not the method.")
    run = Run(notebook, params, out, manifest, models=models)
    _record(run)
    return run


def shown(path: Path) -> str:
    """A path relative to the project when it lies inside it (no machine's folders in outputs)."""
    try:
        return str(path.relative_to(config.PROJ_ROOT))
    except ValueError:
        return str(path)


#: Loggers of libraries whose warnings belong in a run's log, not in the executed notebook.
LIBRARY_LOGGERS = ("tensorflow", "absl")


def library_warnings_to_log() -> None:
    """Send the libraries' log records to the kernel's own standard error (the job's
    ``.stderr.log``), not to the notebook's output streams where TensorFlow's handler writes."""
    import logging

    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.StreamHandler(sys.__stderr__))
        logger.propagate = False


def _record(run: Run) -> None:
    """Write ``runs/<notebook>.json``: parameters, versions, CPU, commit, and the data used."""
    write_json(run.out / RUNS_FOLDER / f"{run.notebook}.json", {**run_metadata(run.params), "data": run.data})


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest saved with a trained model, or a ModelFileError that says which notebook to run."""
    path = folder / MANIFEST_FILE
    if not path.is_file():
        seed, run_name, profile = folder.name.removeprefix(SEED_FOLDER_PREFIX), folder.parent.name, folder.parent.parent.name
        raise ModelFileError(
            f"no trained model in {shown(folder)} (no {MANIFEST_FILE}); train one first: "
            f"aecrypt reproduce --profile {profile} --only 02 --seeds {seed}" + (f" -p run_name {run_name}" if run_name != MAIN_RUN else "")
        )
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{shown(path)}: unreadable manifest ({exc.__class__.__name__}); retrain with notebook 02") from None


def manifest_data(manifest: dict[str, Any], explicit: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The model's data parameters; any explicitly given value that differs is an error that
    names every difference, raised before any work."""
    recorded = dict(manifest.get("data_parameters", {}))
    if "split_seed" not in recorded and "seed" in recorded:  # a model trained before split_seed: its seed drew the split
        recorded["split_seed"] = recorded["seed"]
    differences = [
        f"{name}={explicit[name]!r} (the model's manifest has {recorded.get(name)!r})"
        for name in names if name in explicit and explicit[name] != recorded.get(name)
    ]
    if differences:
        raise ManifestMismatchError(
            "these data parameters contradict the trained model's manifest: " + "; ".join(differences)
            + ". Leave them out (the model's values are used), or retrain with notebook 02 using them"
        )
    return {name: recorded.get(name) for name in names}


def dataset_arguments(run: Run) -> dict[str, Any]:
    """The ``load_dataset`` arguments a run's parameters give."""
    return {name: run.params[name] for name in DATA_PARAMETERS if name in run.params}


def load_data(run: Run):
    """The run's dataset split; for a trained model's run, checked against its manifest. A
    folder larger than the run's ``memory_limit_mb`` stays on disk ("data_path": "streamed")."""
    from aecrypt.data.loader import load_dataset

    split = load_dataset(**dataset_arguments(run), memory_limit_mb=run.params.get("memory_limit_mb"))
    run.data = {"test_hash": split.test_hash(), "train_hash": split.train_hash(), "train": len(split.x_train),
                "validation": len(split.x_val), "test": len(split.x_test), "guard": len(split.x_guard),
                "data_path": split.data_path}
    if run.manifest is not None:
        expected = run.manifest.get("data", {})
        if (expected.get("test_hash"), expected.get("train_hash")) != (run.data["test_hash"], run.data["train_hash"]):
            raise ManifestMismatchError(
                f"the images differ from those the model in {shown(run.models)} was trained and tested on "
                f"(test set {run.data['test_hash']} here, {expected.get('test_hash')} in its manifest); "
                "was the data folder changed? Retrain with notebook 02"
            )
    _record(run)
    return split


def save_models(run: Run, encoder, decoder, split, training: dict[str, Any]) -> Path:
    """Save the encoder, decoder and their manifest (data parameters, split hashes, training)."""
    from aecrypt.method.model import save_model

    folder = run.models
    folder.mkdir(parents=True, exist_ok=True)
    save_model(encoder, folder / ENCODER_FILE)
    save_model(decoder, folder / DECODER_FILE)
    from aecrypt.data.splits import default_split

    data_parameters = dataset_arguments(run)
    if data_parameters.get("split") is None:
        data_parameters["split"] = default_split(data_parameters["dataset"])
    manifest = {**run_metadata(run.params), "data_parameters": data_parameters,
                "data": {**run.data, "test_images": sorted(split.names_test), **({"scans": split.manifest["scans"]} if split.manifest.get("scans") else {})},
                "training": training}
    return write_json(folder / MANIFEST_FILE, manifest)


def trained_models(run: Run):
    """The run's trained encoder and decoder (never trained here: notebook 02 does that)."""
    from aecrypt.method.model import load_model

    folder = run.models
    for name in (ENCODER_FILE, DECODER_FILE):
        if not (folder / name).is_file():
            raise ModelFileError(f"{shown(folder / name)} is missing; retrain with notebook 02 (aecrypt reproduce --only 02)")
    return load_model(folder / ENCODER_FILE, "encoder"), load_model(folder / DECODER_FILE, "decoder")
