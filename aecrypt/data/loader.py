"""Loading a training set: the MNI152 slices or any image folder (photographs, DICOM series,
NIfTI volumes), resized, split and cached.

Loaded sets are cached in ``data/processed/`` with a manifest; a cache whose manifest
does not match the parameters and the sources' hashes is rebuilt. A folder whose
processed images would need more than ``memory_limit_mb`` is cached as .npy shards and
read from disk (``aecrypt.data.shards``), split exactly as in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecrypt import config
from aecrypt.data import shards
from aecrypt.data.folders import FolderContents, folder_images, list_folder, report_skipped
from aecrypt.data.images import prepare_image
from aecrypt.data.scans import DEFAULT_AXIS
from aecrypt.data.sources import MIN_BRAIN_FRACTION, mni152_slices
from aecrypt.data.splits import (
    DEFAULT_GUARD_MM,
    DEFAULT_TEST_FRACTION,
    DEFAULT_VALIDATION_FRACTION,
    ROLE_IMAGES,
    ROLES,
    SPLITS,
    DatasetSplit,
    balanced_subset,
    check_fractions,
    default_split,
    patient_roles,
    random_roles,
    slab_roles,
    subsample_roles,
)
from aecrypt.data.windows import WINDOW_POLICY
from aecrypt.errors import DatasetError, ParameterError
from aecrypt.files import atomic_path, sha256_file, write_text
from aecrypt.progress import quiet_bar

#: The training sets ``load_dataset`` builds: the MNI152 volume's slices, or a folder of images.
DATASETS = ("mni152", "folder")
#: The layout of the processed cache; a cache written in another layout is rebuilt.
CACHE_FORMAT = 4
#: What a scan folder's manifest adds: each image's patient per role, and each volume's window.
SCAN_KEYS = ("groups", "scans")


def load_dataset(
    dataset: str = "mni152",
    data_dir: str | Path | None = None,
    image_size: int = 224,
    channels: int = 3,
    per_class: int | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    split_seed: int = 0,
    fundus_crop: bool = False,
    max_images: int | None = None,
    split: str | None = None,
    guard_mm: float = DEFAULT_GUARD_MM,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    strict: bool = False,
    use_cache: bool = True,
    memory_limit_mb: float | None = None,
    scan_axis: int = DEFAULT_AXIS,
) -> DatasetSplit:
    """Load, resize and split a dataset, reusing the processed cache only when it matches exactly.

    ``split`` is "slabs" (the default for the MNI152 volume: whole slabs of each plane,
    ``guard_mm`` apart) or "random" (the default for folders). ``per_class`` keeps a
    balanced subset before the split; ``max_images`` a seeded subset of the split's
    images, each role in proportion (for smoke runs). ``split_seed`` alone draws the subset
    and the split, so models trained under different training seeds share one test set. A
    folder whose processed images would need more than ``memory_limit_mb`` MiB (default
    ``shards.DEFAULT_MEMORY_LIMIT_MB``) is cached as .npy shards and its splits are
    ``shards.ShardedImages`` read from disk.

    A folder's DICOM series and NIfTI volumes (sliced along ``scan_axis``) are windowed as
    a viewer shows them (``windows.WINDOW_POLICY``, recorded in the manifest with each
    volume's window) and split by whole patients (``splits.patient_roles``).
    """
    split = _checked_split(dataset, data_dir, split, test_fraction, validation_fraction)
    _check_split_seed(split_seed)
    if scan_axis not in (0, 1, 2):
        raise ParameterError(f"scan_axis is 0, 1 or 2 (the axis NIfTI volumes are sliced along), not {scan_axis!r}")
    memory_limit_mb = shards.check_memory_limit(shards.DEFAULT_MEMORY_LIMIT_MB if memory_limit_mb is None else memory_limit_mb)
    contents = list_folder(data_dir, scan_axis, strict) if dataset == "folder" else None
    params = {
        "dataset": dataset,
        "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else None,
        "image_size": image_size,
        "channels": channels,
        "per_class": per_class,
        "test_fraction": test_fraction,
        "validation_fraction": validation_fraction,
        "split": split,
        "guard_mm": guard_mm if split == "slabs" else None,
        "split_seed": split_seed,
        "fundus_crop": fundus_crop,
        "max_images": max_images,
        "min_brain_fraction": MIN_BRAIN_FRACTION if dataset == "mni152" else None,
        "scan_axis": scan_axis if contents is not None else None,
        "scan_window": WINDOW_POLICY if contents is not None else None,
        "cache_format": CACHE_FORMAT,
    }
    sources = _sources(dataset, contents)
    cache_id = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    cache_path = config.PROCESSED_DIR / f"{dataset}-{image_size}px-{cache_id}"
    if contents is not None and _expected_bytes(contents, per_class, max_images, image_size, channels) > memory_limit_mb * 2**20:
        result = _load_streamed(params, sources, contents, cache_path if use_cache else None, strict, memory_limit_mb)
    else:
        result = _read_cache(cache_path, params, sources) if use_cache else None
        if result is None:
            result = _load_in_memory(params, sources, contents, strict)
            if use_cache:
                _write_cache(cache_path, result)
    result.manifest.update(data_path=result.data_path, memory_limit_mb=memory_limit_mb)
    return result


def _checked_split(dataset: str, data_dir: str | Path | None, split: str | None, test_fraction: float, validation_fraction: float) -> str:
    """The split a request asks for (or its dataset's default), or a one-line error saying what to change."""
    if dataset == "retina":
        raise DatasetError(
            "dataset='retina' is a single photograph (for the Figure 6 journey), not a training set; "
            "use aecrypt.data.sources.retina_image()"
        )
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if dataset == "folder" and data_dir is None:
        raise DatasetError("dataset='folder' needs data_dir, the folder that holds your images")
    split = default_split(dataset) if split is None else split
    if split not in SPLITS:
        raise ParameterError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if split == "slabs" and dataset != "mni152":
        raise ParameterError("split='slabs' needs slices of the MNI152 volume (dataset 'mni152'); a folder uses split='random' "
                             "(whole patients drawn at random for its DICOM series and NIfTI volumes)")
    check_fractions(test_fraction, validation_fraction)
    return split


def _check_split_seed(split_seed) -> None:
    """A split seed must be a whole number: None would draw a different split every time."""
    if not isinstance(split_seed, (int, np.integer)) or isinstance(split_seed, bool):
        raise ParameterError(f"split_seed must be a whole number (it draws the split), not {split_seed!r}")


@dataclass
class _Source:
    """A dataset's images as read (None while they stream into shards), with each one's label
    and name; the MNI152 slices' positions; a scan folder's patient per image and windows."""

    raw: list[np.ndarray] | None
    labels: list[str]
    names: list[str]
    positions: np.ndarray | None = None
    groups: list[str] | None = None
    scans: list[dict] | None = None


def _load_in_memory(params: dict, sources: dict, contents: FolderContents | None, strict: bool) -> DatasetSplit:
    """Read a dataset's images, draw its split and resize the chosen images, all in memory."""
    source = _read_source(params, contents, strict)
    chosen, roles = _choose(source, params)
    size, channels, crop = params["image_size"], params["channels"], params["fundus_crop"]
    images = np.stack([prepare_image(source.raw[i], size, channels, crop) for i in quiet_bar(chosen, "resizing")])
    return _assemble(lambda idx: images[idx], source, chosen, roles, params, sources)


def _read_source(params: dict, contents: FolderContents | None, strict: bool) -> _Source:
    """A dataset's raw images with their labels (the plane, for the volume) and names."""
    if params["dataset"] == "mni152":
        raw, labels, names, positions = mni152_slices()
        return _Source(raw, labels, names, positions)
    meta: list[tuple[str, str, str]] = []
    scans: list[dict] = []
    raw = list(_read_folder(contents, strict, meta, scans, "reading images"))
    return _folder_source(contents, meta, scans, raw)


def _read_folder(contents: FolderContents, strict: bool, meta: list[tuple[str, str, str]], scans: list[dict],
                 description: str) -> Iterator[np.ndarray]:
    """A folder's images one at a time, each one's (name, label, patient) appended to ``meta``
    and each volume's window to ``scans``; one warning for the files left out, once all are read."""
    skipped = list(contents.unreadable)
    for name, label, group, image in folder_images(contents, strict, skipped, scans, description):
        meta.append((name, label, group))
        yield image
    report_skipped(skipped, len(contents.files) + len(contents.unreadable))
    if not meta:
        raise DatasetError(f"{contents.root}: none of the images could be read")


def _folder_source(contents: FolderContents, meta: list[tuple[str, str, str]], scans: list[dict],
                   raw: list[np.ndarray] | None = None) -> _Source:
    """A folder's ``_Source`` from the (name, label, patient) of each image read; patients and
    windows only where the folder holds scans (a photograph is its own patient)."""
    has_scans = bool(contents.volumes)
    return _Source(raw, [label for _, label, _ in meta], [name for name, _, _ in meta],
                   groups=[group for _, _, group in meta] if has_scans else None, scans=scans if has_scans else None)


def _choose(source: _Source, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """The images a split uses (indices into the source's images) and each one's role, drawn from the split seed."""
    labels = np.array(source.labels, dtype=str)
    rng = np.random.default_rng(params["split_seed"])
    chosen = np.arange(len(labels))
    if params["per_class"] is not None:
        chosen = balanced_subset(labels, params["per_class"], rng)
    if params["split"] == "slabs":
        roles = slab_roles(labels[chosen], source.positions[chosen], params["test_fraction"], params["validation_fraction"], params["guard_mm"], rng)
    elif source.groups is not None:
        groups = np.array(source.groups, dtype=str)
        roles = patient_roles(labels[chosen], groups[chosen], params["test_fraction"], params["validation_fraction"], rng)
    else:
        roles = random_roles(labels[chosen], params["test_fraction"], params["validation_fraction"], rng)
    if params["max_images"] is not None:
        keep = subsample_roles(roles, labels[chosen], params["max_images"], rng)
        keep = np.union1d(keep, np.flatnonzero(roles == "guard"))
        chosen, roles = chosen[keep], roles[keep]
    return chosen, roles


def _assemble(take: Callable[[np.ndarray], np.ndarray], source: _Source, chosen: np.ndarray, roles: np.ndarray,
              params: dict, sources: dict) -> DatasetSplit:
    """A DatasetSplit and its manifest from the chosen images' roles; ``take(indices)`` gives
    those images (an array, or a view of shards on disk). A scan folder's manifest adds each
    image's patient ("groups") and each volume's window ("scans")."""
    part = {role: np.flatnonzero(roles == role) for role in ROLES}
    labels = np.array(source.labels, dtype=str)[chosen]
    names = [source.names[i] for i in chosen]
    manifest = {
        "parameters": params, "sources": sources,
        **{role: [names[i] for i in part[role]] for role in ROLES},
        "labels": {role: labels[part[role]].tolist() for role in ROLES},
    }
    if source.groups is not None:
        groups = [source.groups[i] for i in chosen]
        manifest["groups"] = {role: [groups[i] for i in part[role]] for role in ROLES}
        manifest["scans"] = {"split_by": "patient", "window_policy": WINDOW_POLICY, "volumes": source.scans}
    return _from_manifest(manifest, lambda role: take(part[role]))


def _from_manifest(manifest: dict, take: Callable[[str], np.ndarray]) -> DatasetSplit:
    """A DatasetSplit from its manifest (names and labels per role); ``take(role)`` gives that role's images."""
    labels = {role: np.array(manifest["labels"][role], str) for role in ROLES}
    return DatasetSplit(
        x_train=take("train"), x_test=take("test"), y_train=labels["train"], y_test=labels["test"],
        names_train=manifest["train"], names_test=manifest["test"],
        x_val=take("validation"), y_val=labels["validation"], names_val=manifest["validation"],
        x_guard=take("guard"), names_guard=manifest["guard"],
        manifest={key: manifest[key] for key in ("parameters", "sources", *ROLES, "labels", *SCAN_KEYS) if key in manifest},
    )


def _expected_bytes(contents: FolderContents, per_class: int | None, max_images: int | None, image_size: int, channels: int) -> int:
    """What a folder's processed images would take in memory (an upper bound: every labelled image and slice)."""
    count = contents.count
    if per_class is not None:
        count = min(count, per_class * len(set(contents.slice_labels)))
    if max_images is not None:
        count = min(count, max_images)
    return count * shards.image_bytes(image_size, channels)


def _load_streamed(params: dict, sources: dict, contents: FolderContents, cache_path: Path | None, strict: bool,
                   memory_limit_mb: float) -> DatasetSplit:
    """A folder too large for memory: the shards cached for these parameters, or the folder
    read, resized and written shard by shard, then split as ``load_dataset`` splits in memory."""
    final = None if cache_path is None else cache_path.with_name(cache_path.name + ".shards")
    cached = shards.open_store(final, params, sources) if final is not None else None
    if cached is not None:
        store, manifest = cached
        return _from_manifest(manifest, lambda role: shards.ShardedImages(store, manifest["positions"][role]))
    return _build_streamed(params, sources, contents, final, strict, memory_limit_mb)


def _build_streamed(params: dict, sources: dict, contents: FolderContents, final: Path | None, strict: bool,
                    memory_limit_mb: float) -> DatasetSplit:
    """Read, resize and write a folder shard by shard (one shard in memory), split it, and
    move the shards to ``final`` with their manifest (``final`` None: no cache, a temporary store)."""
    image_shape = (params["image_size"], params["image_size"], params["channels"])
    meta: list[tuple[str, str, str]] = []
    scans: list[dict] = []
    prepared = (prepare_image(image, params["image_size"], params["channels"], params["fundus_crop"])
                for image in _read_folder(contents, strict, meta, scans, "reading and resizing images"))
    per_shard = shards.shard_images(params["image_size"], params["channels"], memory_limit_mb)
    store = shards.build_store(prepared, final, per_shard, image_shape)
    source = _folder_source(contents, meta, scans)
    chosen, roles = _choose(source, params)
    split = _assemble(shards.ShardedImages(store, chosen).subset, source, chosen, roles, params, sources)
    if final is not None:
        positions = {role: getattr(split, attr).index.tolist() for role, attr in ROLE_IMAGES.items()}
        store = shards.commit_store(store, final, {**split.manifest, "positions": positions, "image_shape": list(image_shape)})
        for attr in ROLE_IMAGES.values():
            setattr(split, attr, shards.ShardedImages(store, getattr(split, attr).index))
    return split


def _sources(dataset: str, contents: FolderContents | None) -> dict[str, str]:
    """The source files a dataset is built from, each with its SHA-256, for the cache manifest
    (a folder's: every image and scan file, those whose header could not be read, and its CSVs)."""
    if dataset == "mni152":
        import nilearn.datasets  # imported here: nilearn is slow to import, and folders never need it

        template = Path(nilearn.datasets.__file__).parent / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
        return {template.name: sha256_file(template)} if template.exists() else {"nilearn": _nilearn_version()}
    root = contents.root
    files = sorted(contents.files + [path for path, _ in contents.unreadable]) + sorted(root.glob("*.csv"))
    return {str(p.relative_to(root)): sha256_file(p) for p in files}


def _nilearn_version() -> str:
    """nilearn's version, a stand-in source id when the template file cannot be located."""
    from importlib.metadata import version

    return version("nilearn")


def _read_cache(path: Path, params: dict, sources: dict) -> DatasetSplit | None:
    """A cached split if its manifest matches these parameters and source hashes, else None."""
    manifest_path, arrays_path = path.with_suffix(".json"), path.with_suffix(".npz")
    if not (manifest_path.exists() and arrays_path.exists()):
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("parameters") != params or manifest.get("sources") != sources:
            return None
        with np.load(arrays_path) as arrays:
            return _from_manifest(manifest, lambda role: arrays[ROLE_IMAGES[role]])
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt, never trusted


def _write_cache(path: Path, split: DatasetSplit) -> None:
    """Write the arrays and the manifest, each atomically (arrays first, so a manifest implies arrays)."""
    with atomic_path(path.with_suffix(".npz")) as tmp:
        np.savez(tmp, **{attr: getattr(split, attr) for attr in ROLE_IMAGES.values()})
    write_text(path.with_suffix(".json"), json.dumps(split.manifest, indent=1))
