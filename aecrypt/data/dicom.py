"""DICOM files for the command line (pydicom): stored values in, a valid DICOM file out.

``read_dicom`` gives every frame's stored values and, as the scan's private part, the
whole original header (every element but the pixel data) to travel encrypted inside the
payload: nothing that identifies the patient stays in clear. ``write_dicom`` puts a
reconstruction back into that header at the original bit depth and photometric
interpretation, marks it lossy as the standard asks (Lossy Image Compression "01", the
ratio and method appended to those already there) and gives it a new SOP Instance UID.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from aecrypt.data.stored import Scan, check_frame_size, frame_metadata, read_scan_file, value_window
from aecrypt.errors import ImageReadError, PayloadFormatError, UnsupportedImageError
from aecrypt.files import atomic_file, open_regular

#: The photometric interpretations written back as they were read.
PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "RGB")
#: Lossy Image Compression Method (0028,2114) that marks aecrypt's reconstruction (a CS value: 16 characters at most).
LOSSY_METHOD = "AECRYPT_AE"
#: Where a DICOM file says it is one: the magic after the 128-byte preamble.
DICOM_MAGIC_OFFSET, DICOM_MAGIC = 128, b"DICM"
#: Digits kept of the compression ratio (a DS value: 16 characters at most).
RATIO_DIGITS = 6


def looks_like_dicom(path: Path) -> bool:
    """Whether a regular file starts like a DICOM file (preamble, then 'DICM')."""
    try:
        with open_regular(path) as handle:
            head = handle.read(DICOM_MAGIC_OFFSET + len(DICOM_MAGIC))
    except OSError:
        return False
    return head[DICOM_MAGIC_OFFSET:] == DICOM_MAGIC


def read_dicom(path: Path) -> Scan:
    """Every frame of a DICOM file as stored values, with its header kept as the private part."""
    dataset, frames = dicom_frames(path)
    metadata = frame_metadata(frames, value_window(frames), "dicom", path.suffix)
    units, slope = _units(dataset)
    metadata.update(units=units, photometric=str(dataset.PhotometricInterpretation))
    return Scan(frames, metadata, private=_header_bytes(dataset), units=units, slope=slope)


def dicom_frames(path: Path) -> tuple[object, np.ndarray]:
    """A DICOM file's pydicom dataset and every frame's stored values (N, H, W, C), or a one-line refusal saying why not."""
    from pydicom import dcmread  # pydicom is read only for DICOM files
    from pydicom.errors import InvalidDicomError

    data = read_scan_file(path, "DICOM")
    try:
        dataset = dcmread(io.BytesIO(data))
    except (InvalidDicomError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise ImageReadError(f"not a readable DICOM file ({type(exc).__name__}); 'aecrypt seal' encrypts any file exactly") from None
    values = _stored_values(dataset)
    return dataset, values.reshape(frame_count(dataset), int(dataset.Rows), int(dataset.Columns), int(dataset.SamplesPerPixel))


def _stored_values(dataset) -> np.ndarray:
    """The pixel data's stored values in native byte order, or a one-line refusal saying why not."""
    if "PixelData" not in dataset:
        raise UnsupportedImageError("this DICOM file holds no pixel data (no image to encode); "
                                    "'aecrypt seal' encrypts it exactly")
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if photometric not in PHOTOMETRICS:
        raise UnsupportedImageError(f"photometric interpretation {photometric or 'missing'} is not one aecrypt writes back "
                                    f"({', '.join(PHOTOMETRICS)}); 'aecrypt seal' encrypts it exactly")
    if int(dataset.get("BitsAllocated", 0)) not in (8, 16, 32):
        raise UnsupportedImageError(f"{dataset.get('BitsAllocated')}-bit pixel data is not supported (8, 16 or 32); "
                                    "'aecrypt seal' encrypts it exactly")
    check_frame_size(int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0)), frame_count(dataset))
    try:
        values = dataset.pixel_array
    except Exception as exc:  # pydicom raises RuntimeError, NotImplementedError, ValueError... for one cause: no decoder
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        if syntax is not None and syntax.is_compressed:
            raise UnsupportedImageError(
                f"its pixel data is compressed ({syntax.name}) and no decoder for it is installed "
                "(pydicom needs pylibjpeg or GDCM for it); decompress it first (gdcmconv --raw), or 'aecrypt seal' it (exact)"
            ) from None
        raise ImageReadError(f"cannot decode its pixel data ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    return values.astype(values.dtype.newbyteorder("="))


def frame_count(dataset) -> int:
    """Number of Frames (1 when absent)."""
    return int(dataset.get("NumberOfFrames", 1) or 1)


def _units(dataset) -> tuple[str, float]:
    """The unit the rescaled values are in ('HU' for CT) and the rescale slope from stored values to it."""
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    if dataset.get("Modality") == "CT" or dataset.get("RescaleType") == "HU":
        return "HU", slope
    rescale_type = str(dataset.get("RescaleType", "")).strip()
    if rescale_type:
        return rescale_type, slope
    return ("stored units" if slope == 1 else "rescaled units"), slope


def _header_bytes(dataset) -> bytes:
    """The whole file but its pixel data, as DICOM bytes (preamble, file meta and every other element)."""
    from pydicom import dcmwrite

    header = dataset.copy()
    del header.PixelData
    buffer = io.BytesIO()
    dcmwrite(buffer, header)
    return buffer.getvalue()


def write_dicom(path: Path, frames: np.ndarray, metadata: dict, private: bytes, ratio: float, replace: bool) -> None:
    """Write a reconstruction (N, H, W, C stored values) into the original header as a new, lossy-marked DICOM file."""
    from pydicom import dcmread, dcmwrite
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    try:
        dataset = dcmread(io.BytesIO(private))
        bits = int(dataset.BitsAllocated)
    except Exception as exc:  # pydicom raises many types for a damaged header
        raise PayloadFormatError(f"the payload's DICOM header does not parse ({type(exc).__name__}); the payload was made wrongly") from None
    pixels = frames.reshape(frames.shape if frames.shape[-1] > 1 else frames.shape[:-1])
    pixels = pixels[0] if len(frames) == 1 else pixels
    dataset.add_new(0x7FE00010, "OB" if bits == 8 else "OW", pixels.astype(pixels.dtype.newbyteorder("<")).tobytes())
    if int(dataset.SamplesPerPixel) > 1:
        dataset.PlanarConfiguration = 0  # written colour by pixel (R, G, B, R, G, B, ...)
    dataset.LossyImageCompression = "01"
    dataset.LossyImageCompressionRatio = _appended(dataset.get("LossyImageCompressionRatio"), f"{ratio:.{RATIO_DIGITS}g}")
    dataset.LossyImageCompressionMethod = _appended(dataset.get("LossyImageCompressionMethod"), LOSSY_METHOD)
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian  # uncompressed: the reconstruction is written as values
    with atomic_file(path, replace=replace) as handle:
        dcmwrite(handle, dataset, implicit_vr=False, little_endian=True, enforce_file_format=True)


def _appended(existing, value: str) -> list[str]:
    """A multi-valued element's values with ``value`` appended (the earlier ones kept, as the standard asks)."""
    if existing is None or existing == "":
        return [value]
    values = [existing] if isinstance(existing, (str, bytes, int, float)) else list(existing)
    return [str(v) for v in values] + [value]


def written_by_aecrypt_dicom(path: Path) -> bool:
    """Whether a DICOM file is a reconstruction ``write_dicom`` wrote (its lossy method names aecrypt)."""
    from pydicom import dcmread

    try:
        with open_regular(path) as handle:
            dataset = dcmread(handle, stop_before_pixels=True, specific_tags=["LossyImageCompressionMethod"])
        method = dataset.get("LossyImageCompressionMethod")
    except Exception:  # anything unreadable is not ours
        return False
    return method is not None and LOSSY_METHOD in ([method] if isinstance(method, str) else list(method))
