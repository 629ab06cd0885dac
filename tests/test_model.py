"""The autoencoder matches Table 2, its halves compose, and model files round-trip."""

import json
import time
import zipfile

import numpy as np
import pytest

import keras

from aecrypt.errors import ModelFileError, ParameterError
from aecrypt.method.model import build_autoencoder, compile_autoencoder, load_model, save_model

# Table 2 of the paper, layer by layer: (our layer name, output shape without batch axis).
TABLE2_ENCODER = [
    ("enc_conv1", (224, 224, 64)),
    ("enc_pool1", (112, 112, 64)),
    ("enc_conv2", (112, 112, 64)),
    ("enc_conv3", (112, 112, 32)),
    ("enc_dense", (112, 112, 3)),
]
TABLE2_DECODER = [
    ("dec_dense", (112, 112, 3)),
    ("dec_convT1", (112, 112, 32)),
    ("dec_upsample1", (224, 224, 32)),
    ("dec_convT2", (224, 224, 64)),
    ("dec_convT3", (224, 224, 64)),
    ("dec_output", (224, 224, 3)),
]
# Parameter counts worked out by hand from Table 2 (3x3 kernels, biases).
ENCODER_PARAMS = (27 * 64 + 64) + (576 * 64 + 64) + (576 * 32 + 32) + (32 * 3 + 3)
DECODER_PARAMS = (3 * 3 + 3) + (27 * 32 + 32) + (288 * 64 + 64) + (576 * 64 + 64) + (576 * 3 + 3)


@pytest.fixture(scope="module")
def paper_models():
    return build_autoencoder()


def _layer_shapes(model):
    return [(layer.name, tuple(layer.output.shape[1:])) for layer in model.layers[1:]]


def test_encoder_layers_match_table2(paper_models):
    _, encoder, _ = paper_models
    assert _layer_shapes(encoder) == TABLE2_ENCODER


def test_decoder_layers_match_table2(paper_models):
    _, _, decoder = paper_models
    assert _layer_shapes(decoder) == TABLE2_DECODER


def test_parameter_counts(paper_models):
    autoencoder, encoder, decoder = paper_models
    assert encoder.count_params() == ENCODER_PARAMS == 57_283
    assert decoder.count_params() == DECODER_PARAMS == 58_063
    assert autoencoder.count_params() == ENCODER_PARAMS + DECODER_PARAMS


def test_prose_reading_upsamples_later():
    _, _, decoder = build_autoencoder(image_size=32, upsample_position="prose")
    names = [layer.name for layer in decoder.layers]
    assert names.index("dec_upsample1") == names.index("dec_convT2") + 1


def test_options_change_the_shapes():
    _, encoder, decoder = build_autoencoder(image_size=32, channels=1, bottleneck=8, pooling_stages=2)
    assert encoder.output_shape == (None, 8, 8, 8)
    assert decoder.output_shape == (None, 32, 32, 1)


def test_encoder_then_decoder_equals_autoencoder(tiny_models, rng):
    autoencoder, encoder, decoder = tiny_models
    x = rng.random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(decoder(encoder(x)).numpy(), autoencoder(x).numpy(), rtol=1e-5, atol=1e-6)


def test_features_are_signed_floats(tiny_models, rng):
    _, encoder, _ = tiny_models
    features = encoder(rng.random((4, 16, 16, 3), dtype=np.float32)).numpy()
    assert features.dtype == np.float32 and features.min() < 0 < features.max()


def test_compile_uses_adamax_and_mse(tiny_models):
    autoencoder, _, _ = tiny_models
    compile_autoencoder(autoencoder)
    assert type(autoencoder.optimizer).__name__ == "Adamax"
    assert autoencoder.loss == "mse"


