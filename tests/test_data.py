"""Dataset loading: fixture folders in several formats, label files, splits, cache, bad input."""

import os
import socket
import stat
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from aecrypt.data.folders import SkippedImagesWarning
from aecrypt.data.images import IMAGE_SUFFIXES, crop_fundus, read_image, write_image, written_by_aecrypt
from aecrypt.data.loader import DATASETS, load_dataset
from aecrypt.data.sources import OOD_GROUPS, load_ood_images, retina_image
from aecrypt.data.splits import ROLES, slab_roles, stratified_split
from aecrypt.errors import DatasetError, ImageReadError, ParameterError
from aecrypt.files import TEMP_SUFFIX, atomic_file


def _write(path, array, **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save)


def _folder(tmp_path, rng, classes=("0", "1", "2"), per_class=6, corrupt=True):
    """Images in sub-folders per class, in PNG/JPEG/TIFF, 8/16-bit, grey/RGB/RGBA."""
    root = tmp_path / "images"
    for c in classes:
        for i in range(per_class):
            kind = i % 5
            name = root / c / f"img_{c}_{i}"
            if kind == 0:
                _write(name.with_suffix(".png"), rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
            elif kind == 1:
                _write(name.with_suffix(".jpg"), rng.integers(0, 256, (24, 20, 3), dtype=np.uint8), quality=90)
            elif kind == 2:
                _write(name.with_suffix(".tif"), rng.integers(0, 256, (16, 16), dtype=np.uint8))
            elif kind == 3:
                _write(name.with_suffix(".png"), rng.integers(0, 65536, (16, 16), dtype=np.uint16))
            else:
                _write(name.with_suffix(".png"), rng.integers(0, 256, (16, 16, 4), dtype=np.uint8))
    if corrupt:
        (root / classes[0] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def test_read_image_formats(tmp_path, rng):
    sixteen = rng.integers(0, 65536, (8, 8), dtype=np.uint16)
    _write(tmp_path / "a.png", sixteen)
    x = read_image(tmp_path / "a.png")
    assert x.shape == (8, 8, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], sixteen / 65535.0, atol=1e-6)
    _write(tmp_path / "b.png", rng.integers(0, 256, (8, 8, 4), dtype=np.uint8))
    assert read_image(tmp_path / "b.png").shape == (8, 8, 3)


def test_read_image_errors(tmp_path):
    with pytest.raises(ImageReadError, match="no such image"):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="corrupt, truncated"):
        read_image(bad)


def test_decompression_bomb_is_an_image_read_error(tmp_path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    huge = tmp_path / "huge.png"
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    with pytest.raises(ImageReadError, match="huge.png.*downscale"):
        read_image(huge)


def test_atomic_file_writes_through_a_private_temp_file_and_cleans_up(tmp_path):
    target = tmp_path / "x.png"
    with atomic_file(target) as handle:
        (temp,) = tmp_path.iterdir()
        assert temp.name.startswith(".x.png.") and temp.suffix == TEMP_SUFFIX and TEMP_SUFFIX not in IMAGE_SUFFIXES
        assert stat.S_IMODE(os.stat(temp).st_mode) == 0o600
        handle.write(b"done")
    assert target.read_bytes() == b"done" and not os.path.exists(temp)
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "y.png") as handle:
            handle.write(b"half")
            raise RuntimeError("killed half way")
    with pytest.raises(FileExistsError):
        with atomic_file(target, replace=False) as handle:
            handle.write(b"new")
    assert target.read_bytes() == b"done" and sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_write_image_replaces_a_symlink_without_following_it(tmp_path, rng, suffix):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / f"out{suffix}"
    target.symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_image(target, rng.random((8, 8, 3)), replace=False)
    write_image(target, rng.random((8, 8, 3)))
    assert victim.read_text() == "precious" and not target.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and written_by_aecrypt(target)
    assert Image.open(target).format == {".png": "PNG", ".jpg": "JPEG", ".tif": "TIFF"}[suffix]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, victim.name])


