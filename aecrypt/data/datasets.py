"""Datasets for the study: the embedded MNI152 MRI slices, the scikit-image retina, any image folder.

Nothing is downloaded: the MNI152 template ships inside the ``nilearn`` wheel and the
retina photograph inside ``scikit-image``. A user's own folder (Messidor-2, EyePACS, or
any tree of images) is read, never modified. Loaded sets are cached in
``data/processed/`` with a manifest; a cache whose manifest does not match is rebuilt.
A folder whose processed images would need more than ``memory_limit_mb`` is cached as
.npy shards and read from disk (``aecrypt.data.shards``), split exactly as in memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from skimage.transform import resize

from aecrypt import config
from aecrypt.data import shards
from aecrypt.errors import DatasetError, ImageReadError, ParameterError
from aecrypt.files import atomic_file
from aecrypt.method.pixels import pad_to_square, set_channels, stretch, to_uint8  # noqa: F401  (re-exported to the data's users until the data wing is split)

DATASETS = ("mni152", "retina", "folder")
#: The image files aecrypt reads and writes, by suffix, with Pillow's name for each format.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)
#: JPEG quality for a reconstruction written as .jpg (Pillow's default, 75, would add visible loss).
JPEG_QUALITY = 95
#: EXIF tag 'Software' and the value ``write_image`` puts in it: it tells a reconstruction that
#: aecrypt wrote (which ``decrypt --force`` may replace) from an original scan (which it never does).
EXIF_SOFTWARE = 0x0131
WRITTEN_BY = "aecrypt decrypt (autoencoder reconstruction)"
#: What Pillow raises for a file it cannot decode.
_PIL_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)
#: Section 4: "The used dataset has been split into 80% training and 20% testing."
DEFAULT_TEST_FRACTION = 0.2
#: A slice of the MNI152 volume is kept when at least this fraction of it is brain.
MIN_BRAIN_FRACTION = 0.10
BRAIN_THRESHOLD = 0.05
MNI_PLANES = ("sagittal", "coronal", "axial")  # slicing along volume axes 0, 1, 2
#: A pixel belongs to a fundus photograph's field of view above this grey level (of 1).
FUNDUS_BACKGROUND = 0.04
CACHE_FORMAT = 3
#: How a dataset is split. "slabs" (volumes): each plane cut into contiguous slabs, whole
#: slabs go to training, validation or test, with a guard gap between them; "random":
#: images drawn at random per class (folders of independent photographs).
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

MESSIDOR_COLUMNS = ("image_id", "adjudicated_dr_grade")
EYEPACS_COLUMNS = ("image", "level")


class SkippedImagesWarning(UserWarning):
    """Some files in a dataset folder could not be read and were left out."""


@dataclass
class DatasetSplit:
    """A dataset split into training, validation and test images (float32 in [0, 1], NHWC),
    with labels and names; ``guard`` images sit in the gaps between slabs and are used by
    none of the three (only to measure what a neighbour of a training image scores). For a
    folder larger than the memory bound the four image sets are ``shards.ShardedImages``,
    which index like arrays but stay on disk."""

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
        return "streamed" if isinstance(self.x_train, shards.ShardedImages) else "in memory"

    @property
    def classes(self) -> list[str]:
        """Sorted class names present in any split (``['unlabelled']`` without labels)."""
        return sorted(set(self.y_train.tolist()) | set(self.y_val.tolist()) | set(self.y_test.tolist()))

    def summary(self) -> pd.DataFrame:
        """Counts per class and split, for the data notebook's table."""
        rows = [{"split": role, "class": y} for role, labels in (("train", self.y_train), ("validation", self.y_val), ("test", self.y_test)) for y in labels]
        table = pd.DataFrame(rows).value_counts().unstack("split", fill_value=0)
        return table.reindex(columns=["train", "validation", "test"], fill_value=0).rename_axis(columns=None).reset_index()

    def test_hash(self) -> str:
        """SHA-256 of the sorted test image names: two runs test on the same images iff equal."""
        return names_hash(self.names_test)

    def train_hash(self) -> str:
        """SHA-256 of the sorted training and validation image names."""
        return names_hash(self.names_train + self.names_val)


def names_hash(names: list[str]) -> str:
    """A short, order-free fingerprint of a list of image names."""
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16]


# ------------------------------------------------------------------ single images


