"""Run profiles: named sets of notebook parameters, defined once for notebooks and the runner.

A notebook's parameters cell leaves a parameter as ``None`` to take the profile's value;
anything given explicitly (``papermill -p name value`` or ``aecrypt reproduce -p``) wins.
"""

from __future__ import annotations

from typing import Any

from aecrypt.errors import ParameterError

#: Shared by every notebook; each notebook uses the subset it declares.
PROFILES: dict[str, dict[str, Any]] = {
    # Tiny images, a handful of them, one epoch: seconds per notebook, for tests.
    "smoke": {
        "image_size": 32,
        "max_images": 24,
        "per_class": None,
        "epochs": 1,
        "batch_size": 8,
        "patience": 5,
        "aes_repeats": 20,
        "model_repeats": 3,
        "noise_images": 4,
        "sweep_images": 3,
        "sweep_points": 2,
        "attack_epochs": 1,
        "denoise_epochs": 1,
        "bm3d_images": 2,
        "precision": "float32",
    },
    # What `make reproduce` runs: Table 2's layers at 128x128 (224x224 trains 3x slower,
    # past the 15-minute budget on a 2-core CPU), the MNI152 slab split, a fixed number of
    # epochs with early stopping on validation loss (deterministic: no wall-clock budget).
    "default": {
        "image_size": 128,
        "max_images": None,
        "per_class": None,
        "epochs": 60,
        "batch_size": 16,
        "patience": 4,
        "aes_repeats": 200,
        "model_repeats": 20,
        "noise_images": None,
        "sweep_images": 16,
        "sweep_points": 5,
        "attack_epochs": 3,
        "denoise_epochs": 3,
        "bm3d_images": 12,
        "precision": "float32",
    },
    # Section 4 as written: 224x224, adamax, MSE, 60 epochs, 80/20 split, 200 images.
    "paper": {
        "image_size": 224,
        "max_images": 200,
        "per_class": None,
        "epochs": 60,
        "batch_size": 16,
        "patience": None,
        "aes_repeats": 500,
        "model_repeats": 50,
        "noise_images": None,
        "sweep_images": 40,
        "sweep_points": 7,
        "attack_epochs": 20,
        "denoise_epochs": 20,
        "bm3d_images": 40,
        "precision": "float32",
    },
}


def resolve(profile: str, **given: Any) -> dict[str, Any]:
    """Parameters for a notebook: each ``None`` in ``given`` replaced by the profile's value."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values = dict(given)
    for name, value in given.items():
        if value is None and name in PROFILES[profile]:
            values[name] = PROFILES[profile][name]
    values["profile"] = profile
    return values
