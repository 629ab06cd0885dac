"""Folders larger than memory_limit_mb: a sharded cache built shard by shard, streamed training."""

import warnings

import numpy as np
import pytest
from PIL import Image

from aecrypt import config
from aecrypt.data import shards
from aecrypt.data.folders import SkippedImagesWarning
from aecrypt.data.loader import load_dataset
from aecrypt.errors import ParameterError

#: 16x16x3 float32 images take 3 KiB: a 0.05 MiB bound holds 17 of them, fewer than the folder's
#: 24, and its shards (an eighth of the bound) hold 2 images each.
TINY_BOUND_MB = 0.05
IMAGES_PER_SHARD = 2


def _folder(tmp_path, rng, per_class=12):
    """Two classes of small RGB and grey PNGs (not square, so they are padded and resized) and one broken file."""
    root = tmp_path / "images"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            shape = (20, 24, 3) if i % 2 else (18, 18)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / c / f"{i:02d}.png")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def _load(root, **kwargs):
    """The folder at 16x16, seed 3; the broken file's warning (once per build) is not this test's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImagesWarning)
        return load_dataset("folder", data_dir=root, image_size=16, split_seed=3, **kwargs)


def test_sharded_cache_is_written_shard_by_shard_and_reads_back_the_in_memory_arrays(tmp_path, rng):
    root = _folder(tmp_path, rng)
    assert shards.shard_images(16, 3, TINY_BOUND_MB) == IMAGES_PER_SHARD
    in_memory = _load(root)
    streamed = _load(root, memory_limit_mb=TINY_BOUND_MB)
    assert in_memory.data_path == in_memory.manifest["data_path"] == "in memory"
    assert streamed.data_path == streamed.manifest["data_path"] == "streamed"
    assert isinstance(streamed.x_train, shards.ShardedImages)

    files = streamed.x_train.shard_files
    assert files[0].parent.parent == config.PROCESSED_DIR and files[0].parent.name.endswith(".shards")
    sizes = [np.load(path, mmap_mode="r").shape[0] for path in files]
    assert max(sizes) == IMAGES_PER_SHARD and sum(sizes) == 24  # every readable image, two to a shard
    assert not list(config.PROCESSED_DIR.glob("*.tmp-*"))  # the build folder was moved into place

    again = _load(root, memory_limit_mb=TINY_BOUND_MB)  # from the sharded cache
    for split in (streamed, again):
        for part in ("x_train", "x_val", "x_test", "x_guard"):
            assert np.array_equal(np.asarray(getattr(split, part)), getattr(in_memory, part)), part
        assert split.x_train.shape == in_memory.x_train.shape and len(split.x_test) == len(in_memory.x_test)
        assert np.array_equal(split.x_train[3], in_memory.x_train[3])
        assert np.array_equal(split.x_test[1:3], in_memory.x_test[1:3])
        assert np.array_equal(split.x_train[[4, 0], ..., 1], in_memory.x_train[[4, 0], ..., 1])
        assert (split.names_train, split.names_val, split.names_test) == (in_memory.names_train, in_memory.names_val, in_memory.names_test)
        assert split.y_train.tolist() == in_memory.y_train.tolist() and split.test_hash() == in_memory.test_hash()
        drop = {"data_path", "memory_limit_mb"}
        assert {k: v for k, v in split.manifest.items() if k not in drop} == {k: v for k, v in in_memory.manifest.items() if k not in drop}

    for bad in (0, -1.0, "lots", True):
        with pytest.raises(ParameterError, match="memory_limit_mb must be a positive number"):
            load_dataset("folder", data_dir=root, image_size=16, memory_limit_mb=bad)
    from aecrypt.study.parameters import check_value

    with pytest.raises(ParameterError, match="memory_limit_mb must be at least"):
        check_value("memory_limit_mb", -5.0, "Optional[float]")


@pytest.mark.slow
def test_a_folder_over_the_memory_bound_trains_streamed_with_the_in_memory_loss_curve(tmp_path, rng):
    from aecrypt.method.model import build_autoencoder, save_model
    from aecrypt.method.pipeline import encode
    from aecrypt.method.training import seed_everything, train_autoencoder

    root = _folder(tmp_path, rng)
    curves = {}
    for bound in (None, TINY_BOUND_MB):
        split = _load(root, memory_limit_mb=bound, use_cache=False)
        seed_everything(0)
        autoencoder, encoder, _ = build_autoencoder(image_size=16)
        checkpoint = tmp_path / split.data_path / "best.weights.h5"
        result = train_autoencoder(autoencoder, split.x_train, split.x_val, epochs=2, batch_size=4, seed=0,
                                   checkpoint=checkpoint, progress=False)
        assert result.data_path == split.data_path
        assert np.isfinite(result.history[["loss", "val_loss"]].values).all() and checkpoint.is_file()
        curves[result.data_path] = result.history[["loss", "val_loss"]].values
        if bound is not None:
            assert np.array_equal(encode(encoder, split.x_test), encode(encoder, np.asarray(split.x_test)))  # read in batches
            save_model(encoder, tmp_path / "encoder.keras")
            assert (tmp_path / "encoder.keras").is_file()
    assert set(curves) == {"in memory", "streamed"}
    np.testing.assert_allclose(curves["streamed"], curves["in memory"], rtol=1e-6)  # same batches, same order


@pytest.mark.slow
def test_denoising_fine_tune_noises_a_streamed_set_batch_by_batch(tmp_path, rng):
    from aecrypt.experiments import robustness
    from aecrypt.method.model import build_autoencoder

    split = _load(_folder(tmp_path, rng), memory_limit_mb=TINY_BOUND_MB, use_cache=False)
    assert isinstance(split.x_train, shards.ShardedImages)
    batches = list(robustness.noisy_stream(split.x_val, seed=0, batch_size=4, shuffle=False).as_numpy_iterator())
    again = list(robustness.noisy_stream(split.x_val, seed=0, batch_size=4, shuffle=False).as_numpy_iterator())
    noisy, clean = map(np.concatenate, zip(*batches))
    assert np.array_equal(clean, np.asarray(split.x_val)) and not np.array_equal(noisy, clean)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again))  # validation: the same draws every pass
    _, encoder, decoder = build_autoencoder(image_size=16)
    _, _, result = robustness.train_denoising_model(encoder, decoder, split.x_train, split.x_val, epochs=2, seed=0,
                                                    batch_size=4, progress=False)
    assert result.data_path == "streamed" and len(result.history) == 2
    assert np.isfinite(result.history[["loss", "val_loss"]].values).all()
