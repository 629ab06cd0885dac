"""Images read from disk a batch at a time: the protocol by which the method knows such a
set (``ImagesOnDisk``) without knowing who keeps it, and the ``tf.data`` reader that
streams batches ahead of the training step. TensorFlow is imported only when a reader is
built, so the data wing can ask ``kept_on_disk`` without starting it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

#: Batches that tf.data reads ahead of the training step.
PREFETCH_BATCHES = 2


class ImagesOnDisk(Protocol):
    """Float32 images (N, H, W, C) that stay on disk: they say so (``on_disk = True``),
    index like an array (reading only what is asked for) and stream batches in a given order."""

    on_disk: bool

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, key) -> np.ndarray: ...

    def stream(self, batch_size: int, order: np.ndarray | None = None) -> Any:
        """A ``tf.data.Dataset`` of float32 batches in ``order`` (indices into the set), read ahead."""
        ...


def kept_on_disk(images: object) -> bool:
    """Whether ``images`` stay on disk (``ImagesOnDisk``), so are read a batch at a time, never whole."""
    return getattr(images, "on_disk", False) is True


def batch_dataset(count: int, batch_size: int, read: Callable[[int, int], Any], shapes: tuple[tuple[int, ...], ...]):
    """A ``tf.data.Dataset`` of float32 batches ``read(start, stop)`` over ``count`` items, in
    order, read ahead by ``PREFETCH_BATCHES``. ``read`` returns one array, or a tuple of as
    many arrays as ``shapes`` (each item's shape).

    Built on ``tf.numpy_function``, not ``Dataset.from_generator``: the latter sets glibc's
    M_TRIM_THRESHOLD to 128 KiB for the whole process, so every step's large buffers go back
    to the kernel and are faulted in again. Its reader runs on one private thread without
    autotuning: tf.data's default pool fought training for the two cores, and about one
    epoch in three ran at 0.6 of in-memory speed (``benchmarks/bench.py --part scale``)."""
    import tensorflow as tf  # imported here: the data wing imports this module and stays free of TensorFlow

    def batch(start):
        start = int(start)
        out = read(start, min(start + batch_size, count))
        return tuple(np.asarray(x, np.float32) for x in out) if len(shapes) > 1 else np.asarray(out, np.float32)

    def load(start):
        out = tf.numpy_function(batch, [start], [tf.float32] * len(shapes), stateful=True)
        out = [tf.ensure_shape(x, (None, *shape)) for x, shape in zip(out, shapes)]
        return tuple(out) if len(shapes) > 1 else out[0]

    options = tf.data.Options()
    options.threading.private_threadpool_size = 1  # one reader thread: the two cores stay with training
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    starts = tf.data.Dataset.range(0, count, batch_size)
    return starts.map(load).prefetch(PREFETCH_BATCHES).with_options(options)