def read_image(path: str | Path) -> np.ndarray:
    """Read one PNG, JPEG or TIFF (8- or 16-bit; grey, RGB or RGBA) as float32 HxWxC in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such image file")
    try:
        with Image.open(path) as handle:
            handle.load()
            image = handle
            if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
            array = np.asarray(image)
    except Image.DecompressionBombError:
        raise ImageReadError(
            f"{path}: this image has more pixels than Pillow reads safely (it could be a decompression bomb); "
            "downscale it before encrypting"
        ) from None
    except _PIL_READ_ERRORS as exc:
        raise ImageReadError(
            f"{path}: cannot read this image ({exc.__class__.__name__}); it is corrupt, truncated or not "
            f"PNG/JPEG/TIFF. Supported: {', '.join(IMAGE_SUFFIXES)}"
        ) from None
    return _to_float(array, path)


def _to_float(array: np.ndarray, path: Path) -> np.ndarray:
    """Scale integer pixels to [0, 1], drop alpha, and give every image a channel axis."""
    if array.dtype == np.uint8:
        x = array.astype(np.float32) / 255.0
    elif array.dtype in (np.uint16, np.dtype(">u2"), np.dtype("<u2")):
        x = array.astype(np.float32) / 65535.0
    elif array.dtype in (np.int32, np.int16):  # PIL's 'I' and 'I;16' modes for 16-bit greyscale
        x = array.astype(np.float32) / (65535.0 if array.max(initial=0) > 255 else 255.0)
    elif array.dtype == bool:
        x = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.floating):
        x = array.astype(np.float32)
    else:
        raise ImageReadError(f"{path}: unsupported pixel type {array.dtype}")
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 2, 3, 4):
        raise ImageReadError(f"{path}: unsupported image layout {array.shape}")
    if x.shape[-1] in (2, 4):  # grey+alpha or RGBA: drop the alpha channel
        x = x[..., :-1]
    return np.clip(x, 0.0, 1.0)


def write_image(path: str | Path, image: np.ndarray, replace: bool = True) -> Path:
    """Write a float image in [0, 1] as 8-bit pixels in the format its suffix names, atomically, mode 0600.

    The file is marked as aecrypt's (EXIF 'Software'); ``replace=False`` refuses to replace
    anything already at ``path`` (``FileExistsError``).
    """
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ParameterError(f"{path}: cannot write images of type {path.suffix!r}; name it with one of {', '.join(IMAGE_SUFFIXES)}")
    x = to_uint8(image)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    picture = Image.fromarray(x)
    exif = Image.Exif()
    exif[EXIF_SOFTWARE] = WRITTEN_BY
    with atomic_file(path, replace=replace) as handle:
        picture.save(handle, format=fmt, exif=exif, quality=JPEG_QUALITY)
    return path


def written_by_aecrypt(path: str | Path) -> bool:
    """Whether an image file carries the mark ``write_image`` puts in (a reconstruction, not an original)."""
    try:
        with Image.open(path) as handle:
            return handle.getexif().get(EXIF_SOFTWARE) == WRITTEN_BY
    except (*_PIL_READ_ERRORS, Image.DecompressionBombError):
        return False


def prepare_image(image: np.ndarray, image_size: int, channels: int = 3, fundus_crop: bool = False) -> np.ndarray:
    """Crop (optionally to a fundus field of view), pad to square, resize and set the channel count."""
    x = np.asarray(image, np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if fundus_crop:
        x = crop_fundus(x)
    x = pad_to_square(x)
    if x.shape[0] != image_size:
        x = resize(x, (image_size, image_size, x.shape[-1]), anti_aliasing=True, preserve_range=True).astype(np.float32)
    return set_channels(np.clip(x, 0.0, 1.0), channels)


def crop_fundus(image: np.ndarray, background: float = FUNDUS_BACKGROUND) -> np.ndarray:
    """Crop a fundus photograph to its circular field of view, dropping the black border."""
    grey = image.mean(axis=-1)
    rows = np.flatnonzero(grey.max(axis=1) > background)
    cols = np.flatnonzero(grey.max(axis=0) > background)
    if rows.size == 0 or cols.size == 0:
        return image
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


# ------------------------------------------------------------- embedded datasets


def mni152_volume() -> np.ndarray:
    """The MNI152 (ICBM 2009a) T1 template shipped in the nilearn wheel, 197x233x189 in [0, 1]."""
    from nilearn.datasets import load_mni152_template  # imported here: nilearn is slow to import

    volume = np.asarray(load_mni152_template(resolution=1).get_fdata(), dtype=np.float32)
    return volume / max(float(volume.max()), 1e-12)


def mni152_slices(min_brain_fraction: float = MIN_BRAIN_FRACTION) -> tuple[list[np.ndarray], list[str], list[str], np.ndarray]:
    """Sagittal, coronal and axial slices with enough brain in them.

    Returns slices, planes, names and each slice's position in mm along its plane's
    axis. The template is symmetric (ICBM 2009a *sym*), so a sagittal slice and its
    mirror across the midline are the same picture: sagittal positions are distances from
    the midline, and the slab split keeps a slice and its mirror on the same side.
    """
    volume = mni152_volume()
    slices, planes, names, positions = [], [], [], []
    for axis, plane in enumerate(MNI_PLANES):
        stack = np.moveaxis(volume, axis, 0)
        fraction = (stack > BRAIN_THRESHOLD).reshape(stack.shape[0], -1).mean(axis=1)
        midline = (stack.shape[0] - 1) / 2
        for index in np.flatnonzero(fraction >= min_brain_fraction):
            slices.append(np.rot90(stack[index]).copy())  # rotate so the head points up
            planes.append(plane)
            names.append(f"mni152/{plane}/{index:03d}")
            positions.append(abs(index - midline) if plane == "sagittal" else float(index))  # 1 mm voxels
    return slices, planes, names, np.array(positions, np.float64)


def retina_image(image_size: int, channels: int = 3) -> np.ndarray:
    """The fundus photograph that scikit-image ships (CC0), cropped to its field of view."""
    from skimage import data as skdata

    raw = skdata.retina().astype(np.float32) / 255.0
    return prepare_image(raw, image_size, channels, fundus_crop=True)


# ------------------------------------------------- other people's scans (OOD)

#: Real scans of other people that install with the project's dependencies, for an
#: out-of-distribution test of a model trained on the MNI152 template. (file, frame, group);
#: sources and licences in data/README.md.
OOD_DICOM = (
    ("emri_small.dcm", 0, "other heads"), ("emri_small.dcm", 3, "other heads"),
    ("emri_small.dcm", 6, "other heads"), ("emri_small.dcm", 9, "other heads"),
    ("CT_small.dcm", None, "other body parts"), ("MR_small.dcm", None, "other body parts"),
    ("MR2_UNCI.dcm", None, "other body parts"), ("RG1_UNCI.dcm", None, "other body parts"),
    ("RG3_UNCI.dcm", None, "other body parts"), ("MR-SIEMENS-DICOM-WithOverlays.dcm", None, "other body parts"),
    ("JPEG2000_UNC.dcm", None, "other body parts"), ("US1_UNCI.dcm", None, "other body parts"),
)
#: Axial slices of nibabel's example4d.nii.gz (a real subject's functional MRI), first volume.
OOD_NIFTI_SLICES = tuple(range(2, 22, 2))
#: Intensities are stretched between these percentiles, as a viewer's auto-window does.
OOD_PERCENTILES = (0.5, 99.5)
OOD_GROUPS = ("other heads", "other body parts")


def _stretch(array: np.ndarray) -> np.ndarray:
    """Grey float image in [0, 1], stretched between ``OOD_PERCENTILES`` (colour averaged)."""
    x = np.asarray(array, np.float64)
    if x.ndim == 3 and x.shape[-1] == 3:
        x = x.mean(axis=-1)
    return stretch(x, percentiles=OOD_PERCENTILES).astype(np.float32)


def load_ood_images(image_size: int, channels: int = 3) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Scans of other people (heads and other body parts) from pydicom's and nibabel's test
    data: images (N, S, S, C) in [0, 1], names, and each image's group."""
    import nibabel
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    raw, names, groups = [], [], []
    volume = nibabel.load(Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz")
    data = np.asanyarray(volume.dataobj)[..., 0]
    for z in OOD_NIFTI_SLICES:
        raw.append(_stretch(np.rot90(data[:, :, z])))
        names.append(f"nibabel/example4d/axial/{z:02d}")
        groups.append("other heads")
    for name, frame, group in OOD_DICOM:
        path = get_testdata_file(name, download=False)
        if path is None:
            raise DatasetError(f"pydicom's test file {name} is not installed; install the project's dependencies (pydicom-data)")
        dataset = dcmread(path)
        pixels = dataset.pixel_array if frame is None else dataset.pixel_array[frame]
        if dataset.get("PhotometricInterpretation") == "MONOCHROME1":  # stored inverted (X-rays)
            pixels = pixels.max() - pixels
        raw.append(_stretch(pixels))
        names.append(f"pydicom/{name}" + (f"/frame{frame}" if frame is not None else ""))
        groups.append(group)
    images = np.stack([prepare_image(x, image_size, channels) for x in raw])
    return images, names, np.array(groups)


# ----------------------------------------------------------------- image folders


def find_images(data_dir: str | Path) -> list[Path]:
    """Every PNG, JPEG or TIFF file under a folder, searched recursively, sorted."""
    root = Path(data_dir)
    if not root.exists():
        raise DatasetError(f"{root}: no such dataset folder; check data_dir (it is read, never written)")
    if not root.is_dir():
        raise DatasetError(f"{root}: data_dir must be a folder of images, not a file")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{root}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} in all sub-folders)")
    return files


