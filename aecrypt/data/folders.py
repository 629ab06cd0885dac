"""Study folders: finding a folder's images (PNG, JPEG, TIFF photographs, DICOM series and
NIfTI volumes), their labels (a Messidor-2 or EyePACS CSV, sub-folders, the DICOM modality,
or none) and reading them, with one warning for the files left out. A user's folder is
read, never modified."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aecrypt.data.images import IMAGE_SUFFIXES, read_image
from aecrypt.data.scans import DICOM_SUFFIXES, NIFTI_SUFFIXES, find_scans, scan_format
from aecrypt.data.volumes import Volume, find_volumes, read_volume
from aecrypt.errors import DatasetError, ImageReadError
from aecrypt.progress import quiet_bar

#: The labels files ``folder_labels`` reads: (image id, grade) columns of Messidor-2 and of EyePACS.
MESSIDOR_COLUMNS = ("image_id", "adjudicated_dr_grade")
EYEPACS_COLUMNS = ("image", "level")


class SkippedImagesWarning(UserWarning):
    """Some files in a dataset folder could not be read and were left out."""


@dataclass(frozen=True)
class FolderContents:
    """What a study folder holds: photographs with their labels, DICOM series and NIfTI
    volumes (sliced along ``axis``), and the scan files whose headers could not be read."""

    root: Path
    images: list[Path]
    labels: list[str]
    volumes: list[Volume]
    axis: int
    unreadable: list[tuple[Path, str]]

    @property
    def count(self) -> int:
        """How many images the folder gives: one per photograph, one per slice of a volume."""
        return len(self.images) + sum(volume.slices for volume in self.volumes)

    @property
    def files(self) -> list[Path]:
        """Every file the images are read from, sorted."""
        return sorted(self.images + [path for volume in self.volumes for path in volume.files])

    @property
    def slice_labels(self) -> list[str]:
        """Every image's label, photographs first (the order ``folder_images`` reads them in)."""
        return self.labels + [volume.label for volume in self.volumes for _ in range(volume.slices)]


def list_folder(data_dir: str | Path, axis: int, strict: bool = False) -> FolderContents:
    """A study folder's photographs (labelled), DICOM series and NIfTI volumes, from their names and headers."""
    root = Path(data_dir)
    photos = find_images(root)
    scan_files = [path for path in find_scans(root) if scan_format(path) != "image"]
    if not photos and not scan_files:
        raise DatasetError(f"{root}: no images found (looked for {', '.join(IMAGE_SUFFIXES + DICOM_SUFFIXES + NIFTI_SUFFIXES)} "
                           "and DICOM files without a suffix, in all sub-folders)")
    images, labels = folder_labels(root, photos) if photos else ([], [])
    unreadable: list[tuple[Path, str]] = []
    volumes = find_volumes(root, scan_files, axis, unreadable, strict)
    return FolderContents(root, images, labels, volumes, axis, unreadable)


def find_images(data_dir: str | Path) -> list[Path]:
    """Every PNG, JPEG or TIFF file under a folder, searched recursively, sorted (none: an empty list)."""
    root = Path(data_dir)
    if not root.exists():
        raise DatasetError(f"{root}: no such dataset folder; check data_dir (it is read, never written)")
    if not root.is_dir():
        raise DatasetError(f"{root}: data_dir must be a folder of images, not a file")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder_images(contents: FolderContents, strict: bool, skipped: list[tuple[Path, str]],
                  records: list[dict], description: str) -> Iterator[tuple[str, str, str, np.ndarray]]:
    """Each image of a folder as (name, label, group, float32 H x W x C in [0, 1]): photographs
    first, each its own group, then each volume's slices, grouped by patient. Unreadable files
    are added to ``skipped`` (or raise if ``strict``); each volume's window goes into ``records``."""
    root = contents.root
    for index, image in readable_images(quiet_bar(contents.images, description), strict, skipped):
        name = str(contents.images[index].relative_to(root))
        yield name, contents.labels[index], name, image
    for volume in quiet_bar(contents.volumes, f"{description} (scans)"):
        record: dict = {}
        for name, image in read_volume(volume, root, contents.axis, skipped, strict, record):
            yield name, volume.label, volume.patient, image
        if record["slices"]:
            records.append(record)


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


def readable_images(files: Iterable[Path], strict: bool, skipped: list[tuple[Path, str]]) -> Iterator[tuple[int, np.ndarray]]:
    """Each readable file's index and image, one at a time; an unreadable one is added to
    ``skipped`` with the reason (or raises ``ImageReadError`` if ``strict``)."""
    for index, path in enumerate(files):
        try:
            image = read_image(path)
        except ImageReadError as exc:
            if strict:
                raise
            skipped.append((path, str(exc)))
            continue
        yield index, image


def report_skipped(skipped: list[tuple[Path, str]], total: int) -> None:
    """One warning naming the unreadable files that were left out (none: no warning); a
    ``DatasetError`` if none of the ``total`` could be read."""
    if skipped:
        names = ", ".join(p.name for p, _ in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(
            f"skipped {len(skipped)} unreadable image(s) of {total}: {names} (pass strict=True to stop instead)",
            SkippedImagesWarning,
            stacklevel=3,
        )
    if len(skipped) == total:
        raise DatasetError("none of the images could be read")
