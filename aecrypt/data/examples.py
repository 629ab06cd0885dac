"""Example DICOM series made from data that installs with the project: pixel arrays written
into the header of one of pydicom's sample files, as made-up patients. For the tests, the
throughput benchmark, and anyone who wants to try the study's scan path without real
patients' files. Every UID is derived from the patient and series named, so the same call
writes the same files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aecrypt.data.sources import mni152_slices
from aecrypt.errors import DatasetError
from aecrypt.files import atomic_file

#: pydicom's own sample MRI (64x64, 16-bit), whose header the examples reuse.
TEMPLATE = "MR_small.dcm"
#: The stored values an MNI152 slice (in [0, 1]) is scaled to: a 12-bit MRI's range.
MNI152_STORED_MAX = 4095


def template_path(name: str = TEMPLATE) -> Path:
    """A pydicom or pydicom-data sample file, found offline, or a DatasetError saying what to install."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        raise DatasetError(f"pydicom's sample file {name} is not installed; install the project's dependencies (pydicom-data)")
    return Path(path)


def write_dicom_series(folder: Path, frames: Sequence[np.ndarray], patient_id: str, series: str, template: str = TEMPLATE,
                       window: tuple[float, float] | None = None, multiframe: bool = False) -> list[Path]:
    """Write grey frames (each H x W, unsigned or signed 8- or 16-bit) as one DICOM series of
    patient ``patient_id`` into ``folder``: a file per frame (``multiframe``: one file of them all).

    The template's header is kept but for the patient, the study, series and SOP instance
    UIDs, the pixel description and the window (``window`` = (center, width), or none).
    """
    from pydicom import dcmread
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    base = dcmread(template_path(template))
    folder.mkdir(parents=True, exist_ok=True)
    stacks = [np.stack(frames)] if multiframe else [np.asarray(frame)[None] for frame in frames]
    written = []
    for instance, stack in enumerate(stacks, start=1):
        dataset = base.copy()
        _describe_pixels(dataset, stack)
        dataset.PatientID, dataset.PatientName = patient_id, f"Example^{patient_id}"
        dataset.StudyInstanceUID = generate_uid(entropy_srcs=[patient_id])
        dataset.SeriesInstanceUID = generate_uid(entropy_srcs=[patient_id, series])
        dataset.SOPInstanceUID = generate_uid(entropy_srcs=[patient_id, series, str(instance)])
        dataset.InstanceNumber = instance
        for element in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
            dataset.pop(element, None)
        if window is not None:
            dataset.WindowCenter, dataset.WindowWidth = window
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"{series}-{instance:04d}.dcm"
        with atomic_file(path, replace=True) as handle:
            dataset.save_as(handle, implicit_vr=False, little_endian=True, enforce_file_format=True)
        written.append(path)
    return written


def _describe_pixels(dataset, stack: np.ndarray) -> None:
    """Put grey frames (N, H, W) into a dataset with the elements that describe them."""
    bits = stack.dtype.itemsize * 8
    dataset.Rows, dataset.Columns = int(stack.shape[1]), int(stack.shape[2])
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = bits, bits, bits - 1
    dataset.PixelRepresentation = int(np.issubdtype(stack.dtype, np.signedinteger))
    dataset.pop("NumberOfFrames", None)
    if len(stack) > 1:
        dataset.NumberOfFrames = len(stack)
    dataset.PixelData = np.ascontiguousarray(stack, stack.dtype.newbyteorder("<")).tobytes()
    dataset["PixelData"].VR = "OB" if bits == 8 else "OW"


def mni152_dicom_folder(folder: Path, count: int, patients: int = 4, per_series: int = 50) -> list[Path]:
    """``count`` MNI152 slices at their native size (axial 233x197, ...) as 16-bit DICOM files,
    in series of ``per_series`` spread over ``patients`` made-up patients; the template's
    409 slices are used in turn, again and again for a larger folder."""
    slices, _, _, _ = mni152_slices()
    written = []
    for start in range(0, count, per_series):
        series = f"series{start // per_series:03d}"
        patient = f"EXAMPLE{start // per_series % patients:03d}"
        block = [slices[(start + k) % len(slices)] for k in range(min(per_series, count - start))]
        stored = [np.rint(np.clip(image, 0, 1) * MNI152_STORED_MAX).astype(np.uint16) for image in block]
        written += write_dicom_series(folder / patient / series, stored, patient, series)
    return written
