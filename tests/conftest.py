"""Shared fixtures: tiny models and images so unit tests run in seconds on a CPU."""

import os

import numpy as np
import pytest

# Keep test runs off the committed results and caches.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    """Point results, caches and models at a temporary folder for every test."""
    import aecrypt.config as config

    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")


@pytest.fixture(scope="session")
def tiny_models():
    """An untrained 16x16x3 autoencoder, its encoder and decoder."""
    from aecrypt.method.model import build_autoencoder

    return build_autoencoder(image_size=16, channels=3)


@pytest.fixture
def rng():
    """A seeded generator, as every random function in aecrypt takes one."""
    return np.random.default_rng(1234)


@pytest.fixture
def key():
    from aecrypt.method.keys import generate_key

    return generate_key()


@pytest.fixture(scope="session")
def mni_slice():
    """An MNI152 axial slice at its native 233x197 as 8-bit grey, cut as aecrypt.data.sources cuts them."""
    from aecrypt.data.sources import mni152_slices
    from aecrypt.method.pixels import to_uint8

    slices, _, names, _ = mni152_slices()
    return to_uint8(slices[names.index("mni152/axial/120")][..., None])[..., 0]


def pytest_collection_modifyitems(items):
    """Every notebook test is slow too: ``pytest -m "not slow"`` runs the unit tests alone."""
    for item in items:
        if item.get_closest_marker("notebooks"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory):
    """A processed-data cache shared by every smoke study of the session."""
    return tmp_path_factory.mktemp("smoke-data")


@pytest.fixture(scope="session")
def smoke_project(tmp_path_factory, smoke_data):
    """The whole study at smoke size with two training seeds, run once per session as a
    user runs it (``aecrypt reproduce`` in a terminal, umask 022) in a clean copy of this
    project: returns the copy and what the command printed."""
    from smokeproject import copy_project, reproduce

    project = copy_project(tmp_path_factory.mktemp("smoke-project"))
    done = reproduce(project, smoke_data, "--seeds", "0,1")
    assert done.returncode == 0, done.stdout + done.stderr
    return project, done


#: Made-up patients' IDs in ``scan_folder``, which must never appear in a manifest or a table.
SCAN_PATIENTS = ("PAT-ALPHA-7", "PAT-BRAVO-3", "PAT-CHARLIE-5")


def _sample_frames(name: str, count: int, rng) -> list:
    """``count`` distinct frames from one of pydicom's sample files: a multi-frame file's frames,
    or a single frame rolled and jittered."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    pixels = dcmread(get_testdata_file(name, download=False)).pixel_array
    if pixels.ndim == 3:
        return [pixels[k % len(pixels)] for k in range(count)]
    return [np.roll(pixels, 3 * k, axis=1) + rng.integers(0, 20, pixels.shape).astype(pixels.dtype) for k in range(count)]


@pytest.fixture
def scan_folder(tmp_path, rng):
    """A folder of DICOM series of three made-up patients, from pydicom's sample files: the
    first with two CT series (no window of their own), the second an MR series with its own
    window (600/1600), the third one multi-frame MR file of 10 frames; 25 slices in all."""
    from aecrypt.data.examples import write_dicom_series

    root = tmp_path / "scans"
    write_dicom_series(root / "a" / "ct1", _sample_frames("CT_small.dcm", 5, rng), SCAN_PATIENTS[0], "ct1", template="CT_small.dcm")
    write_dicom_series(root / "a" / "ct2", _sample_frames("CT_small.dcm", 4, rng), SCAN_PATIENTS[0], "ct2", template="CT_small.dcm")
    write_dicom_series(root / "b", _sample_frames("MR_small.dcm", 6, rng), SCAN_PATIENTS[1], "mr", window=(600, 1600))
    write_dicom_series(root / "c", _sample_frames("emri_small.dcm", 10, rng), SCAN_PATIENTS[2], "emri",
                       template="emri_small.dcm", multiframe=True)
    return root
