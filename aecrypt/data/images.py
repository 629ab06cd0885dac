"""Single image files: reading PNG, JPEG and TIFF as float pixels in [0, 1], writing a
reconstruction marked as aecrypt's, and preparing an image for the model (crop, square,
resize, channels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from skimage.transform import resize

from aecrypt.errors import ImageReadError, ParameterError
from aecrypt.files import NotRegularFileError, atomic_file, open_regular
from aecrypt.method.pixels import pad_to_square, set_channels, to_uint8

#: The image files aecrypt reads and writes, by suffix, with Pillow's name for each format.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)
#: JPEG quality for a reconstruction written as .jpg (Pillow's default, 75, would add visible loss).
JPEG_QUALITY = 95
#: EXIF tag 'Software' and the value ``write_image`` puts in it: it tells a reconstruction that
#: aecrypt wrote (which ``decrypt --force`` may replace) from an original scan (which it never does).
EXIF_SOFTWARE = 0x0131
WRITTEN_BY = "aecrypt decrypt (autoencoder reconstruction)"
#: What Pillow raises for a file it cannot decode (and ``open_regular`` for one that is not a regular file).
PIL_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)
#: A pixel belongs to a fundus photograph's field of view above this grey level (of 1).
FUNDUS_BACKGROUND = 0.04


def read_image(path: str | Path) -> np.ndarray:
    """Read one PNG, JPEG or TIFF (8- or 16-bit; grey, RGB or RGBA) as float32 HxWxC in [0, 1]."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such image file")
    try:
        with open_regular(path) as stream, Image.open(stream) as handle:  # a FIFO is refused before it is read
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
    except NotRegularFileError as exc:
        raise ImageReadError(f"{path}: cannot read this image ({exc.strerror})") from None
    except PIL_READ_ERRORS as exc:
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
        with open_regular(path) as stream, Image.open(stream) as handle:
            return handle.getexif().get(EXIF_SOFTWARE) == WRITTEN_BY
    except (*PIL_READ_ERRORS, Image.DecompressionBombError):
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
    top, bottom, left, right = fundus_box(image, background)
    return image[top:bottom, left:right]


def fundus_box(image: np.ndarray, background: float = FUNDUS_BACKGROUND) -> tuple[int, int, int, int]:
    """The rows and columns (top, bottom, left, right) of a fundus photograph's field of view (all of it if none)."""
    grey = image.mean(axis=-1)
    rows = np.flatnonzero(grey.max(axis=1) > background)
    cols = np.flatnonzero(grey.max(axis=0) > background)
    if rows.size == 0 or cols.size == 0:
        return 0, image.shape[0], 0, image.shape[1]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
