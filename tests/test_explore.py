"""The notebooks' explorers (aecrypt.study.explore): what each computes on a real model, the
controls a Jupyter frontend gets, and the static figure of the default state everywhere else."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from aecrypt.method.keys import generate_key
from aecrypt.method.pipeline import decode, encode, round_trip
from aecrypt.progress import LIVE_ENV
from aecrypt.study import explore


@pytest.fixture
def journey_parts(tiny_models, rng):
    """Two 16x16 images, their features from a real (untrained) encoder, a decoder of one feature map, two keys."""
    _, encoder, decoder = tiny_models
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    return images, encode(encoder, images), (lambda f: decode(decoder, f[None])[0]), generate_key(rng), generate_key(rng)


def test_the_right_key_gives_back_the_features_bit_for_bit(journey_parts):
    _, features, decode_one, key, wrong = journey_parts
    for scheme in ("gcm", "paper"):
        panels, note = explore.tamper_panels(features[0], key, wrong, decode_one, explore.TAMPERING[0], scheme, 7)
        assert note.endswith("bit for bit")
        np.testing.assert_array_equal(panels[0][1], panels[1][1])


def test_gcm_refuses_a_wrong_key_and_a_flipped_byte(journey_parts):
    _, features, decode_one, key, wrong = journey_parts
    for happens in explore.TAMPERING[1:]:
        panels, note = explore.tamper_panels(features[0], key, wrong, decode_one, happens, "gcm", 7)
        assert panels[-1][1] is None and panels[-1][0].startswith("WrongKeyOrTamperedError")
        assert "decodes nothing" in note


def test_the_papers_scheme_decodes_a_flipped_byte_and_a_wrong_key_without_complaint(journey_parts):
    _, features, decode_one, key, wrong = journey_parts
    panels, note = explore.tamper_panels(features[0], key, wrong, decode_one, explore.TAMPERING[2], "paper", 7)
    changed = int(note.split(": ")[1].split(" of ")[0])
    assert 1 <= changed <= 4  # one 16-byte ECB block: four float32 values at most
    assert len(panels) == 3 and np.isfinite(panels[1][1]).all()
    panels, note = explore.tamper_panels(features[0], key, wrong, decode_one, explore.TAMPERING[1], "paper", 7)
    assert note.startswith(f"a wrong key: {features[0].size} of {features[0].size}")
    assert np.isfinite(panels[1][1]).all() and 0 <= panels[1][1].min() <= panels[1][1].max() <= 1  # overflow drawn black


def test_noise_panels_put_the_pipeline_beside_the_median_filter(tiny_models, rng, key):
    _, encoder, decoder = tiny_models
    image = rng.random((16, 16, 3)).astype(np.float32)
    panels, note = explore.noise_panels(image, lambda x: round_trip(encoder, decoder, x, key), "salt_pepper", 0.2, seed=3)
    assert [title.split(":")[0] for title, _ in panels] == ["original", "salt and pepper noise", "pipeline", "median 3×3"]
    assert not np.array_equal(panels[1][1], image) and note.startswith("share of pixels flipped: 0.2")
    again, _ = explore.noise_panels(image, lambda x: round_trip(encoder, decoder, x, key), "salt_pepper", 0.2, seed=3)
    np.testing.assert_array_equal(panels[1][1], again[1][1])  # the same seed draws the same noise


def test_a_feature_channel_that_is_the_image_correlates_fully(rng):
    ramp = np.add.outer(np.linspace(0, 1, 16), np.linspace(0, 1, 16)) / 2  # a smooth 16x16 image
    images = np.repeat(ramp[None, ..., None], 3, axis=-1).astype(np.float32)
    features = np.stack([ramp[::2, ::2], rng.random((8, 8))], axis=-1)[None].astype(np.float32)  # half-size: itself, and noise
    panels, _ = explore.channel_panels(images, features, ["slice_0"], 0)
    assert [title for title, _ in panels][0] == "image 0: slice_0" and len(panels) == 3
    assert float(panels[1][0].split("|r| ")[1]) > 0.95 > 0.5 > float(panels[2][0].split("|r| ")[1])


def test_no_controls_without_a_frontend(monkeypatch):
    monkeypatch.delenv(explore.WIDGETS_ENV, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "x.ipynb")
    assert not explore.frontend_present()  # not inside a kernel at all
    monkeypatch.setenv(explore.WIDGETS_ENV, "1")
    assert explore.frontend_present()
    monkeypatch.setenv(LIVE_ENV, "1")
    monkeypatch.setenv(explore.WIDGETS_ENV, "0")
    assert not explore.frontend_present()


def test_without_a_frontend_an_explorer_is_its_default_state_drawn_once(journey_parts, monkeypatch):
    monkeypatch.setenv(explore.WIDGETS_ENV, "0")
    images, features, _, _, _ = journey_parts
    fig = explore.channels_explorer(images, features, ["a", "b"], index=1)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 1 + features.shape[-1]
    assert fig.axes[0].get_title().startswith("image 1: b")
    explore.show(fig)  # outside a kernel: nothing to show into, and no error


def test_with_a_frontend_the_controls_redraw_the_panels(journey_parts, monkeypatch):
    monkeypatch.setenv(explore.WIDGETS_ENV, "1")
    images, features, decode_one, key, wrong = journey_parts
    view = explore.tampering_explorer(features[0], key, wrong, decode_one)
    controls = {c.description: c for c in view.children[:-1]}
    assert set(controls) == {"on the way", "scheme", "byte flipped"}
    assert controls["on the way"].value == explore.TAMPERING[1]  # the default state, as the static figure shows it
    controls["on the way"].value = explore.TAMPERING[2]
    assert view.kwargs["happens"] == explore.TAMPERING[2]
    view = explore.channels_explorer(images, features, ["a", "b"])
    assert [c.description for c in view.children[:-1]] == ["test image"] and view.children[0].max == 1
