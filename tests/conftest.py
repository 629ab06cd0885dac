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
