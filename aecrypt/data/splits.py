"""Splitting a dataset: training, validation, test and guard images, by whole slabs of a
volume (so no test slice has a near-copy in training), at random per class, or by whole
patients for a folder of scans, drawn from one seed; the ``DatasetSplit`` that holds them, and what an attacker may fairly use."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aecrypt.data.sources import mni152_positions
from aecrypt.errors import DatasetError, ParameterError
from aecrypt.method.streaming import kept_on_disk

#: Section 4: "The used dataset has been split into 80% training and 20% testing."
DEFAULT_TEST_FRACTION = 0.2
#: How a dataset is split. "slabs" (volumes): each plane cut into contiguous slabs, whole
#: slabs go to training, validation or test, with a guard gap between them; "random":
#: images drawn at random per class (folders of independent photographs), and in a folder
#: of DICOM series or NIfTI volumes whole patients drawn at random (``patient_roles``).
SPLITS = ("slabs", "random")
#: Slabs per plane; the seed picks which go to test and validation.
SLABS_PER_PLANE = 10
#: Default guard gap (mm) between training, validation and test slabs. notebooks/01 measures
#: the nearest-training SSIM of the test slices against the gap (table_leakage_by_gap).
DEFAULT_GUARD_MM = 4.0
#: The share of non-test images held out for validation (early stopping).
DEFAULT_VALIDATION_FRACTION = 0.1
#: Roles an image can have in a split; "guard" images are left out of all three.
ROLES = ("train", "validation", "test", "guard")
#: The ``DatasetSplit`` attribute that holds each role's images.
ROLE_IMAGES = {"train": "x_train", "validation": "x_val", "test": "x_test", "guard": "x_guard"}


@dataclass
class DatasetSplit:
    """A dataset split into training, validation and test images (float32 in [0, 1], NHWC),
    with labels and names; ``guard`` images sit in the gaps between slabs and are used by
    none of the three (only to measure what a neighbour of a training image scores). For a
    folder larger than the memory bound the four image sets are ``shards.ShardedImages``,
    which index like arrays but stay on disk (``kept_on_disk``)."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    names_train: list[str]
    names_test: list[str]
    x_val: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 1), np.float32))
    y_val: np.ndarray = field(default_factory=lambda: np.zeros(0, str))
    names_val: list[str] = field(default_factory=list)
    x_guard: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 1), np.float32))
    names_guard: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def data_path(self) -> str:
        """"streamed" when the images stay in shards on disk (``shards.ShardedImages``), else "in memory"."""
        return "streamed" if kept_on_disk(self.x_train) else "in memory"

    @property
    def classes(self) -> list[str]:
        """Sorted class names present in any split (``['unlabelled']`` without labels)."""
        return sorted(set(self.y_train.tolist()) | set(self.y_val.tolist()) | set(self.y_test.tolist()))

    def summary(self) -> pd.DataFrame:
        """Counts per class and split, for the data notebook's table."""
        rows = [{"split": role, "class": y} for role, labels in (("train", self.y_train), ("validation", self.y_val), ("test", self.y_test)) for y in labels]
        table = pd.DataFrame(rows).value_counts().unstack("split", fill_value=0)
        return table.reindex(columns=["train", "validation", "test"], fill_value=0).rename_axis(columns=None).reset_index()

    def patients(self, role: str) -> list[str] | None:
        """The patient of each of a role's images (in order), for a folder of scans; None for photographs and MNI152."""
        groups = self.manifest.get("groups")
        return None if groups is None else list(groups[role])

    def test_hash(self) -> str:
        """SHA-256 of the sorted test image names: two runs test on the same images iff equal."""
        return names_hash(self.names_test)

    def train_hash(self) -> str:
        """SHA-256 of the sorted training and validation image names."""
        return names_hash(self.names_train + self.names_val)


def names_hash(names: list[str]) -> str:
    """A short, order-free fingerprint of a list of image names."""
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16]