def folder_labels(data_dir: str | Path, files: list[Path]) -> tuple[list[Path], list[str]]:
    """Labels for a folder's images: Messidor-2 or EyePACS CSV, else sub-folders, else 'unlabelled'."""
    root = Path(data_dir)
    table = _labels_table(root)
    if table is not None:
        by_stem = {}
        for path in files:
            by_stem.setdefault(path.stem, path)
            by_stem.setdefault(path.name, path)
        missing = [name for name in table.index if name not in by_stem]
        if missing:
            raise DatasetError(
                f"{root}: the labels file names {len(missing)} image(s) that are not in the folder, "
                f"e.g. {', '.join(map(str, missing[:3]))}; fix the CSV or add the images"
            )
        kept = [by_stem[name] for name in table.index]
        unlabelled = len(set(files) - set(kept))
        if unlabelled:
            warnings.warn(f"{unlabelled} image(s) under {root} have no row in the labels file and are left out", SkippedImagesWarning, stacklevel=2)
        return kept, [str(label) for label in table.values]
    relative = [p.relative_to(root) for p in files]
    if all(len(r.parts) >= 2 for r in relative) and len({r.parts[0] for r in relative}) >= 2:
        return files, [r.parts[0] for r in relative]
    return files, ["unlabelled"] * len(files)


