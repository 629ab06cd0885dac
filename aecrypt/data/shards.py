"""Image sets larger than memory: the processed cache as .npy shards, read a batch at a time.

``load_dataset`` takes this path for a folder whose processed images would need more than
``memory_limit_mb``: it reads, resizes and writes the images shard by shard (one shard in
memory at a time), then splits them exactly as the in-memory path does (same labels,
same seeded split, same manifest). Each part of the split is a ``ShardedImages``: an array
look-alike (``shape``, ``len``, indexing) whose images stay on disk until asked for;
``train_autoencoder`` reads it through ``tf.data`` with prefetch, in the same seeded order
as an in-memory array, so both paths visit the same batches.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from aecrypt.errors import ParameterError
from aecrypt.method.streaming import batch_dataset

#: Processed images may take this many MiB in memory; a larger set is streamed from shards.
#: 4 GiB holds about 7,000 images of 224x224x3 (float32), or the whole study at 96x96.
DEFAULT_MEMORY_LIMIT_MB = 4096.0
#: Largest shard, in MiB; a small memory bound gets shards of an eighth of it.
SHARD_MB = 64.0
SHARD_PATTERN = "x-{:05d}.npy"
MANIFEST = "shards.json"  # the cache's own record (not a model's manifest)


def check_memory_limit(memory_limit_mb) -> float:
    """The memory bound as a float, or a ParameterError saying what a valid one is."""
    if isinstance(memory_limit_mb, bool) or not isinstance(memory_limit_mb, (int, float)) or not memory_limit_mb > 0:
        raise ParameterError(f"memory_limit_mb must be a positive number of MiB (default {DEFAULT_MEMORY_LIMIT_MB:g}), not {memory_limit_mb!r}")
    return float(memory_limit_mb)


def image_bytes(image_size: int, channels: int) -> int:
    """Bytes of one processed image (float32)."""
    return image_size * image_size * channels * 4


def shard_images(image_size: int, channels: int, memory_limit_mb: float) -> int:
    """Images per shard: at most ``SHARD_MB`` MiB and an eighth of the memory bound, at least one."""
    budget = min(SHARD_MB, memory_limit_mb / 8) * 2**20
    return max(1, int(budget // image_bytes(image_size, channels)))


class _Store:
    """The shard files of one processed set, in build order; removes a temporary folder when dropped."""

    def __init__(self, folder: Path, counts: list[int], image_shape: tuple[int, ...], temporary: bool = False):
        self.folder = Path(folder)
        self.paths = [self.folder / SHARD_PATTERN.format(k) for k in range(len(counts))]
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.image_shape = tuple(image_shape)
        self.cleanup = weakref.finalize(self, shutil.rmtree, str(self.folder), True) if temporary else None

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Images at these store positions, in this order: each shard memory-mapped only while read."""
        positions = np.asarray(positions, np.int64)
        out = np.empty((len(positions), *self.image_shape), np.float32)
        shard_of = np.searchsorted(self.starts, positions, side="right") - 1
        for shard in np.unique(shard_of):
            where = np.flatnonzero(shard_of == shard)
            stored = np.load(self.paths[shard], mmap_mode="r")
            out[where] = stored[positions[where] - self.starts[shard]]
            del stored  # unmap, so pages read stay out of this process's resident memory
        return out


class ShardedImages:
    """Float32 images (N, H, W, C) kept in .npy shards on disk: indexing reads only what it names.

    ``x[i]``, ``x[a:b]`` and ``x[indices]`` return NumPy arrays; ``np.asarray(x)`` reads
    every image (only for sets that fit in memory); ``x.subset(indices)`` is another view.
    The method knows it by ``on_disk`` (``aecrypt.method.streaming.ImagesOnDisk``).
    """

    dtype = np.dtype(np.float32)
    on_disk = True  # read a batch at a time by training and the pipeline, never whole

    def __init__(self, store: _Store, index: np.ndarray):
        self._store = store
        self.index = np.asarray(index, np.int64)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self._store.image_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self._store.image_shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    @property
    def shard_files(self) -> list[Path]:
        """The shard files this view reads from (all of its store)."""
        return list(self._store.paths)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, tuple):  # x[images, rows, ...]: read the images, then index within them
            if not key or key[0] is Ellipsis:
                return np.asarray(self)[key]
            return self[key[0]][(slice(None), *key[1:]) if np.ndim(self.index[key[0]]) else key[1:]]
        picked = self.index[key]
        if np.ndim(picked) == 0:
            return self._store.read(np.array([picked]))[0]
        return self._store.read(picked)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        x = self._store.read(self.index)
        return x if dtype is None else x.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"ShardedImages(shape={self.shape}, shards={len(self._store.paths)}, folder={self._store.folder})"

    def subset(self, indices) -> ShardedImages:
        """The images at these indices (of this view), still on disk."""
        return ShardedImages(self._store, self.index[np.asarray(indices, np.int64)])

    def stream(self, batch_size: int, order: np.ndarray | None = None):
        """A ``tf.data.Dataset`` of float32 batches in ``order`` (indices of this view), read ahead."""
        order = np.arange(len(self)) if order is None else np.asarray(order, np.int64)
        positions = self.index[order]
        return batch_dataset(len(positions), batch_size, lambda start, stop: self._store.read(positions[start:stop]),
                             (self._store.image_shape,))


def write_shards(images: Iterable[np.ndarray], folder: Path, per_shard: int) -> list[int]:
    """Write images to ``folder`` as .npy shards of at most ``per_shard`` images, one shard in
    memory at a time; returns the number of images in each shard."""
    counts, buffer = [], []

    def flush() -> None:
        np.save(folder / SHARD_PATTERN.format(len(counts)), np.stack(buffer).astype(np.float32, copy=False))
        counts.append(len(buffer))
        buffer.clear()

    for image in images:
        buffer.append(image)
        if len(buffer) == per_shard:
            flush()
    if buffer:
        flush()
    return counts


def build_store(images: Iterable[np.ndarray], final: Path | None, per_shard: int, image_shape: tuple[int, ...]) -> _Store:
    """Shards written into a temporary folder beside ``final`` (removed on error), or into a
    temporary folder removed when no view uses it any more (``final`` None: no cache)."""
    if final is None:
        folder = Path(tempfile.mkdtemp(prefix="aecrypt-shards-"))
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    try:
        counts = write_shards(images, folder, per_shard)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _Store(folder, counts, image_shape, temporary=True)


def commit_store(store: _Store, final: Path, manifest: dict) -> _Store:
    """Move a built store to its cache folder with its manifest (written last: a manifest
    implies complete shards); returns the store at its new place."""
    counts = np.diff(store.starts).tolist()
    if store.cleanup is not None:
        store.cleanup.detach()
    (store.folder / MANIFEST).write_text(json.dumps({**manifest, "shards": counts}, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(store.folder, final)
    return _Store(final, counts, store.image_shape)


def open_store(final: Path, params: dict, sources: dict) -> tuple[_Store, dict] | None:
    """A cached store and its manifest if the manifest matches these parameters and sources, else None."""
    try:
        manifest = json.loads((final / MANIFEST).read_text())
        if manifest.get("parameters") != params or manifest.get("sources") != sources:
            return None
        counts = [int(c) for c in manifest["shards"]]
        store = _Store(final, counts, tuple(manifest["image_shape"]))
        if not all(p.is_file() for p in store.paths):
            return None
        return store, manifest
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged cache is rebuilt, never trusted
