"""The encoder and decoder at an image's own size: free-size copies of the saved models, padding
to the stride, and tiles that give what one run on the whole image gives."""

import keras
import numpy as np
import pytest
from keras import layers

from aecrypt.errors import ModelFileError
from aecrypt.method.model import build_autoencoder
from aecrypt.method.native import decode_frames, decode_native, encode_frames, encode_native, native_model, receptive_radius
from aecrypt.method.pipeline import decode, encode

#: Tiled and untiled runs may differ by floating-point rounding only (observed: 0.0 on a CPU).
TILE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def natives(tiny_models):
    """Free-size copies of the tiny untrained 16x16 encoder and decoder."""
    _, encoder, decoder = tiny_models
    return native_model(encoder), native_model(decoder)


def test_at_the_models_own_size_the_copy_computes_what_the_model_computes(tiny_models, natives, rng):
    _, encoder, decoder = tiny_models
    image = rng.random((16, 16, 3)).astype(np.float32)
    features = encode_native(natives[0], image)
    np.testing.assert_allclose(features, encode(encoder, image[None])[0], atol=1e-6)
    np.testing.assert_allclose(decode_native(natives[1], features, 16, 16), np.clip(decode(decoder, features[None])[0], 0, 1), atol=1e-6)
    assert natives[0].stride == natives[1].stride == 2


def test_an_odd_sized_image_is_padded_to_the_stride_and_cropped_back(natives, rng):
    image = rng.random((23, 9, 1)).astype(np.float32)  # grey: replicated to the model's three channels
    features = encode_native(natives[0], image)
    assert features.shape == (12, 5, 3)
    assert decode_native(natives[1], features, 23, 9).shape == (23, 9, 3)


def test_tiles_give_what_one_run_on_the_whole_image_gives(natives, rng):
    # Each tile runs with a margin of real neighbours at least the receptive radius wide, and
    # only its centre is kept, so there is no seam to blend.
    image = rng.random((70, 53, 3)).astype(np.float32)
    whole = encode_native(natives[0], image)
    tiled = encode_native(natives[0], image, tile_side=16)
    assert np.abs(whole - tiled).max() <= TILE_TOLERANCE
    decoded_whole = decode_native(natives[1], whole, 70, 53)
    decoded_tiled = decode_native(natives[1], whole, 70, 53, tile_side=16)
    assert np.abs(decoded_whole - decoded_tiled).max() <= TILE_TOLERANCE


def test_frames_go_through_one_by_one_and_come_back_in_their_own_value_type(natives, rng):
    frames = rng.integers(-1024, 3000, (3, 11, 14, 1)).astype(np.int16)
    features = encode_frames(natives[0], frames, (-1024, 2999))
    assert features.shape == (3, 6, 7, 3)
    metadata = {"height": 11, "width": 14, "channels": 1, "window": [-1024, 2999], "dtype": "int16"}
    back = decode_frames(natives[1], features, metadata)
    assert back.shape == frames.shape and back.dtype == np.int16 and back.min() >= -1024 and back.max() <= 2999


def test_the_receptive_radius_covers_table_2s_layers(natives):
    # an upper bound: a 3x3 conv counts 3 of its pixels, the 2x2 pool 2 (after it a pixel is 2 wide):
    # 3 + 2 + 2 * 3 + 2 * 3; the true radius is 1 + 1 + 2 + 2 = 6
    assert receptive_radius(natives[0].model) == 17
    assert natives[0].margin >= receptive_radius(natives[0].model) and natives[0].margin % natives[0].align == 0


def test_a_model_that_needs_a_fixed_size_is_refused():
    features = keras.Input((8, 8, 3))
    flat = keras.Model(features, layers.Dense(3)(layers.Flatten()(features)), name="aecrypt_decoder")
    with pytest.raises(ModelFileError):
        native_model(flat)


def test_a_deeper_model_has_a_larger_stride():
    _, encoder, decoder = build_autoencoder(image_size=16, pooling_stages=2)
    assert native_model(encoder).stride == native_model(decoder).stride == 4
    assert encode_native(native_model(encoder), np.zeros((10, 13, 3), np.float32)).shape == (3, 4, 3)