def _labels_table(root: Path) -> pd.Series | None:
    """A Messidor-2 or EyePACS labels CSV at the folder's top level, as image name -> grade."""
    for csv in sorted(root.glob("*.csv")):
        try:
            frame = pd.read_csv(csv)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise DatasetError(f"{csv}: cannot parse this labels file ({exc.__class__.__name__})") from None
        for id_column, label_column in (MESSIDOR_COLUMNS, EYEPACS_COLUMNS):
            if {id_column, label_column} <= set(frame.columns):
                frame = frame.dropna(subset=[label_column])  # Messidor-2 leaves ungradable images blank
                labels = frame[label_column]
                if pd.api.types.is_float_dtype(labels) and (labels % 1 == 0).all():
                    labels = labels.astype(int)
                return pd.Series(labels.values, index=frame[id_column].astype(str).values)
    return None


def read_images(files: list[Path], strict: bool = False) -> tuple[list[np.ndarray], list[int]]:
    """Read image files; unreadable ones are skipped with one warning naming them (or raise if strict)."""
    images, kept, skipped = [], [], []
    for index, path in enumerate(_progress(files, "reading images")):
        try:
            images.append(read_image(path))
            kept.append(index)
        except ImageReadError as exc:
            if strict:
                raise
            skipped.append((path, str(exc)))
    _warn_skipped(skipped, len(files))
    if not images:
        raise DatasetError("none of the images could be read")
    return images, kept


