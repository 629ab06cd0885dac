"""Run profiles: named sets of notebook parameters, defined once for notebooks and the runner.

A notebook's parameters cell leaves a parameter as ``None`` to take the profile's value;
anything given explicitly (``papermill -p name value`` or ``aecrypt reproduce -p``) wins.
"""

from __future__ import annotations

from typing import Any

from aecrypt.errors import ParameterError
from aecrypt.paper import PAPER_EPOCHS, PAPER_IMAGE_SIZE, PAPER_IMAGES

#: Shared by every notebook; each notebook uses the subset it declares. Every profile
#: trains in float32: "auto" picks bfloat16 where the CPU has it, so tables would differ
#: between machines.
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
        "attack_epochs": None,  # as many as the owner's training ran (its manifest)
        "denoise_epochs": 1,
        "bm3d_images": 2,
        "precision": "float32",
    },
    # What `make reproduce` runs: Table 2's layers on 96x96 images, all MNI152 slices in the
    # slab split, 24 epochs of 8 images a step with early stopping on validation loss
    # (deterministic: no wall-clock budget). Measured on the 2-core AVX2 CPU this study
    # runs on: 224x224 trains at 2.4 images/s in float32 (16 epochs: 32 min), 96x96 at
    # 13; validation loss levels off between epochs 19 and 24 (results/default/fig5).
    "default": {
        "image_size": 96,
        "max_images": None,
        "per_class": None,
        "epochs": 24,
        "batch_size": 8,
        "patience": 4,
        "aes_repeats": 200,
        "model_repeats": 20,
        "noise_images": None,
        "sweep_images": 16,
        "sweep_points": 5,
        "attack_epochs": None,  # as many as the owner's training ran (its manifest)
        "denoise_epochs": 3,
        "bm3d_images": 12,
        "precision": "float32",
    },
    # Section 4 as written: 224x224, adamax, MSE, 60 epochs, 80/20 split, 200 images.
    "paper": {
        "image_size": PAPER_IMAGE_SIZE,
        "max_images": PAPER_IMAGES,
        "per_class": None,
        "epochs": PAPER_EPOCHS,
        "batch_size": 16,
        "patience": None,
        "aes_repeats": 500,
        "model_repeats": 50,
        "noise_images": None,
        "sweep_images": 40,
        "sweep_points": 7,
        "attack_epochs": None,  # as many as the owner's training ran (its manifest)
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
