"""What every study notebook does first: resolve parameters, record the run, find the models.

Keeps notebooks thin: one call sets up the output folder and writes the run's parameters,
package versions, CPU and commit beside the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aecrypt import config
from aecrypt.profiles import resolve
from aecrypt.results import run_metadata, write_json

ENCODER_FILE = "encoder.keras"
DECODER_FILE = "decoder.keras"


@dataclass
class Run:
    """One notebook's run: its resolved parameters and where its outputs go."""

    notebook: str
    params: dict[str, Any]
    out: Path

    def __getattr__(self, name: str) -> Any:
        try:
            return self.params[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def models(self) -> Path:
        """Folder of this profile's trained models for the run name."""
        return config.models_dir(self.params["profile"]) / self.params.get("run_name", "main")


def start(notebook: str, profile: str, **given: Any) -> Run:
    """Resolve parameters against the profile, create the output folder, record the run."""
    params = resolve(profile, **given)
    if "precision" in params:  # record what "auto" chose on this machine
        from aecrypt.model import resolve_precision

        params["precision"] = resolve_precision(params["precision"])
    out = config.results_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "runs" / f"{notebook}.json", run_metadata(params))
    return Run(notebook, params, out)


def dataset_arguments(run: Run) -> dict[str, Any]:
    """The ``load_dataset`` arguments a run's parameters give."""
    names = ("dataset", "data_dir", "image_size", "per_class", "test_fraction", "seed", "max_images", "fundus_crop")
    return {name: run.params[name] for name in names if name in run.params}


def trained_models(run: Run, train_if_missing: bool = True):
    """The run's trained encoder and decoder; a smoke-size model is trained first if none exists.

    So notebooks 03-06 can run alone: without notebook 02's output they train a small
    model on the same data (few epochs) and say so.
    """
    from aecrypt.model import load_model

    folder = run.models
    if not (folder / ENCODER_FILE).exists() or not (folder / DECODER_FILE).exists():
        if not train_if_missing:
            from aecrypt.errors import ModelFileError

            raise ModelFileError(f"{folder}: no trained models; run notebooks/02_train_autoencoder.ipynb first")
        print(f"No trained models in {folder}: training a quick one (run notebook 02 for the real one).")
        train_quick_model(run, folder)
    return load_model(folder / ENCODER_FILE, "encoder"), load_model(folder / DECODER_FILE, "decoder")


def train_quick_model(run: Run, folder: Path, epochs: int = 2) -> None:
    """Train and save a model for the run's data in a couple of epochs."""
    from aecrypt.data import load_dataset
    from aecrypt.model import build_autoencoder, save_model
    from aecrypt.training import seed_everything, train_autoencoder

    split = load_dataset(**dataset_arguments(run))
    seed_everything(run.params.get("seed", 0))
    autoencoder, encoder, decoder = build_autoencoder(image_size=run.params["image_size"], precision=run.params.get("precision", "float32"))
    train_autoencoder(autoencoder, split.x_train, split.x_test[:8], epochs=epochs, batch_size=16, seed=run.params.get("seed", 0))
    save_model(encoder, folder / ENCODER_FILE)
    save_model(decoder, folder / DECODER_FILE)