def _warn_skipped(skipped: list[tuple[Path, str]], total: int) -> None:
    """One warning naming the unreadable files that were left out (none: no warning)."""
    if skipped:
        names = ", ".join(p.name for p, _ in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(
            f"skipped {len(skipped)} unreadable image(s) of {total}: {names} (pass strict=True to stop instead)",
            SkippedImagesWarning,
            stacklevel=3,
        )


# ------------------------------------------------------------ subsets and splits


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
    _check_fractions(test_fraction, validation_fraction)
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
    _check_fractions(test_fraction, validation_fraction)
    roles = np.full(len(labels), "train", dtype=object)
    train, test = stratified_split(labels, test_fraction, rng)
    roles[test] = "test"
    if validation_fraction > 0 and len(train) > 1:
        n_val = min(max(1, int(round(len(train) * validation_fraction))), len(train) - 1)
        roles[rng.choice(train, n_val, replace=False)] = "validation"
    return roles.astype(str)


def _check_fractions(test_fraction: float, validation_fraction: float) -> None:
    """Both fractions in range, or a ParameterError that names the bad one."""
    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ParameterError(f"validation_fraction must be at least 0 and below 1, not {validation_fraction}")


def _subsample_roles(roles: np.ndarray, labels: np.ndarray, max_images: int, rng: np.random.Generator) -> np.ndarray:
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


# ------------------------------------------------------------------- the loader


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
) -> DatasetSplit:
    """Load, resize and split a dataset, reusing the processed cache only when it matches exactly.

    ``split`` is "slabs" (the default for the MNI152 volume: whole slabs of each plane,
    ``guard_mm`` apart) or "random" (the default for folders). ``per_class`` keeps a
    balanced subset before the split; ``max_images`` a seeded subset of the split's
    images, each role in proportion (for smoke runs). ``split_seed`` alone draws the subset
    and the split, so models trained under different training seeds share one test set. A folder whose processed images would
    need more than ``memory_limit_mb`` MiB (default ``shards.DEFAULT_MEMORY_LIMIT_MB``) is
    cached as .npy shards and its splits are ``shards.ShardedImages`` read from disk.
    """
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if dataset == "retina":
        raise DatasetError("dataset='retina' is a single photograph for the Figure 6 journey, not a training set; use retina_image()")
    if dataset == "folder" and data_dir is None:
        raise DatasetError("dataset='folder' needs data_dir, the folder that holds your images")
    split = default_split(dataset) if split is None else split
    if split not in SPLITS:
        raise ParameterError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if split == "slabs" and dataset != "mni152":
        raise ParameterError("split='slabs' needs slices of a volume (dataset 'mni152'); a folder of photographs uses split='random'")
    _check_fractions(test_fraction, validation_fraction)
    if not isinstance(split_seed, (int, np.integer)) or isinstance(split_seed, bool):
        raise ParameterError(f"split_seed must be a whole number (it draws the split), not {split_seed!r}")
    memory_limit_mb = shards.check_memory_limit(shards.DEFAULT_MEMORY_LIMIT_MB if memory_limit_mb is None else memory_limit_mb)
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
        "cache_format": CACHE_FORMAT,
    }
    sources = _sources(dataset, data_dir)
    cache_id = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    cache_path = config.PROCESSED_DIR / f"{dataset}-{image_size}px-{cache_id}"
    if dataset == "folder" and _expected_bytes(data_dir, per_class, max_images, image_size, channels) > memory_limit_mb * 2**20:
        result = _load_streamed(params, sources, cache_path if use_cache else None, strict, memory_limit_mb)
        result.manifest.update(data_path=result.data_path, memory_limit_mb=memory_limit_mb)
        return result
    if use_cache:
        cached = _read_cache(cache_path, params, sources)
        if cached is not None:
            cached.manifest.update(data_path=cached.data_path, memory_limit_mb=memory_limit_mb)
            return cached

    positions = None
    if dataset == "mni152":
        raw, labels, names, positions = mni152_slices()
    else:
        files, labels = folder_labels(data_dir, find_images(data_dir))
        raw, kept = read_images(files, strict=strict)
        root = Path(data_dir)
        labels = [labels[i] for i in kept]
        names = [str(files[i].relative_to(root)) for i in kept]
    labels_arr = np.array(labels, dtype=str)
    chosen, roles = _choose(labels_arr, positions, params)
    images = np.stack([prepare_image(raw[i], image_size, channels, fundus_crop) for i in _progress(chosen, "resizing")])
    result = _assemble(lambda idx: images[idx], labels_arr[chosen], [names[i] for i in chosen], roles, params, sources)
    if use_cache:
        _write_cache(cache_path, result)
    result.manifest.update(data_path=result.data_path, memory_limit_mb=memory_limit_mb)
    return result


