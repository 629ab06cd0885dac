"""DICOM series and NIfTI volumes in a study's folder: found and grouped by patient, then read
slice by slice and windowed as a viewer shows them (``aecrypt.data.windows``).

A DICOM series is the files that share a Series Instance UID, its patient the Patient ID;
a NIfTI file is one volume, its patient named by a BIDS ``sub-<label>`` folder above it.
A volume with no patient named is its own patient. The study's tables and manifests name
patients and series by a short hash of their ID, never by the ID itself.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from aecrypt.data.dicom import dicom_frames
from aecrypt.data.nifti import nifti_shape, read_nifti
from aecrypt.data.scans import scan_format
from aecrypt.data.windows import Window, dicom_window, percentile_window, window_sample
from aecrypt.errors import ImageReadError
from aecrypt.files import open_regular

#: DICOM elements read to group a folder's files (the header alone, never the pixel data).
GROUPING_TAGS = ["SeriesInstanceUID", "PatientID", "Modality", "InstanceNumber", "NumberOfFrames", "WindowCenter", "WindowWidth"]
#: Hex digits of a SHA-256 kept to name a patient or a series without its ID.
PSEUDONYM_DIGITS = 10
#: The folder-name prefix of a BIDS subject: it names the patient of the NIfTI volumes under it.
BIDS_SUBJECT = "sub-"
#: The label of a volume whose file names no modality (every NIfTI volume).
UNLABELLED = "unlabelled"


@dataclass(frozen=True)
class Volume:
    """One DICOM series or NIfTI volume: its files (slices in order), patient, label (the DICOM
    modality), slice count and which files carry a window of their own; its slices go to one
    side of a split together."""

    name: str
    patient: str
    kind: str
    label: str
    files: tuple[Path, ...]
    slices: int
    own_window: tuple[bool, ...] = ()


def pseudonym(prefix: str, identifier: str) -> str:
    """A stable name for an ID that does not reveal it (``patient-`` and a short SHA-256)."""
    return f"{prefix}-{hashlib.sha256(identifier.encode()).hexdigest()[:PSEUDONYM_DIGITS]}"


def find_volumes(root: Path, paths: list[Path], axis: int, skipped: list[tuple[Path, str]], strict: bool) -> list[Volume]:
    """The DICOM series and NIfTI volumes among a folder's scan files, by name; a file whose
    header cannot be read is added to ``skipped`` (or raises ``ImageReadError`` if ``strict``)."""
    dicom = [p for p in paths if scan_format(p) == "dicom"]
    nifti = [p for p in paths if scan_format(p) == "nifti"]
    volumes = _dicom_series(root, dicom, skipped, strict) + _nifti_volumes(root, nifti, axis, skipped, strict)
    return sorted(volumes, key=lambda volume: volume.name)


def _unreadable(path: Path, exc: ImageReadError, skipped: list[tuple[Path, str]], strict: bool) -> None:
    """Note a file that cannot be read, or raise its error with its name if ``strict``."""
    if strict:
        raise type(exc)(f"{path}: {exc}") from None
    skipped.append((path, str(exc)))


def _dicom_header(path: Path):
    """The grouping elements of a DICOM file's header, read without its pixel data."""
    from pydicom import dcmread  # pydicom is read only for DICOM files

    try:
        with open_regular(path) as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's notes on a damaged header: the skip warning names the file
            return dcmread(handle, stop_before_pixels=True, specific_tags=GROUPING_TAGS)
    except OSError as exc:
        raise ImageReadError(f"cannot read this file ({exc.strerror})") from None
    except Exception as exc:  # pydicom raises many types for a damaged header
        raise ImageReadError(f"not a readable DICOM file ({type(exc).__name__})") from None


def _dicom_series(root: Path, paths: list[Path], skipped: list[tuple[Path, str]], strict: bool) -> list[Volume]:
    """DICOM files grouped into series by Series Instance UID, each series' files in instance order."""
    series: dict[str, list[tuple[int, str, Path, object]]] = {}
    for path in paths:
        try:
            header = _dicom_header(path)
        except ImageReadError as exc:
            _unreadable(path, exc, skipped, strict)
            continue
        uid = str(header.get("SeriesInstanceUID", "") or "").strip() or f"file {path.relative_to(root).as_posix()}"
        instance = header.get("InstanceNumber")
        series.setdefault(uid, []).append((int(instance) if instance not in (None, "") else 0, path.relative_to(root).as_posix(), path, header))
    volumes = []
    for uid, members in series.items():
        members.sort(key=lambda member: member[:2])
        first = members[0][3]
        name = (PurePosixPath(members[0][1]).parent / pseudonym("series", uid)).as_posix()
        patient_id = str(first.get("PatientID", "") or "").strip()
        slices = sum(int(header.get("NumberOfFrames", 1) or 1) for *_, header in members)
        volumes.append(Volume(name, pseudonym("patient", patient_id) if patient_id else name, "dicom",
                              str(first.get("Modality", "") or "").strip() or UNLABELLED,
                              tuple(path for _, _, path, _ in members), slices,
                              tuple(dicom_window(header) is not None for *_, header in members)))
    return volumes


