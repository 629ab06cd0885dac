"""NIfTI volumes for the command line (nibabel): slice by slice along a chosen axis, and back.

``read_nifti`` gives a 2-D or 3-D volume's slices as stored values (on-disk type, before
``scl_slope``), and keeps the header bytes (with any extensions) as the scan's private
part, encrypted inside the payload. ``write_nifti`` writes those header bytes back as they
were, so the affine, the scaling and every other field come back, with one change: the
``descrip`` field says the data are aecrypt's lossy reconstruction.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from aecrypt.data.stored import MAX_SCAN_FILE_BYTES, Scan, check_frame_size, frame_metadata, read_scan_file, value_window
from aecrypt.errors import ImageReadError, ImageSizeError, ParameterError, UnsupportedImageError
from aecrypt.files import atomic_file, open_regular

NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: What ``write_nifti`` puts in the header's ``descrip`` field (80 bytes at most), and how a reconstruction is told from an original.
WRITTEN_BY = b"aecrypt decrypt (autoencoder reconstruction)"
#: Header sizes of NIfTI-1 and NIfTI-2 (the first four bytes, in either byte order).
_HEADER_SIZES = {348: "Nifti1Image", 540: "Nifti2Image"}
#: gzip's mtime field for a written .nii.gz: 0, so equal data give equal bytes.
GZIP_MTIME = 0
#: Bytes read (and, for .nii.gz, unpacked) to find a volume's shape: enough for either header.
HEADER_READ_BYTES = 4096


def nifti_suffix(name: str) -> str:
    """'.nii.gz' or '.nii' if a file name ends so (any case), else ''."""
    lower = name.lower()
    return next((suffix for suffix in sorted(NIFTI_SUFFIXES, key=len, reverse=True) if lower.endswith(suffix)), "")


def read_nifti(path: Path, axis: int) -> Scan:
    """A 2-D or 3-D NIfTI volume's slices along ``axis`` (N, H, W, 1) as stored values, its header kept private."""
    raw = _file_bytes(path)
    image = _nifti_image(raw)
    shape = tuple(int(n) for n in image.shape)
    if len(shape) > 3 and any(n > 1 for n in shape[3:]):
        raise UnsupportedImageError(f"a {len(shape)}-D NIfTI volume {'x'.join(map(str, shape))}; aecrypt encrypts 2-D and "
                                    "3-D volumes slice by slice; split it into 3-D volumes, or 'aecrypt seal' it (exact)")
    if not 0 <= axis <= 2:
        raise ParameterError(f"--axis is 0, 1 or 2 (the volume axis to slice along), not {axis}")
    volume = np.asanyarray(image.dataobj.get_unscaled()).reshape((*shape[:3], 1, 1)[:3])
    slices = np.moveaxis(volume, axis, 0)
    check_frame_size(slices.shape[1], slices.shape[2], slices.shape[0])
    frames = slices.astype(slices.dtype.newbyteorder("="))[..., None]
    metadata = frame_metadata(frames, value_window(frames), "nifti", nifti_suffix(path.name))
    on_disk = image.header.get_data_dtype()
    metadata.update(axis=axis, shape=list(shape), disk_dtype=on_disk.str)
    slope, _ = image.header.get_slope_inter()
    scaled = slope is not None and slope not in (0, 1)
    return Scan(frames, metadata, private=raw[: int(image.dataobj.offset)],
                units="scaled units" if scaled else "stored units", slope=float(slope) if scaled else 1.0)


def _file_bytes(path: Path) -> bytes:
    """A NIfTI file's bytes, un-gzipped with a bound (a small .nii.gz cannot unpack to more than a scan file may hold)."""
    data = read_scan_file(path, "NIfTI")
    if data[:2] != b"\x1f\x8b":
        return data
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = unpacker.decompress(data, MAX_SCAN_FILE_BYTES)
    except zlib.error:
        raise ImageReadError("a damaged .gz file (it does not unpack)") from None
    if unpacker.unconsumed_tail:
        raise ImageSizeError(f"unpacks to more than {MAX_SCAN_FILE_BYTES} bytes, more than aecrypt reads")
    return raw