def _choose(labels: np.ndarray, positions: np.ndarray | None, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """The images a split uses (indices into ``labels``) and each one's role, drawn from the split seed."""
    rng = np.random.default_rng(params["split_seed"])
    chosen = np.arange(len(labels))
    if params["per_class"] is not None:
        chosen = balanced_subset(labels, params["per_class"], rng)
    if params["split"] == "slabs":
        roles = slab_roles(labels[chosen], positions[chosen], params["test_fraction"], params["validation_fraction"], params["guard_mm"], rng)
    else:
        roles = random_roles(labels[chosen], params["test_fraction"], params["validation_fraction"], rng)
    if params["max_images"] is not None:
        keep = _subsample_roles(roles, labels[chosen], params["max_images"], rng)
        keep = np.union1d(keep, np.flatnonzero(roles == "guard"))
        chosen, roles = chosen[keep], roles[keep]
    return chosen, roles


def _assemble(take, labels: np.ndarray, names: list[str], roles: np.ndarray, params: dict, sources: dict) -> DatasetSplit:
    """A DatasetSplit and its manifest from the chosen images' labels, names and roles;
    ``take(indices)`` gives those images (an array, or a view of shards on disk)."""
    part = {role: np.flatnonzero(roles == role) for role in ROLES}
    result = DatasetSplit(
        x_train=take(part["train"]), x_test=take(part["test"]),
        y_train=labels[part["train"]], y_test=labels[part["test"]],
        names_train=[names[i] for i in part["train"]], names_test=[names[i] for i in part["test"]],
        x_val=take(part["validation"]), y_val=labels[part["validation"]], names_val=[names[i] for i in part["validation"]],
        x_guard=take(part["guard"]), names_guard=[names[i] for i in part["guard"]],
    )
    result.manifest = {
        "parameters": params, "sources": sources,
        **{role: [names[i] for i in part[role]] for role in ROLES},
        "labels": {role: labels[part[role]].tolist() for role in ROLES},
    }
    return result


def _expected_bytes(data_dir: str | Path, per_class: int | None, max_images: int | None, image_size: int, channels: int) -> int:
    """What a folder's processed images would take in memory (an upper bound: every labelled file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImagesWarning)  # load_dataset warns once, when it reads
        _, labels = folder_labels(data_dir, find_images(data_dir))
    count = len(labels)
    if per_class is not None:
        count = min(count, per_class * len(set(labels)))
    if max_images is not None:
        count = min(count, max_images)
    return count * shards.image_bytes(image_size, channels)


def _load_streamed(params: dict, sources: dict, cache_path: Path | None, strict: bool, memory_limit_mb: float) -> DatasetSplit:
    """A folder too large for memory: read, resize and write it shard by shard (or reuse the
    shards cached for these parameters), then split it as ``load_dataset`` splits in memory."""
    final = None if cache_path is None else cache_path.with_name(cache_path.name + ".shards")
    root = Path(params["data_dir"])
    files, labels = folder_labels(root, find_images(root))
    image_shape = (params["image_size"], params["image_size"], params["channels"])
    cached = shards.open_store(final, params, sources) if final is not None else None
    if cached is not None:
        store, manifest = cached
        take = lambda role: shards.ShardedImages(store, manifest["positions"][role])
        split = DatasetSplit(
            x_train=take("train"), x_test=take("test"),
            y_train=np.array(manifest["labels"]["train"], str), y_test=np.array(manifest["labels"]["test"], str),
            names_train=manifest["train"], names_test=manifest["test"],
            x_val=take("validation"), y_val=np.array(manifest["labels"]["validation"], str), names_val=manifest["validation"],
            x_guard=take("guard"), names_guard=manifest["guard"],
        )
        split.manifest = {key: manifest[key] for key in ("parameters", "sources", *ROLES, "labels")}
        return split
    kept, skipped = [], []

    def prepared() -> Iterator[np.ndarray]:
        for index, path in enumerate(_progress(files, "reading and resizing images")):
            try:
                image = read_image(path)
            except ImageReadError as exc:
                if strict:
                    raise
                skipped.append((path, str(exc)))
                continue
            kept.append(index)
            yield prepare_image(image, params["image_size"], params["channels"], params["fundus_crop"])

    per_shard = shards.shard_images(params["image_size"], params["channels"], memory_limit_mb)
    store = shards.build_store(prepared(), final, per_shard, image_shape)
    _warn_skipped(skipped, len(files))
    if not kept:
        raise DatasetError("none of the images could be read")
    labels_arr = np.array([labels[i] for i in kept], dtype=str)
    names = [str(files[i].relative_to(root)) for i in kept]
    chosen, roles = _choose(labels_arr, None, params)
    everything = shards.ShardedImages(store, chosen)
    split = _assemble(everything.subset, labels_arr[chosen], [names[i] for i in chosen], roles, params, sources)
    if final is not None:
        positions = {role: getattr(split, attr).index.tolist() for role, attr in
                     (("train", "x_train"), ("validation", "x_val"), ("test", "x_test"), ("guard", "x_guard"))}
        store = shards.commit_store(store, final, {**split.manifest, "positions": positions, "image_shape": list(image_shape)})
        for attr in ("x_train", "x_val", "x_test", "x_guard"):
            setattr(split, attr, shards.ShardedImages(store, getattr(split, attr).index))
    return split


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


@functools.lru_cache(maxsize=1)
def mni152_positions() -> dict[str, tuple[str, float]]:
    """Each MNI152 slice's plane and position (mm, as the slab split measures it), by name."""
    _, planes, names, positions = mni152_slices()
    return {name: (plane, float(position)) for name, plane, position in zip(names, planes, positions)}


def default_split(dataset: str) -> str:
    """The split a dataset gets unless told otherwise: slabs for the volume, random for folders."""
    return "slabs" if dataset == "mni152" else "random"


def _sources(dataset: str, data_dir: str | Path | None) -> dict[str, str]:
    """The source files a dataset is built from, each with its SHA-256, for the cache manifest."""
    if dataset == "mni152":
        import nilearn.datasets

        template = Path(nilearn.datasets.__file__).parent / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
        return {template.name: _sha256(template)} if template.exists() else {"nilearn": _nilearn_version()}
    root = Path(data_dir)
    files = find_images(root) + sorted(root.glob("*.csv"))
    return {str(p.relative_to(root)): _sha256(p) for p in files}


def _nilearn_version() -> str:
    """nilearn's version, a stand-in source id when the template file cannot be located."""
    from importlib.metadata import version

    return version("nilearn")


def _sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
            labels = manifest["labels"]
            return DatasetSplit(
                arrays["x_train"], arrays["x_test"], np.array(labels["train"], str), np.array(labels["test"], str),
                manifest["train"], manifest["test"],
                x_val=arrays["x_val"], y_val=np.array(labels["validation"], str), names_val=manifest["validation"],
                x_guard=arrays["x_guard"], names_guard=manifest["guard"], manifest=manifest,
            )
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt, never trusted


def _write_cache(path: Path, split: DatasetSplit) -> None:
    """Write the arrays and the manifest atomically (arrays first, so a manifest implies arrays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, x_train=split.x_train, x_test=split.x_test, x_val=split.x_val, x_guard=split.x_guard)
    os.replace(tmp, path.with_suffix(".npz"))
    tmp_manifest = path.with_name(path.name + ".tmp.json")
    tmp_manifest.write_text(json.dumps(split.manifest, indent=1))
    os.replace(tmp_manifest, path.with_suffix(".json"))


# ----------------------------------------------------------- streaming from disk


def stream_folder(
    data_dir: str | Path,
    image_size: int,
    channels: int = 3,
    batch_size: int = 16,
    fundus_crop: bool = False,
    subset: str = "train",
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = 0,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
):
    """A ``tf.data.Dataset`` of (image, image) batches read from disk, for sets larger than memory.

    ``subset`` is "train", "validation" or "test". Uses the same labels and seeded random
    split as ``load_dataset`` (without ``per_class`` or ``max_images``); unreadable
    files are skipped with a warning when met.
    """
    import tensorflow as tf

    files, labels = folder_labels(data_dir, find_images(data_dir))
    roles = random_roles(np.array(labels, dtype=str), test_fraction, validation_fraction, np.random.default_rng(seed))
    chosen = [path for path, role in zip(files, roles) if role == subset]

    def generate() -> Iterator[np.ndarray]:
        for path in chosen:
            try:
                yield prepare_image(read_image(path), image_size, channels, fundus_crop)
            except ImageReadError as exc:
                warnings.warn(f"skipped {exc}", SkippedImagesWarning, stacklevel=2)

    spec = tf.TensorSpec((image_size, image_size, channels), tf.float32)
    images = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return images.map(lambda x: (x, x)).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _progress(items, description: str):
    """A tqdm progress bar over ``items`` that stays quiet for short lists."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, disable=len(items) < 50, leave=False)