def _nifti_volumes(root: Path, paths: list[Path], axis: int, skipped: list[tuple[Path, str]], strict: bool) -> list[Volume]:
    """Each NIfTI file a volume of the slices along ``axis``; its patient the BIDS subject folder above it, if any."""
    volumes = []
    for path in paths:
        try:
            shape = nifti_shape(path)
        except ImageReadError as exc:
            _unreadable(path, exc, skipped, strict)
            continue
        relative = path.relative_to(root)
        subject = next((part for part in relative.parts[:-1] if part.startswith(BIDS_SUBJECT)), None)
        name = relative.as_posix()
        volumes.append(Volume(name, pseudonym("patient", subject) if subject else name, "nifti", UNLABELLED, (path,),
                              (*shape, 1, 1, 1)[axis]))
    return volumes


def read_volume(volume: Volume, root: Path, axis: int, skipped: list[tuple[Path, str]], strict: bool,
                record: dict) -> Iterator[tuple[str, np.ndarray]]:
    """Each slice of a volume, named, as float32 (H, W, C) in [0, 1] through its viewer window.

    ``record`` is filled with what was read: the volume, its patient, the slices kept and
    the window(s) used, for the split's manifest. Unreadable files are skipped as in
    ``find_volumes``.
    """
    record.update(volume=volume.name, patient=volume.patient, kind=volume.kind, label=volume.label, slices=0,
                  window_source="", windows=[])
    slices = _dicom_slices(volume, root, skipped, strict) if volume.kind == "dicom" else _nifti_slices(volume, root, axis, skipped, strict)
    sources: set[str] = set()
    for name, image, window in slices:
        if [window.low, window.high] not in record["windows"]:
            record["windows"].append([window.low, window.high])
        sources.add(window.source)
        record.update(window_source=" and ".join(sorted(sources)), slices=record["slices"] + 1)
        yield name, image


def _dicom_slices(volume: Volume, root: Path, skipped: list[tuple[Path, str]], strict: bool) -> Iterator[tuple[str, np.ndarray, Window]]:
    """A series' frames through each file's own window, or the series' percentile window where a file has none."""
    series_window = _series_percentile_window(volume, skipped, strict)
    failed = {path for path, _ in skipped}
    for path in volume.files:
        if path in failed:
            continue
        try:
            dataset, frames = _quiet_frames(path)
        except ImageReadError as exc:
            _unreadable(path, exc, skipped, strict)
            continue
        values = _modality_values(dataset, frames)
        window = dicom_window(dataset) or series_window or percentile_window(window_sample(values))
        inverted = str(dataset.get("PhotometricInterpretation", "")) == "MONOCHROME1"
        name = path.relative_to(root).as_posix()
        for index, frame in enumerate(values):
            image = window.show(frame)
            yield (name if len(frames) == 1 else f"{name}#frame{index:03d}"), (1.0 - image if inverted else image), window


def _series_percentile_window(volume: Volume, skipped: list[tuple[Path, str]], strict: bool) -> Window | None:
    """The percentile window of the series' files that carry no window of their own (None if all do)."""
    lacking = [path for path, own in zip(volume.files, volume.own_window) if not own]
    if not lacking:
        return None
    sample = []
    for path in lacking:
        try:
            dataset, frames = _quiet_frames(path)
        except ImageReadError as exc:
            _unreadable(path, exc, skipped, strict)
            continue
        sample.append(window_sample(_modality_values(dataset, frames), len(lacking)))
    return percentile_window(np.concatenate(sample)) if sample else None


def _quiet_frames(path: Path) -> tuple[object, np.ndarray]:
    """``dicom_frames`` without pydicom's notes on a damaged file (the skip warning names the file and why)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dicom_frames(path)


def _modality_values(dataset, frames: np.ndarray) -> np.ndarray:
    """Stored values through the rescale slope and intercept (the units Window Center/Width are in), float32."""
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    return frames.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def _nifti_slices(volume: Volume, root: Path, axis: int, skipped: list[tuple[Path, str]], strict: bool) -> Iterator[tuple[str, np.ndarray, Window]]:
    """A NIfTI volume's slices along ``axis`` through its percentile window, turned so the head points up (as MNI152's)."""
    path = volume.files[0]
    try:
        scan = read_nifti(path, axis)
    except ImageReadError as exc:
        _unreadable(path, exc, skipped, strict)
        return
    values = scan.frames.astype(np.float32) * np.float32(scan.slope)
    window = percentile_window(window_sample(values))
    name = path.relative_to(root).as_posix()
    for index, frame in enumerate(values):
        yield f"{name}#slice{index:03d}", np.rot90(window.show(frame)).copy(), window
