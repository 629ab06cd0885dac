"""What the benchmark measures beyond the study's own timing: the machine's matrix-multiply
ceiling, training and inference rates of the Table 2 model, and where a training step's
time goes, layer by layer; and running a measurement in a fresh process for its own peak
memory. Used only by ``bench.py`` and ``throughput.py``; the measurements load TensorFlow."""

from __future__ import annotations

import multiprocessing
import resource
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from aecrypt.experiments.timing import time_call


def matmul_gflops(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> float:
    """The machine's dense matrix-multiply rate in GFLOP/s (best of ``repeats``): the ceiling
    a convolution network's arithmetic is measured against."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform((n, n), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_uniform((n, n), seed=(3, 4)), dtype)
    matmul = tf.function(tf.linalg.matmul)
    best = time_call(lambda: matmul(a, b).numpy(), repeats, warmup=2)["min_s"]
    return 2 * n**3 / best / 1e9


def training_rate(
    image_size: int,
    precision: str = "float32",
    batch_size: int = 16,
    images: int = 64,
    epochs: int = 2,
    upsample_position: str = "table2",
    seed: int = 0,
) -> float:
    """Training images per second of the Table 2 model in aecrypt's training loop (last epoch,
    so tracing and warm-up are excluded), on random images of the given size."""
    from aecrypt.method.model import build_autoencoder
    from aecrypt.method.training import seed_everything, train_autoencoder

    seed_everything(seed, deterministic=False)
    autoencoder, _, _ = build_autoencoder(image_size, upsample_position=upsample_position, precision=precision)
    x = np.random.default_rng(seed).random((images, image_size, image_size, 3), dtype=np.float32)
    result = train_autoencoder(autoencoder, x, x[:batch_size], epochs=epochs, batch_size=batch_size, seed=seed, progress=False)
    return float(result.history["images_per_second"].iloc[-1])


def model_call_time(model, batch_size: int, repeats: int) -> dict[str, float]:
    """Median time of one compiled inference call on a batch (the path the pipeline uses)."""
    from aecrypt.method.pipeline import run_model

    x = np.random.default_rng(0).random((batch_size, *model.input_shape[1:]), dtype=np.float32)
    return time_call(lambda: run_model(model, x, batch_size), repeats, warmup=2)


def layer_training_times(autoencoder, batch_size: int = 16, repeats: int = 5) -> pd.DataFrame:
    """Forward plus backward time of each layer on its own, per image, with FLOPs and GFLOP/s.

    Shows what a training step's time goes to: each layer is rebuilt alone at its input
    shape and differentiated with respect to its input and weights.
    """
    import keras
    import tensorflow as tf

    from aecrypt.method.model import model_flops

    rows = []
    for layer in _leaf_layers(autoencoder):
        shape = tuple(layer.input.shape[1:])
        inputs = keras.Input(shape)
        config = {**layer.get_config(), "name": f"alone_{layer.name}"}
        alone = keras.Model(inputs, layer.__class__.from_config(config)(inputs))
        x = tf.random.stateless_uniform((batch_size, *shape), seed=(0, 1))
        step = _gradient_step(alone)
        seconds = time_call(lambda: [g.numpy() for g in step(x)], repeats, warmup=2)["median_s"] / batch_size
        flops = 3 * model_flops(alone)
        rows.append({"layer": layer.name, "input_shape": "x".join(map(str, shape)), "ms_per_image": 1000 * seconds,
                     "train_gflop_per_image": flops / 1e9, "gflop_s": flops / seconds / 1e9 if flops else float("nan")})
    table = pd.DataFrame(rows)
    table["share"] = table["ms_per_image"] / table["ms_per_image"].sum()
    return table


def _gradient_step(model):
    """A compiled step giving the gradients of a model's summed output for its input and weights."""
    import tensorflow as tf

    weights = model.trainable_variables

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(tf.cast(model(x, training=True), tf.float32))
        return tape.gradient(total, [x, *weights])

    return step


def _leaf_layers(model) -> list:
    """The layers of a model and its sub-models, in order, without input layers."""
    import keras

    leaves = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            leaves += _leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            leaves.append(layer)
    return leaves


def peak_rss_mib() -> float:
    """This process's own peak resident memory so far, in MiB: Linux's VmHWM, since getrusage's
    ru_maxrss survives fork and exec, so a spawned child would report its parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # macOS: bytes; others: KiB


def in_child(function: Callable, *args):
    """``function(*args)`` in a fresh spawned process (nothing inherited from this one's memory),
    so that the peak RSS it reports is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()