def test_write_image_leaves_nothing_when_it_fails(tmp_path, rng):
    with pytest.raises(OSError):
        write_image(tmp_path / "x.jpg", rng.random((8, 8, 4)))  # JPEG cannot hold RGBA
    assert list(tmp_path.iterdir()) == []
    _write(tmp_path / "original.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    assert not written_by_aecrypt(tmp_path / "original.png")


def test_truncated_image_is_an_error(tmp_path, rng):
    path = tmp_path / "t.png"
    _write(path, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageReadError):
        read_image(path)


def test_folder_with_subfolder_classes(tmp_path, rng):
    root = _folder(tmp_path, rng)
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    with pytest.warns(SkippedImagesWarning, match="skipped 1 unreadable image.*broken.png"):
        split = load_dataset("folder", data_dir=root, image_size=16, split_seed=0)
    assert split.x_train.shape[1:] == (16, 16, 3)
    assert len(split.x_train) + len(split.x_val) + len(split.x_test) == 18 and len(split.x_guard) == 0
    assert split.classes == ["0", "1", "2"]
    # stratified: every class is in the test split in proportion (6 * 0.2 -> 1)
    assert sorted(pd.Series(split.y_test).value_counts().tolist()) == [1, 1, 1]
    assert split.x_train.min() >= 0 and split.x_train.max() <= 1
    # nothing under the user's folder changed
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before


def test_strict_mode_fails_on_an_unreadable_file(tmp_path, rng):
    root = _folder(tmp_path, rng)
    with pytest.raises(ImageReadError, match="broken.png"):
        load_dataset("folder", data_dir=root, image_size=16, strict=True, use_cache=False)


def test_split_is_deterministic_under_a_seed(tmp_path, rng):
    root = _folder(tmp_path, rng, corrupt=False)
    a = load_dataset("folder", data_dir=root, image_size=16, split_seed=3, use_cache=False)
    b = load_dataset("folder", data_dir=root, image_size=16, split_seed=3, use_cache=False)
    c = load_dataset("folder", data_dir=root, image_size=16, split_seed=4, use_cache=False)
    assert a.names_test == b.names_test and np.array_equal(a.x_test, b.x_test)
    assert a.names_test != c.names_test


def test_messidor_csv_labels(tmp_path, rng):
    root = tmp_path / "messidor"
    names = [f"20051020_{i:05d}_0100_PP.png" for i in range(10)]
    for name in names:
        _write(root / "IMAGES" / name, rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    grades = [0, 1, 2, 3, 4, 0, 1, 2, 3, None]
    pd.DataFrame({"image_id": names, "adjudicated_dr_grade": grades, "adjudicated_dme": 0}).to_csv(root / "messidor_data.csv", index=False)
    with pytest.warns(SkippedImagesWarning, match="no row"):  # the ungradable image is left out
        split = load_dataset("folder", data_dir=root, image_size=8, test_fraction=0.5, use_cache=False)
    assert sorted(split.classes) == ["0", "1", "2", "3", "4"]
    assert len(split.y_train) + len(split.y_val) + len(split.y_test) == 9


def test_eyepacs_csv_labels_and_balanced_subset(tmp_path, rng):
    root = tmp_path / "eyepacs"
    rows = []
    for i in range(30):
        _write(root / "train" / f"{i}_left.jpeg", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
        rows.append({"image": f"{i}_left", "level": i % 3})
    pd.DataFrame(rows).to_csv(root / "trainLabels.csv", index=False)
    split = load_dataset("folder", data_dir=root, image_size=8, per_class=4, test_fraction=0.25, use_cache=False)
    counts = pd.Series(np.concatenate([split.y_train, split.y_val, split.y_test])).value_counts()
    assert counts.to_dict() == {"0": 4, "1": 4, "2": 4}
    assert pd.Series(split.y_test).value_counts().to_dict() == {"0": 1, "1": 1, "2": 1}


def test_labels_file_naming_missing_images(tmp_path, rng):
    root = tmp_path / "eyepacs"
    _write(root / "1_left.jpeg", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    pd.DataFrame({"image": ["1_left", "2_right"], "level": [0, 1]}).to_csv(root / "trainLabels.csv", index=False)
    with pytest.raises(DatasetError, match="names 1 image.*2_right"):
        load_dataset("folder", data_dir=root, image_size=8, use_cache=False)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset folder"):
        load_dataset("folder", data_dir=tmp_path / "nope", image_size=8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset("folder", data_dir=tmp_path / "empty", image_size=8)
    with pytest.raises(DatasetError, match="needs data_dir"):
        load_dataset("folder", image_size=8)
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("imagenet", image_size=8)


def test_unlabelled_folder(tmp_path, rng):
    root = tmp_path / "flat"
    for i in range(5):
        _write(root / f"{i}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    split = load_dataset("folder", data_dir=root, image_size=8, channels=1, use_cache=False)
    assert split.classes == ["unlabelled"] and split.x_train.shape[-1] == 1


def test_cache_is_reused_and_rebuilt_when_sources_change(tmp_path, rng):
    import aecrypt.config as config

    root = _folder(tmp_path, rng, corrupt=False)
    first = load_dataset("folder", data_dir=root, image_size=16)
    assert list(config.PROCESSED_DIR.glob("*.json"))
    again = load_dataset("folder", data_dir=root, image_size=16)
    assert again.names_test == first.names_test and np.array_equal(again.x_test, first.x_test)
    # change one source image: the manifest's hash no longer matches, so the cache is rebuilt
    target = root / first.names_test[0]
    image = np.asarray(Image.open(target))
    Image.fromarray(255 - image).save(target)
    rebuilt = load_dataset("folder", data_dir=root, image_size=16)
    assert not np.array_equal(rebuilt.x_test, first.x_test)
    # each cache is one .npz and one .json, written through temporary files that are gone
    names = sorted(p.name for p in config.PROCESSED_DIR.iterdir())
    suffixes = [name.rsplit(".", 1)[-1] for name in names]
    assert sorted(set(suffixes)) == ["json", "npz"] and suffixes.count("json") == suffixes.count("npz"), names
    assert not any(TEMP_SUFFIX in name or name.startswith(".") for name in names), names


def test_cache_reads_back_labels_names_and_roles_as_built(tmp_path, rng):
    root = _folder(tmp_path, rng, corrupt=False)
    built = load_dataset("folder", data_dir=root, image_size=16)
    cached = load_dataset("folder", data_dir=root, image_size=16)
    for images, labels, names in (("x_train", "y_train", "names_train"), ("x_val", "y_val", "names_val"), ("x_test", "y_test", "names_test")):
        assert np.array_equal(getattr(cached, images), getattr(built, images)), images
        assert getattr(cached, labels).tolist() == getattr(built, labels).tolist() and getattr(cached, names) == getattr(built, names)
    assert cached.manifest == built.manifest


def test_retina_is_not_a_training_set():
    assert "retina" not in DATASETS
    with pytest.raises(DatasetError, match="retina_image"):
        load_dataset("retina")
    with pytest.raises(DatasetError, match="mni152, folder"):
        load_dataset("nonsense")


def test_stratified_split_proportions():
    labels = np.array(["a"] * 10 + ["b"] * 20)
    train, test = stratified_split(labels, 0.2, np.random.default_rng(0))
    assert len(test) == 6 and (labels[test] == "a").sum() == 2
    assert set(train).isdisjoint(test) and len(train) + len(test) == 30


@pytest.mark.slow
def test_default_dataset_loads_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the default dataset tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    split = load_dataset("mni152", image_size=32, split_seed=0)
    total = len(split.x_train) + len(split.x_val) + len(split.x_test) + len(split.x_guard)
    assert 350 <= total <= 450
    assert split.classes == ["axial", "coronal", "sagittal"]
    assert split.x_train.shape[1:] == (32, 32, 3)
    assert np.allclose(split.x_train[..., 0], split.x_train[..., 2])  # grey replicated
    image = retina_image(32)
    assert image.shape == (32, 32, 3) and image.max() > 0.5


def test_max_images_keeps_a_small_stratified_subset():
    split = load_dataset("mni152", image_size=16, max_images=30, split_seed=1, use_cache=False)
    assert 28 <= len(split.x_train) + len(split.x_val) + len(split.x_test) <= 32  # each role rounded in proportion
    assert len(split.x_val) >= 1 and len(split.x_test) >= 1
    assert split.classes == ["axial", "coronal", "sagittal"]


def test_crop_fundus_drops_black_border():
    image = np.zeros((20, 30, 3), np.float32)
    image[5:15, 10:22] = 0.5
    assert crop_fundus(image).shape == (10, 12, 3)


def _planes_and_positions():
    """Three planes of 60 slices 1 mm apart; the first plane folded at its midline."""
    planes = np.repeat(["sagittal", "coronal", "axial"], 60)
    positions = np.concatenate([np.abs(np.arange(60) - 29.5), np.arange(60.0), np.arange(60.0)])
    return planes, positions


@pytest.mark.parametrize("guard", [0.0, 2.0, 4.0])
def test_slab_split_keeps_test_slices_guard_mm_from_training(guard):
    planes, positions = _planes_and_positions()
    roles = slab_roles(planes, positions, 0.2, 0.1, guard, np.random.default_rng(0))
    assert set(roles) <= set(ROLES) and {"train", "validation", "test"} <= set(roles)
    for plane in set(planes):
        here = planes == plane
        test, train, val = (positions[here & (roles == r)] for r in ("test", "train", "validation"))
        gap = np.min(np.abs(test[:, None] - train[None, :]))
        assert gap > guard  # strictly more than guard_mm apart
        assert np.min(np.abs(val[:, None] - train[None, :])) > guard
        if guard == 0:
            assert not np.any(roles[here] == "guard")


def test_slab_split_puts_mirrored_sagittal_slices_on_one_side():
    planes, positions = _planes_and_positions()
    roles = slab_roles(planes, positions, 0.2, 0.1, 0.0, np.random.default_rng(3))
    sagittal = roles[planes == "sagittal"]
    assert np.array_equal(sagittal, sagittal[::-1])  # slice i and its mirror 59 - i share a role


def test_slab_split_is_seeded():
    planes, positions = _planes_and_positions()
    a = slab_roles(planes, positions, 0.2, 0.1, 4.0, np.random.default_rng(1))
    b = slab_roles(planes, positions, 0.2, 0.1, 4.0, np.random.default_rng(1))
    c = slab_roles(planes, positions, 0.2, 0.1, 4.0, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_slab_split_refuses_folders_and_bad_fractions(tmp_path, rng):
    root = _folder(tmp_path, rng, corrupt=False)
    with pytest.raises(ParameterError, match="slabs"):
        load_dataset("folder", data_dir=root, image_size=8, split="slabs", use_cache=False)
    with pytest.raises(ParameterError, match="test_fraction"):
        slab_roles(*_planes_and_positions(), 1.5, 0.1, 1.0, np.random.default_rng(0))


@pytest.mark.slow
def test_default_split_has_no_near_duplicate_test_slices():
    # the measurement behind DEFAULT_GUARD_MM: no test slice has a training slice (or its mirror)
    # as similar as neighbouring slices are; the old random split had one for every test slice
    from aecrypt.experiments.leakage import NEAR_DUPLICATE_SSIM, leakage_per_image

    slabs = load_dataset("mni152", image_size=64, split_seed=0, use_cache=False)  # the thumbnails' own size
    random = load_dataset("mni152", image_size=64, split_seed=0, split="random", use_cache=False)
    assert leakage_per_image(slabs)["ssim"].max() < NEAR_DUPLICATE_SSIM
    assert leakage_per_image(random)["ssim"].median() >= NEAR_DUPLICATE_SSIM
    assert slabs.test_hash() != random.test_hash() and len(slabs.test_hash()) == 16


@pytest.mark.slow
def test_ood_scans_install_with_the_package(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the out-of-distribution scans tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    images, names, groups = load_ood_images(24)
    assert images.shape[1:] == (24, 24, 3) and images.min() >= 0 and images.max() <= 1
    assert set(groups) == set(OOD_GROUPS) and len(set(names)) == len(names) >= 20
    assert all(image.std() > 0.05 for image in images)  # real pictures, not blank frames


@pytest.mark.slow
def test_held_out_images_are_neither_training_images_nor_beside_a_test_slab():
    # the attacker's fair share (notebook 06): never the owner's training slices, and no
    # nearer to a test slice than the owner's training slices are
    from aecrypt.data.sources import mni152_positions
    from aecrypt.data.splits import held_out_images

    split = load_dataset("mni152", image_size=16, split_seed=0, guard_mm=4.0, use_cache=False)
    images, names = held_out_images(split, 4.0)
    assert len(images) == len(names) > len(split.names_val)
    assert set(split.names_val) <= set(names)
    assert not set(names) & (set(split.names_train) | set(split.names_test))
    where = mni152_positions()
    for name in names:
        plane, position = where[name]
        nearest = min(abs(position - where[t][1]) for t in split.names_test if where[t][0] == plane)
        assert nearest > 4.0, name
    skipped = set(split.names_guard) - set(names)
    assert skipped and all(min(abs(where[g][1] - where[t][1]) for t in split.names_test if where[t][0] == where[g][0]) <= 4.0
                           for g in skipped)


def test_held_out_images_of_a_folder_are_its_validation_images(tmp_path, rng):
    from aecrypt.data.splits import held_out_images

    split = load_dataset("folder", data_dir=_folder(tmp_path, rng, corrupt=False), image_size=8, use_cache=False)
    images, names = held_out_images(split, 4.0)
    assert names == list(split.names_val) and len(images) == len(split.x_val)
