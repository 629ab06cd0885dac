"""Sender and receiver sides compose to the autoencoder, and mismatched models are refused."""

import numpy as np
import pytest

from aecrypt.method.keys import generate_key
from aecrypt.errors import ModelFileError, WrongKeyOrTamperedError
from aecrypt.method.model import build_autoencoder
from aecrypt.method.pipeline import decode, encode, receive, send


def test_send_then_receive_equals_the_autoencoder(tiny_models, rng, key):
    autoencoder, encoder, decoder = tiny_models
    images = rng.random((3, 16, 16, 3), dtype=np.float32)
    payloads = send(encoder, images, key)
    assert len(payloads) == 3
    out = receive(decoder, payloads, key)
    np.testing.assert_allclose(out, autoencoder(images).numpy(), rtol=1e-5, atol=1e-6)


def test_batched_and_single_calls_agree(tiny_models, rng):
    _, encoder, decoder = tiny_models
    images = rng.random((5, 16, 16, 3), dtype=np.float32)
    batched = encode(encoder, images, batch_size=2)
    single = np.stack([encode(encoder, image) for image in images])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)
    assert decode(decoder, batched).shape == (5, 16, 16, 3)


def test_receiver_with_wrong_key(tiny_models, rng, key):
    _, encoder, decoder = tiny_models
    payloads = send(encoder, rng.random((1, 16, 16, 3), dtype=np.float32), key)
    with pytest.raises(WrongKeyOrTamperedError):
        receive(decoder, payloads, generate_key())


def test_decoder_that_does_not_fit_the_payload(tiny_models, rng, key):
    _, encoder, _ = tiny_models
    _, _, other_decoder = build_autoencoder(image_size=32)
    payloads = send(encoder, rng.random((1, 16, 16, 3), dtype=np.float32), key)
    with pytest.raises(ModelFileError, match="decoder takes"):
        receive(other_decoder, payloads, key)


def test_encoder_given_the_wrong_image_size(tiny_models, rng):
    _, encoder, _ = tiny_models
    with pytest.raises(ModelFileError, match="takes arrays of shape"):
        encode(encoder, rng.random((1, 32, 32, 3), dtype=np.float32))


def test_round_trip_matches_autoencoder_for_every_scheme(tiny_models, rng, key):
    from aecrypt.method.schemes import SCHEMES
    from aecrypt.method.pipeline import round_trip

    autoencoder, encoder, decoder = tiny_models
    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    for scheme in SCHEMES:
        out = round_trip(encoder, decoder, images, key, scheme=scheme)
        np.testing.assert_allclose(out, autoencoder(images).numpy(), rtol=1e-5, atol=1e-6)


def test_each_model_is_traced_once_whatever_the_batch_sizes(rng, caplog):
    # A trace per batch shape (and per new model) made TensorFlow warn of retracing in the notebooks' outputs.
    from aecrypt.method.pipeline import _compiled_call

    models = [build_autoencoder(image_size=16)[1] for _ in range(3)]
    images = rng.random((7, 16, 16, 3), dtype=np.float32)
    with caplog.at_level("WARNING", logger="tensorflow"):
        for encoder in models:
            for batch_size in (4, 3, 7, 2):
                encode(encoder, images, batch_size=batch_size)
    assert [_compiled_call(encoder).experimental_get_tracing_count() for encoder in models] == [1, 1, 1]
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