def balanced_subset(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``per_class`` images drawn from each class (the paper's 5 x 50)."""
    chosen = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            warnings.warn(f"class {label!r} has only {len(members)} images, fewer than per_class={per_class}", stacklevel=2)
        chosen.extend(rng.choice(members, size=min(per_class, len(members)), replace=False).tolist())
    return np.sort(np.array(chosen, dtype=int))


def stratified_split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with each class split in the same proportion, seeded."""
    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    train, test = [], []
    for label in sorted(set(labels.tolist())):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(len(members) * test_fraction))
        if len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test.extend(members[:n_test].tolist())
        train.extend(members[n_test:].tolist())
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def slab_roles(
    groups: np.ndarray,
    positions: np.ndarray,
    test_fraction: float,
    validation_fraction: float,
    guard_mm: float,
    rng: np.random.Generator,
    slabs: int = SLABS_PER_PLANE,
) -> np.ndarray:
    """Each slice's role ("train", "validation", "test" or "guard") under the slab split.

    Per group (plane), the slices' positions are cut into ``slabs`` contiguous slabs of
    equal count; the seeded ``rng`` sends whole slabs to test and validation, the rest to
    training. A training slice within ``guard_mm`` of a test or validation slice, or a
    validation slice within ``guard_mm`` of a test slice, becomes "guard" (used by none).
    """
    check_fractions(test_fraction, validation_fraction)
    if guard_mm < 0:
        raise ParameterError(f"guard_mm must be 0 or more, not {guard_mm}")
    roles = np.full(len(groups), "train", dtype=object)
    for group in sorted(set(groups.tolist())):
        members = np.flatnonzero(groups == group)
        unique = np.unique(positions[members])
        n_slabs = min(slabs, len(unique))
        slab_of = {p: int(rank * n_slabs // len(unique)) for rank, p in enumerate(unique)}
        n_test = min(max(1, int(round(n_slabs * test_fraction))), n_slabs - 1)
        n_val = int(round(n_slabs * (1 - test_fraction) * validation_fraction))
        n_val = min(max(n_val, 1 if validation_fraction > 0 else 0), n_slabs - n_test - 1)
        role_of_slab = dict(enumerate(_slab_blocks(n_slabs, n_test, n_val, rng)))
        for i in members:
            roles[i] = role_of_slab.get(slab_of[positions[i]], "train")
        for role, above in (("train", ("test", "validation")), ("validation", ("test",))):
            held = positions[members[np.isin(roles[members], above)]]
            if held.size == 0:
                continue
            for i in members[roles[members] == role]:
                if np.min(np.abs(held - positions[i])) <= guard_mm:
                    roles[i] = "guard"
    return roles.astype(str)


def _slab_blocks(n_slabs: int, n_test: int, n_val: int, rng: np.random.Generator) -> list[str]:
    """The role of each slab in order: test and validation each one contiguous block, placed
    at random among the training slabs (fewer boundaries, so the guard gaps cost less)."""
    units = ["test"] + (["validation"] if n_val else []) + ["train"] * (n_slabs - n_test - n_val)
    order = [units[i] for i in rng.permutation(len(units))]
    return [role for unit in order for role in [unit] * {"test": n_test, "validation": n_val}.get(unit, 1)]


def random_roles(labels: np.ndarray, test_fraction: float, validation_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Each image's role under a seeded random split, stratified by class (no guard)."""
    check_fractions(test_fraction, validation_fraction)
    roles = np.full(len(labels), "train", dtype=object)
    train, test = stratified_split(labels, test_fraction, rng)
    roles[test] = "test"
    if validation_fraction > 0 and len(train) > 1:
        n_val = min(max(1, int(round(len(train) * validation_fraction))), len(train) - 1)
        roles[rng.choice(train, n_val, replace=False)] = "validation"
    return roles.astype(str)


def patient_roles(labels: np.ndarray, groups: np.ndarray, test_fraction: float, validation_fraction: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Each image's role when whole patients are drawn at random (a volume's slices never on two sides).

    ``groups`` names each image's patient. A folder whose groups are all single images
    (photographs) is split exactly as ``random_roles`` splits it. Otherwise the seeded
    ``rng`` sends ``test_fraction`` of the patients (at least one) to test and
    ``validation_fraction`` of the rest to validation (one at least when asked for and
    there are three patients or more), the rest to training.
    """
    check_fractions(test_fraction, validation_fraction)
    patients = sorted(set(groups.tolist()))
    if len(patients) == len(groups):
        return random_roles(labels, test_fraction, validation_fraction, rng)
    if len(patients) < 2:
        raise DatasetError(f"all {len(groups)} images belong to one patient ({patients[0]}); a split by patient needs at "
                           "least two (check the files' Patient ID, or put each NIfTI volume in its own sub-<label> folder)")
    order = [patients[i] for i in rng.permutation(len(patients))]
    n_test = min(max(1, int(round(len(patients) * test_fraction))), len(patients) - 1)
    rest = len(patients) - n_test
    n_val = min(max(int(round(rest * validation_fraction)), 1 if validation_fraction > 0 else 0), rest - 1)
    role_of = {patient: "test" if k < n_test else "validation" if k < n_test + n_val else "train" for k, patient in enumerate(order)}
    return np.array([role_of[group] for group in groups.tolist()], dtype=str)


def check_fractions(test_fraction: float, validation_fraction: float) -> None:
    """Both fractions in range, or a ParameterError that names the bad one."""
    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ParameterError(f"validation_fraction must be at least 0 and below 1, not {validation_fraction}")


def subsample_roles(roles: np.ndarray, labels: np.ndarray, max_images: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a seeded subset of ``max_images`` used images (no guard), each role kept in proportion."""
    used = np.flatnonzero(roles != "guard")
    if max_images >= len(used):
        return np.sort(used)
    chosen = []
    for role in ("train", "validation", "test"):
        members = np.flatnonzero(roles == role)
        if not len(members):
            continue
        want = max(1, int(round(max_images * len(members) / len(used))))
        keep, _ = stratified_split(labels[members], 1.0 - min(want, len(members)) / len(members), rng) if want < len(members) else (np.arange(len(members)), None)
        chosen.extend(members[keep].tolist())
    return np.sort(np.array(chosen, dtype=int))


def held_out_images(split: DatasetSplit, guard_mm: float) -> tuple[np.ndarray, list[str]]:
    """Images the model never trained on and no nearer than a training image to any test
    image: the validation slices, and the guard slices farther than ``guard_mm`` from every
    test slice of their plane (those beside a test slab would be near-copies of it). For
    folders (no positions), the validation images. An attacker's fair share of the data."""
    if not split.names_guard or not all(name.startswith("mni152/") for name in split.names_test):
        return split.x_val, list(split.names_val)
    where = mni152_positions()
    tests: dict[str, list[float]] = {}
    for name in split.names_test:
        plane, position = where[name]
        tests.setdefault(plane, []).append(position)

    def far(name: str) -> bool:
        plane, position = where[name]
        return not tests.get(plane) or min(abs(position - t) for t in tests[plane]) > guard_mm

    keep = [i for i, name in enumerate(split.names_guard) if far(name)]
    return (np.concatenate([split.x_val, split.x_guard[keep]]), list(split.names_val) + [split.names_guard[i] for i in keep])


def default_split(dataset: str) -> str:
    """The split a dataset gets unless told otherwise: slabs for the volume, random for folders."""
    return "slabs" if dataset == "mni152" else "random"
