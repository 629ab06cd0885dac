"""Every file type the command line encrypts, behind one door: PNG, JPEG and TIFF images,
DICOM files and NIfTI volumes, read as a ``Scan`` at their own bit depth and written back
the same way (``imagefiles``, ``dicom``, ``nifti``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aecrypt.data.dicom import looks_like_dicom, read_dicom, write_dicom, written_by_aecrypt_dicom
from aecrypt.data.imagefiles import as_written, read_image_file, write_image_file
from aecrypt.data.images import IMAGE_SUFFIXES, written_by_aecrypt
from aecrypt.data.nifti import NIFTI_SUFFIXES, nifti_suffix, read_nifti, write_nifti, written_by_aecrypt_nifti
from aecrypt.data.stored import Scan
from aecrypt.errors import PayloadFormatError

DICOM_SUFFIXES = (".dcm", ".dicom")
#: The files ``encrypt`` picks up in a folder (and DICOM files with no suffix at all).
SCAN_SUFFIXES = IMAGE_SUFFIXES + DICOM_SUFFIXES + NIFTI_SUFFIXES
#: The file types a payload's header may name.
SCAN_FORMATS = ("image", "dicom", "nifti")
#: NIfTI volumes are sliced along this axis unless told otherwise (the third: axial for RAS-oriented volumes).
DEFAULT_AXIS = 2


def full_suffix(name: str) -> str:
    """A file name's suffix, '.nii.gz' counted as one."""
    return nifti_suffix(name) or Path(name).suffix


def scan_format(path: Path) -> str:
    """'nifti', 'dicom' or 'image', from the name (and, for a name with no suffix, the DICOM magic)."""
    suffix = full_suffix(path.name).lower()
    if suffix in NIFTI_SUFFIXES:
        return "nifti"
    if suffix in DICOM_SUFFIXES or (suffix not in IMAGE_SUFFIXES and looks_like_dicom(path)):
        return "dicom"
    return "image"


def find_scans(folder: Path) -> list[Path]:
    """Every image, DICOM or NIfTI file under a folder, recursively, sorted (and suffix-less DICOM files)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():  # a symbolic link to a file counts, as the file it names
            continue
        suffix = full_suffix(path.name).lower()
        if suffix in SCAN_SUFFIXES or (not suffix and looks_like_dicom(path)):
            found.append(path)
    return found


def read_scan(path: Path, axis: int = DEFAULT_AXIS) -> Scan:
    """A file's frames as stored, whatever its type (NIfTI volumes sliced along ``axis``)."""
    kind = scan_format(path)
    if kind == "nifti":
        return read_nifti(path, axis)
    return read_dicom(path) if kind == "dicom" else read_image_file(path)


def write_scan(path: Path, frames: np.ndarray, metadata: dict, private: bytes, ratio: float, replace: bool) -> None:
    """Write a reconstruction (N, H, W, C stored values) as the file type the payload's header names."""
    kind = metadata.get("format", "image")
    if kind not in SCAN_FORMATS:
        raise PayloadFormatError(f"the header names a file type {kind!r} this aecrypt cannot write ({', '.join(SCAN_FORMATS)})")
    if kind != "image" and not private:
        raise PayloadFormatError(f"this {kind} payload carries no private header to write the file with; the payload is damaged")
    if kind == "dicom":
        write_dicom(path, frames, metadata, private, ratio, replace)
    elif kind == "nifti":
        write_nifti(path, frames, metadata, private, replace)
    else:
        write_image_file(path, frames, replace)


def values_written(frames: np.ndarray, metadata: dict, suffix: str) -> np.ndarray:
    """The values the written file will hold (a JPEG's after its own compression; the others exactly)."""
    return as_written(frames, suffix) if metadata.get("format", "image") == "image" else frames


def written_by_aecrypt_scan(path: Path) -> bool:
    """Whether a file is a reconstruction an earlier decrypt wrote (which ``decrypt --force`` may replace)."""
    kind = scan_format(path)
    if kind == "nifti":
        return written_by_aecrypt_nifti(path)
    return written_by_aecrypt_dicom(path) if kind == "dicom" else written_by_aecrypt(path)
