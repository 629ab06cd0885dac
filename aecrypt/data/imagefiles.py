"""PNG, JPEG and TIFF files as stored, for the command line: every frame of a multi-page TIFF,
at the file's own bit depth (1-bit, 8-bit, 16-bit, 32-bit integer or float), with its EXIF
orientation applied; and written back the same way, marked as aecrypt's reconstruction."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence

from aecrypt.data.images import PIL_READ_ERRORS, EXIF_SOFTWARE, IMAGE_FORMATS, IMAGE_SUFFIXES, JPEG_QUALITY, WRITTEN_BY
from aecrypt.data.stored import MAX_SCAN_FILE_BYTES, Scan, check_frame_size, frame_metadata, value_window
from aecrypt.errors import ImageReadError, ImageSizeError, ParameterError, UnsupportedImageError
from aecrypt.files import FileTooLargeError, atomic_file, open_regular

#: EXIF tag 'Orientation': how a camera or scanner meant the stored pixels to be turned.
EXIF_ORIENTATION = 0x0112
#: Pillow modes read as they are: (mode written back, value type).
_KEPT_MODES = {"1": "1", "L": "L", "RGB": "RGB", "I;16": "I;16", "I;16L": "I;16", "I;16B": "I;16", "I;16N": "I;16",
               "I": "I", "F": "F"}
#: Modes turned into another before reading, and what is lost on the way (None: nothing).
_CONVERTED_MODES = {"LA": ("L", "its alpha channel is dropped"), "La": ("L", "its alpha channel is dropped"),
                    "RGBA": ("RGB", "its alpha channel is dropped"), "RGBa": ("RGB", "its alpha channel is dropped"),
                    "RGBX": ("RGB", None), "P": ("RGB", None), "PA": ("RGB", "its alpha channel is dropped"),
                    "CMYK": ("RGB", "it is converted from CMYK to RGB"), "YCbCr": ("RGB", None),
                    "LAB": ("RGB", "it is converted from LAB to RGB"), "HSV": ("RGB", "it is converted from HSV to RGB")}
#: The formats that hold several frames in one file, which aecrypt writes back frame for frame.
MULTI_FRAME_FORMATS = ("TIFF",)


def read_image_file(path: Path) -> Scan:
    """Every frame of a PNG, JPEG or TIFF file at its own bit depth, EXIF orientation applied."""
    if path.suffix.lower() not in IMAGE_FORMATS:  # decrypt writes the type the name says: refuse one it cannot
        raise UnsupportedImageError(f"aecrypt encrypts and writes back {', '.join(IMAGE_SUFFIXES)} images (and DICOM, "
                                    "NIfTI); convert it, or 'aecrypt seal' it (exact)")
    try:
        with open_regular(path, MAX_SCAN_FILE_BYTES) as handle, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                check_frame_size(image.height, image.width)
                count = getattr(image, "n_frames", 1)
                if count > 1 and image.format not in MULTI_FRAME_FORMATS:
                    raise UnsupportedImageError(f"a {image.format} with {count} frames; aecrypt encrypts every frame "
                                                "only of multi-page TIFF and DICOM files; split it, or 'aecrypt seal' it (exact)")
                file_format = image.format
                read = [_frame(frame) for frame in ImageSequence.Iterator(image)]
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageSizeError(f"this image has more pixels than aecrypt writes back ({Image.MAX_IMAGE_PIXELS}, Pillow's "
                             "decompression-bomb bound); downscale it, or 'aecrypt seal' it (exact)") from None
    except FileTooLargeError as exc:
        raise ImageSizeError(f"the file is too large to read ({exc.strerror})") from None
    except FileNotFoundError:
        raise ImageReadError("no such image file") from None
    except PIL_READ_ERRORS as exc:
        if isinstance(exc, OSError) and exc.errno:  # the file system's error, not Pillow's
            raise ImageReadError(f"cannot read this file ({exc.strerror})") from None
        raise ImageReadError(f"cannot read this image ({exc.__class__.__name__}); it is corrupt, truncated or not "
                             f"PNG/JPEG/TIFF. Supported: {', '.join(IMAGE_SUFFIXES)}") from None
    return _scan(read, file_format, path)


def _scan(read: list[tuple[np.ndarray, str, int, list[str]]], file_format: str, path: Path) -> Scan:
    """The frames read, checked to agree in size and type, as a Scan."""
    arrays, modes = [r[0] for r in read], {r[1] for r in read}
    if len({a.shape for a in arrays}) > 1 or len(modes) > 1:
        raise UnsupportedImageError(f"its {len(arrays)} frames differ in size or type ({', '.join(sorted(modes))}); "
                                    "aecrypt encrypts frames of one size and type; split it, or 'aecrypt seal' it (exact)")
    frames = np.stack(arrays)
    metadata = frame_metadata(frames, value_window(frames), "image", path.suffix)
    metadata.update(mode=modes.pop(), image_format=file_format)
    orientation = read[0][2]
    if orientation not in (0, 1):
        metadata["orientation"] = orientation  # applied: the pixels are stored as they are meant to be seen
    notes = tuple(dict.fromkeys(note for r in read for note in r[3]))
    return Scan(frames, metadata, notes=notes)


def _frame(frame: Image.Image) -> tuple[np.ndarray, str, int, list[str]]:
    """One frame's values (H, W, C), the mode to write it back in, its EXIF orientation, and what was lost."""
    orientation = frame.getexif().get(EXIF_ORIENTATION, 1)
    frame = ImageOps.exif_transpose(frame) if orientation not in (0, 1) else frame
    notes = []
    mode = frame.mode
    if mode in _CONVERTED_MODES:
        mode, note = _CONVERTED_MODES[mode]
        has_alpha = frame.mode in ("P", "PA") and ("transparency" in frame.info or frame.mode == "PA")
        notes += [note] if note else ["its transparency is dropped"] if has_alpha else []
        frame = frame.convert(mode)
    if mode not in _KEPT_MODES:
        raise UnsupportedImageError(f"pixels of Pillow mode {frame.mode} cannot be encrypted; convert it to 8- or "
                                    "16-bit grey or RGB, or 'aecrypt seal' it (exact)")
    values = np.asarray(frame)
    values = values.astype(values.dtype.newbyteorder("="))
    return (values[..., None] if values.ndim == 2 else values), _KEPT_MODES[mode], orientation, notes


