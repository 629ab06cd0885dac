"""The training loop: reproducible under a seed, equal to keras fit, history written as it goes."""

import numpy as np
import pandas as pd
import pytest

from aecrypt.method.model import build_autoencoder, compile_autoencoder
from aecrypt.method.training import seed_everything, train_autoencoder, validation_split


def _data(seed=0, n=12, size=16):
    rng = np.random.default_rng(seed)
    base = rng.random((n, size // 4, size // 4, 1), dtype=np.float32)
    return np.repeat(np.repeat(np.repeat(base, 4, 1), 4, 2), 3, 3)  # smooth-ish images


def _train(seed, tmp_path, **kwargs):
    seed_everything(seed)
    autoencoder, _, _ = build_autoencoder(image_size=16)
    x = _data()
    return train_autoencoder(autoencoder, x[:9], x[9:], epochs=3, batch_size=4, seed=seed,
                             history_csv=tmp_path / f"history-{seed}.csv", progress=False, **kwargs)


@pytest.mark.slow
def test_same_seed_gives_the_same_loss_history(tmp_path):
    a = _train(5, tmp_path)
    b = _train(5, tmp_path)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(a.history["val_loss"], b.history["val_loss"], rtol=1e-6)


@pytest.mark.slow
def test_history_csv_is_written_each_epoch(tmp_path):
    result = _train(1, tmp_path)
    written = pd.read_csv(tmp_path / "history-1.csv")
    assert list(written["epoch"]) == [1, 2, 3]
    np.testing.assert_allclose(written["loss"], result.history["loss"])
    assert result.history["loss"].iloc[-1] < result.history["loss"].iloc[0]


@pytest.mark.slow
def test_loop_matches_keras_fit(tmp_path):
    x = _data()
    seed_everything(3)
    ours, _, _ = build_autoencoder(image_size=16)
    seed_everything(3)
    theirs, _, _ = build_autoencoder(image_size=16)
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    result = train_autoencoder(ours, x, x[:4], epochs=3, batch_size=4, shuffle=False, progress=False)
    compile_autoencoder(theirs)
    fitted = theirs.fit(x, x, batch_size=4, epochs=3, shuffle=False, verbose=0, validation_data=(x[:4], x[:4]))
    np.testing.assert_allclose(result.history["loss"], fitted.history["loss"], rtol=1e-3)
    np.testing.assert_allclose(result.history["val_loss"], fitted.history["val_loss"], rtol=1e-3)
    # Our accuracy is the metric Keras resolves "accuracy" to for this model.
    np.testing.assert_allclose(result.history["val_accuracy"], fitted.history["val_accuracy"], atol=1e-4)


@pytest.mark.slow
def test_early_stopping_and_best_weights(tmp_path):
    seed_everything(0)
    autoencoder, _, _ = build_autoencoder(image_size=16)
    x = _data()
    result = train_autoencoder(autoencoder, x[:9], x[9:], epochs=4, batch_size=4, learning_rate=0.0,
                               patience=1, checkpoint=tmp_path / "best.weights.h5", progress=False)
    assert "early stopping" in result.stopped_because and len(result.history) == 2
    assert (tmp_path / "best.weights.h5").exists()


@pytest.mark.slow
def test_time_budget_stops_training(tmp_path):
    result = _train(2, tmp_path, time_budget_s=0.0)
    assert len(result.history) == 1 and "time budget" in result.stopped_because


def test_trains_from_a_tf_data_stream():
    import tensorflow as tf

    x = _data()
    stream = tf.data.Dataset.from_tensor_slices((x, x)).batch(4)
    autoencoder, _, _ = build_autoencoder(image_size=16)
    result = train_autoencoder(autoencoder, stream, stream, epochs=1, progress=False)
    assert len(result.history) == 1 and np.isfinite(result.history["loss"][0])


def test_validation_split():
    train, val = validation_split(10, 0.2, np.random.default_rng(0))
    assert len(val) == 2 and set(train).isdisjoint(val)


@pytest.mark.slow
def test_trains_on_input_target_pairs():
    x = _data()
    noisy = np.clip(x + np.random.default_rng(1).normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    seed_everything(0)
    autoencoder, _, _ = build_autoencoder(image_size=16)
    paired = train_autoencoder(autoencoder, (noisy[:9], x[:9]), (noisy[9:], x[9:]), epochs=1, seed=0, progress=False)
    seed_everything(0)
    autoencoder, _, _ = build_autoencoder(image_size=16)
    plain = train_autoencoder(autoencoder, x[:9], x[9:], epochs=1, seed=0, progress=False)
    # Same weights and batches: only the inputs differ, so the losses must differ.
    assert np.isfinite(paired.history["loss"][0])
    assert paired.history["loss"][0] != pytest.approx(plain.history["loss"][0], rel=1e-6)


def test_mismatched_pairs_are_rejected():
    x = _data()
    autoencoder, _, _ = build_autoencoder(image_size=16)
    with pytest.raises(ValueError, match="equal length"):
        train_autoencoder(autoencoder, (x[:9], x[:8]), x[9:], epochs=1, progress=False)


@pytest.mark.slow
def test_mixed_bfloat16_trains_and_keeps_float32_outputs():
    seed_everything(0)
    autoencoder, encoder, decoder = build_autoencoder(image_size=16, precision="mixed_bfloat16")
    x = _data()
    result = train_autoencoder(autoencoder, x[:9], x[9:], epochs=2, batch_size=4, progress=False)
    assert np.all(np.isfinite(result.history["loss"]))
    assert encoder.output.dtype == "float32" and decoder.output.dtype == "float32"
    assert all(w.dtype == "float32" for w in autoencoder.weights)  # weights stay float32


def test_late_improvement_says_whether_validation_loss_levelled_off():
    from aecrypt.method.training import late_improvement

    still_falling = pd.DataFrame({"val_loss": [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2]})
    assert late_improvement(still_falling) == pytest.approx((0.3 - 0.2) / 0.3)  # last 2 of 8 epochs
    flat = pd.DataFrame({"val_loss": [1.0, 0.5, 0.4, 0.3, 0.3, 0.3, 0.31, 0.32]})
    assert late_improvement(flat) == 0.0
    assert np.isnan(late_improvement(flat.iloc[:1]))


def test_cosine_schedule_starts_at_the_rate_and_falls_each_epoch():
    from aecrypt.method.training import epoch_learning_rate

    rates = [epoch_learning_rate(0.002, epoch, 8, "cosine") for epoch in range(1, 9)]
    assert rates[0] == pytest.approx(0.002) and all(a > b > 0 for a, b in zip(rates, rates[1:]))
    assert rates[-1] == pytest.approx(0.002 * 0.5 * (1 + np.cos(np.pi * 7 / 8)))
    assert rates[4] == pytest.approx(0.001)  # halfway (epoch 5 of 8 starts at pi/2)
    assert {epoch_learning_rate(0.002, epoch, 8, "constant") for epoch in range(1, 9)} == {0.002}


@pytest.mark.slow
def test_training_follows_the_schedule_and_records_each_epoch_s_rate(tmp_path):
    cosine = _train(4, tmp_path, schedule="cosine")
    written = pd.read_csv(tmp_path / "history-4.csv")
    expected = [0.001 * 0.5 * (1 + np.cos(np.pi * e / 3)) for e in range(3)]
    np.testing.assert_allclose(written["learning_rate"], expected, rtol=1e-6)
    np.testing.assert_allclose(cosine.history["learning_rate"], expected, rtol=1e-6)
    assert cosine.schedule == "cosine"
    constant = _train(4, tmp_path)
    assert list(constant.history["learning_rate"]) == pytest.approx([0.001] * 3)
    # the first epoch runs at the same rate either way; after it the steps differ
    assert cosine.history["loss"].iloc[0] == pytest.approx(constant.history["loss"].iloc[0], rel=1e-6)
    assert cosine.history["val_loss"].iloc[-1] != pytest.approx(constant.history["val_loss"].iloc[-1], rel=1e-6)


def test_an_unknown_schedule_fails_before_any_training(tmp_path):
    from aecrypt.errors import ParameterError

    with pytest.raises(ParameterError, match="constant, cosine"):
        _train(0, tmp_path, schedule="linear")
    assert not (tmp_path / "history-0.csv").exists()


@pytest.mark.slow
def test_the_training_record_names_the_schedule(tmp_path):
    from aecrypt.method.training import describe_schedule, training_record

    record = training_record(_train(6, tmp_path, schedule="cosine"))
    assert record["learning_rate_schedule"] == "cosine" and record["epochs_run"] == 3
    assert describe_schedule("cosine", 0.001, 3) == "Adamax learning rate 0.001 cosine-decayed to 0.00025 at the last epoch"
    assert describe_schedule("constant", 0.001, 3) == "Adamax learning rate 0.001 throughout"
