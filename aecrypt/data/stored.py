"""A scan as stored: what every file reader (PNG, JPEG, TIFF, DICOM, NIfTI) gives the command
line, frame by frame at the file's own bit depth, with what it takes to write it back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from aecrypt.errors import ImageReadError, ImageSizeError, UnsupportedImageError
from aecrypt.files import FileTooLargeError, read_bounded

#: The most pixels one frame may have, read or written: Pillow's decompression-bomb bound, so
#: that a frame encrypt accepts is one decrypt can write (and read back) as well.
MAX_FRAME_PIXELS = Image.MAX_IMAGE_PIXELS
#: The largest scan file (DICOM, NIfTI, TIFF) read into memory.
MAX_SCAN_FILE_BYTES = 2 << 30
#: The value types aecrypt writes back, by the name a payload's header records.
STORED_DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")


@dataclass(frozen=True)
class Scan:
    """The frames of an image file as stored, and how to put a reconstruction back.

    ``frames`` is (N, H, W, C) in the file's own value type; ``window`` the stored values
    shown to the model as 0 and 1; ``metadata`` what decrypt needs to write the file again
    (it goes into the payload's header, readable without the key); ``private`` what must
    stay secret (a DICOM file's patient fields, a NIfTI header), encrypted with the
    features; ``units``/``slope`` turn a stored value's error into the scan's own units
    (HU for CT); ``notes`` say what reading changed (EXIF rotation applied, alpha dropped).
    """

    frames: np.ndarray
    metadata: dict
    private: bytes = b""
    units: str = ""
    slope: float = 1.0
    notes: tuple[str, ...] = field(default=())

    @property
    def window(self) -> tuple[float, float]:
        """The stored values mapped to 0 and 1 for the model."""
        low, high = self.metadata["window"]
        return float(low), float(high)


def frame_metadata(frames: np.ndarray, window: tuple[float, float], file_format: str, suffix: str) -> dict:
    """The header fields every scan has: its format, frame size and count, channels, value type and window."""
    return {"format": file_format, "frames": int(frames.shape[0]), "height": int(frames.shape[1]),
            "width": int(frames.shape[2]), "channels": int(frames.shape[3]), "dtype": stored_dtype(frames.dtype),
            "window": [_number(window[0]), _number(window[1])], "suffix": suffix}


def stored_dtype(dtype: np.dtype) -> str:
    """A value type's name as a header records it (native byte order), or ``UnsupportedImageError``."""
    name = np.dtype(dtype).newbyteorder("=").name
    if name not in STORED_DTYPES:
        raise UnsupportedImageError(f"pixels of type {name} cannot be encrypted; aecrypt takes {', '.join(STORED_DTYPES)}")
    return name


def value_window(values: np.ndarray) -> tuple[float, float]:
    """The range a scan's values span (8-bit and 1-bit: the type's whole range), refusing NaN and infinity."""
    if values.dtype == np.uint8:
        return 0.0, 255.0
    if values.dtype == np.bool_:
        return 0.0, 1.0
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values)):
        raise UnsupportedImageError("holds NaN or infinite values, which the autoencoder cannot represent; "
                                    "replace them, or 'aecrypt seal' the file (exact)")
    return float(values.min()), float(values.max())


def check_frame_size(height: int, width: int, frames: int = 1) -> None:
    """Refuse a frame with more pixels than decrypt would write (before its pixels are decoded)."""
    if height * width > MAX_FRAME_PIXELS:
        raise ImageSizeError(f"{height}x{width} is {height * width} pixels a frame, more than aecrypt writes back "
                             f"({MAX_FRAME_PIXELS}, Pillow's decompression-bomb bound); downscale it, or 'aecrypt seal' it (exact)")
    if min(height, width, frames) < 1:
        raise ImageSizeError(f"has no pixels ({frames} frame(s) of {height}x{width})")


def _number(value: float) -> int | float:
    """A window bound as JSON keeps it: a whole number as an int."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def read_scan_file(path, kind: str) -> bytes:
    """A scan file's bytes, read with ``MAX_SCAN_FILE_BYTES`` as the bound; each failure one line naming ``kind`` ('DICOM', 'NIfTI')."""
    try:
        return read_bounded(path, MAX_SCAN_FILE_BYTES)
    except FileTooLargeError as exc:
        raise ImageSizeError(f"the file is too large to read ({exc.strerror})") from None
    except FileNotFoundError:
        raise ImageReadError(f"no such {kind} file") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read this file ({exc.strerror})") from None