def test_save_and_load_halves_separately(tiny_models, tmp_path, rng):
    _, encoder, decoder = tiny_models
    save_model(encoder, tmp_path / "encoder.keras")
    save_model(decoder, tmp_path / "decoder.keras")
    enc = load_model(tmp_path / "encoder.keras", expected="encoder")
    dec = load_model(tmp_path / "decoder.keras", expected="decoder")
    x = rng.random((1, 16, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(enc(x).numpy(), encoder(x).numpy())
    np.testing.assert_array_equal(dec(enc(x)).numpy(), decoder(encoder(x)).numpy())


@pytest.mark.slow
def test_saving_unchanged_weights_gives_the_same_bytes(tiny_models, tmp_path, rng):
    """Issue 32: a re-run that re-saves a model must leave its file as it was (zip dates, the
    save date in metadata.json); the file still loads, in aecrypt and in plain Keras."""
    import keras

    _, encoder, _ = tiny_models
    first = save_model(encoder, tmp_path / "first.keras")
    original = first.read_bytes()
    time.sleep(2.1)  # past the zip dates' two-second resolution and the save date's one
    again = save_model(encoder, tmp_path / "again.keras")
    resaved = save_model(load_model(first, "encoder"), tmp_path / "resaved.keras")
    assert again.read_bytes() == original and resaved.read_bytes() == original
    assert save_model(encoder, first).read_bytes() == original  # over an existing file
    with zipfile.ZipFile(resaved) as archive:
        assert "date_saved" not in json.loads(archive.read("metadata.json"))
    x = rng.random((1, 16, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(keras.saving.load_model(resaved, compile=False)(x).numpy(), encoder(x).numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.keras", "first.keras", "resaved.keras"]  # no temporary file left


def test_loading_the_wrong_half_is_refused(tiny_models, tmp_path):
    _, encoder, _ = tiny_models
    save_model(encoder, tmp_path / "encoder.keras")
    with pytest.raises(ModelFileError, match="decoder is needed"):
        load_model(tmp_path / "encoder.keras", expected="decoder")


def test_loading_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "bogus.keras"
    bogus.write_bytes(b"this is not a zip archive")
    with pytest.raises(ModelFileError, match="not a readable .keras model"):
        load_model(bogus)


def test_loading_a_foreign_keras_model(tmp_path):
    import keras

    foreign = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="someone_elses")
    foreign.save(tmp_path / "foreign.keras")
    with pytest.raises(ModelFileError, match="not an aecrypt encoder or decoder"):
        load_model(tmp_path / "foreign.keras")


def test_loading_a_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "missing.keras")


def test_flops_match_a_count_by_hand(paper_models):
    from aecrypt.method.model import model_flops

    autoencoder, encoder, decoder = paper_models
    # 2 x positions x (3x3 x in x out) per layer, Table 2's shapes.
    conv = lambda side, cin, cout: 2 * side * side * 9 * cin * cout  # noqa: E731
    dense = lambda side, cin, cout: 2 * side * side * cin * cout  # noqa: E731
    enc = conv(224, 3, 64) + conv(112, 64, 64) + conv(112, 64, 32) + dense(112, 32, 3)
    dec = dense(112, 3, 3) + conv(112, 3, 32) + conv(224, 32, 64) + conv(224, 64, 64) + conv(224, 64, 3)
    assert model_flops(encoder) == enc
    assert model_flops(decoder) == dec
    assert model_flops(autoencoder) == enc + dec


def test_prose_layout_costs_fewer_flops():
    from aecrypt.method.model import model_flops

    _, _, table2 = build_autoencoder(upsample_position="table2")
    _, _, prose = build_autoencoder(upsample_position="prose")
    assert round(model_flops(prose) / 1e9, 2) == 4.36  # the figure issue 9 quotes
    assert model_flops(table2) > model_flops(prose)


def test_mixed_precision_model_round_trips_and_stays_close(tmp_path):
    from aecrypt.method.model import model_precision

    _, encoder32, decoder32 = build_autoencoder(image_size=16)
    _, encoder16, decoder16 = build_autoencoder(image_size=16, precision="mixed_bfloat16")
    encoder16.set_weights(encoder32.get_weights())
    decoder16.set_weights(decoder32.get_weights())
    path = save_model(decoder16, tmp_path / "decoder.keras")
    loaded = load_model(path, "decoder")
    assert model_precision(loaded) == "mixed_bfloat16" and model_precision(decoder32) == "float32"
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    features32 = encoder32(x).numpy()
    features16 = encoder16(x).numpy()
    assert features16.dtype == np.float32
    assert np.abs(features16 - features32).max() < 0.05  # bfloat16 keeps ~3 significant digits
    assert np.abs(loaded(features32).numpy() - decoder32(features32).numpy()).max() < 0.02


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="precision"):
        build_autoencoder(image_size=16, precision="float16")
    from aecrypt.method.model import resolve_precision

    assert resolve_precision("auto") in ("float32", "mixed_bfloat16")


def test_the_deployed_variant_drops_the_display_layer():
    # Section 4: the Dense(3) layer is there to show the features as an image; "in real-life
    # applications, this last layer will not be applied". Without it the encoder sends its
    # third Conv2D's map: 112x112x32 float32 at 224 px, 1,605,632 bytes.
    from aecrypt.method.model import DEPLOYED_BOTTLENECK

    _, encoder, decoder = build_autoencoder(image_size=224, channels=3, bottleneck=DEPLOYED_BOTTLENECK)
    assert encoder.output_shape == (None, 112, 112, 32) and decoder.input_shape == (None, 112, 112, 32)
    assert 112 * 112 * 32 * 4 == 1_605_632
    assert not [layer for layer in encoder.layers + decoder.layers if isinstance(layer, keras.layers.Dense)]
    small, enc, dec = build_autoencoder(image_size=16, channels=1, bottleneck=DEPLOYED_BOTTLENECK)
    features = enc.predict(np.zeros((2, 16, 16, 1), np.float32), verbose=0)
    assert features.dtype == np.float32 and features.shape == (2, 8, 8, 32)
    assert dec.predict(features, verbose=0).shape == (2, 16, 16, 1)
    with pytest.raises(ParameterError, match="bottleneck must be 0"):
        build_autoencoder(image_size=16, bottleneck=-1)