def nifti_shape(path: Path) -> tuple[int, ...]:
    """A NIfTI file's volume shape, from its header alone (the first bytes, un-gzipped with a bound)."""
    import nibabel  # nibabel is read only for NIfTI files

    try:
        with open_regular(path, MAX_SCAN_FILE_BYTES) as handle:
            head = handle.read(HEADER_READ_BYTES)
        if head[:2] == b"\x1f\x8b":
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEADER_READ_BYTES)
    except (OSError, zlib.error) as exc:
        raise ImageReadError(f"cannot read this NIfTI file's header ({type(exc).__name__})") from None
    kind = nibabel.Nifti1Header if _header_size(head) == 348 else nibabel.Nifti2Header
    try:
        return tuple(int(n) for n in kind.from_fileobj(io.BytesIO(head), check=False).get_data_shape())
    except Exception as exc:  # nibabel raises many types for a damaged header
        raise ImageReadError(f"not a readable NIfTI file ({type(exc).__name__})") from None


def _nifti_image(raw: bytes):
    """The nibabel image a single-file NIfTI-1 or NIfTI-2 holds, or ``ImageReadError``."""
    import nibabel  # nibabel is read only for NIfTI files

    try:
        return getattr(nibabel, _HEADER_SIZES[_header_size(raw)]).from_bytes(raw)
    except Exception as exc:  # nibabel raises many types for a damaged header
        raise ImageReadError(f"not a readable NIfTI file ({type(exc).__name__}); 'aecrypt seal' encrypts any file exactly") from None


def _header_size(raw: bytes) -> int:
    """348 (NIfTI-1) or 540 (NIfTI-2), from the first four bytes in either byte order; ``ImageReadError`` otherwise."""
    for order in ("little", "big"):
        if int.from_bytes(raw[:4], order) in _HEADER_SIZES:
            return int.from_bytes(raw[:4], order)
    raise ImageReadError("not a NIfTI-1 or NIfTI-2 file (its header size is neither 348 nor 540)")


def write_nifti(path: Path, frames: np.ndarray, metadata: dict, private: bytes, replace: bool) -> None:
    """Write slices (N, H, W, 1) of stored values back into the original header, as .nii or .nii.gz."""
    shape = tuple(metadata["shape"])
    volume = np.moveaxis(frames[..., 0], 0, metadata["axis"]).reshape(shape)
    data = volume.astype(np.dtype(metadata["disk_dtype"])).tobytes(order="F")  # NIfTI stores the first axis fastest
    content = _marked(private) + data
    if nifti_suffix(path.name) == ".nii.gz":
        content = gzip.compress(content, mtime=GZIP_MTIME)
    with atomic_file(path, replace=replace) as handle:
        handle.write(content)


def _marked(header: bytes) -> bytes:
    """The header bytes with ``descrip`` saying the data are aecrypt's reconstruction; the rest as it was."""
    import nibabel

    size = _header_size(header)
    kind = nibabel.Nifti1Header if size == 348 else nibabel.Nifti2Header
    block = kind.from_fileobj(io.BytesIO(header[:size]), check=False)
    block["descrip"] = WRITTEN_BY
    return block.binaryblock + header[size:]


def written_by_aecrypt_nifti(path: Path) -> bool:
    """Whether a NIfTI file is a reconstruction ``write_nifti`` wrote (its ``descrip`` says so)."""
    try:
        with open_regular(path, MAX_SCAN_FILE_BYTES) as handle:
            head = handle.read(4096)
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024) if head[:2] == b"\x1f\x8b" else head
    except (OSError, zlib.error):
        return False
    return WRITTEN_BY in head