def write_image_file(path: Path, frames: np.ndarray, replace: bool) -> None:
    """Write frames (N, H, W, C) of stored values as the image type ``path``'s suffix names, marked as aecrypt's."""
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ParameterError(f"cannot write images of type {path.suffix!r}; name it with one of {', '.join(IMAGE_SUFFIXES)}")
    with atomic_file(path, replace=replace) as handle:
        handle.write(_encoded(frames, fmt))


def as_written(frames: np.ndarray, suffix: str) -> np.ndarray:
    """The values decrypt's file will hold: those of a lossy format (JPEG) after encoding; the others as they are."""
    fmt = IMAGE_FORMATS.get(suffix.lower())
    if fmt != "JPEG":
        return frames
    with Image.open(io.BytesIO(_encoded(frames, fmt))) as image:
        return np.asarray(image).reshape(frames.shape)


def _encoded(frames: np.ndarray, fmt: str) -> bytes:
    """Frames encoded as one file of format ``fmt`` (several frames: a multi-page TIFF), with aecrypt's EXIF mark."""
    if len(frames) > 1 and fmt not in MULTI_FRAME_FORMATS:
        raise ParameterError(f"{len(frames)} frames cannot be written as {fmt}; name the output .tif")
    pictures = [Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame) for frame in frames]
    if fmt == "JPEG" and pictures[0].mode not in ("L", "RGB"):
        pictures = [picture.convert("L") for picture in pictures]  # a 1-bit image as 8-bit grey
    exif = Image.Exif()
    exif[EXIF_SOFTWARE] = WRITTEN_BY
    buffer = io.BytesIO()
    try:
        pictures[0].save(buffer, format=fmt, exif=exif, quality=JPEG_QUALITY, save_all=len(pictures) > 1,
                         append_images=pictures[1:])
    except (OSError, ValueError, KeyError) as exc:
        raise ParameterError(f"{fmt} cannot hold {pictures[0].mode} pixels ({exc}); name the output .tif") from None
    return buffer.getvalue()
