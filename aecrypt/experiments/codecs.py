"""The image codecs medical imaging stores images with, through ``imagecodecs``: PNG, JPEG-LS and
lossless JPEG 2000 (the DICOM lossless transfer syntaxes and the web's), and JPEG, WebP, JPEG
2000, HTJ2K and JPEG XL swept over their quality settings (notebook 04's rate-distortion curves).

Each codec encodes the image as stored (``stored_image``: one 8-bit channel for a grey image,
three for colour) and decodes back to the same form. A codec missing from the installed
``imagecodecs`` build is reported as unavailable (``unavailable_reason``), never skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from aecrypt.errors import CodecUnavailableError, ParameterError
from aecrypt.method.pixels import to_uint8


@dataclass(frozen=True)
class Codec:
    """One image codec as the study runs it: the library behind it, what its setting means,
    the settings swept (lowest quality first; none for a lossless codec) and how it is called."""

    name: str  # as the tables and figures name it
    component: str  # imagecodecs' codec class, whose ``available`` says whether this build has it
    library: str  # the key of ``imagecodecs.version(dict)`` naming the library that does the work
    label: str  # a setting as the tables name it, a format string ("q{:g}", "{:g} dB target"); "lossless" for none
    ladder: tuple[float, ...]  # settings swept, lowest quality first; () for a lossless codec
    encode: Callable[[ModuleType, np.ndarray, float | None], bytes]  # (imagecodecs, stored image, setting) -> bytes
    decode: Callable[[ModuleType, bytes], np.ndarray]  # (imagecodecs, bytes) -> decoded pixels

    @property
    def lossless(self) -> bool:
        """Whether the codec claims to give the stored image back bit for bit (it has no ladder)."""
        return not self.ladder


def _rgb(image: np.ndarray) -> np.ndarray:
    """A stored image with three channels (WebP has no grey mode): grey repeated."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


#: Every codec of the study, lossless first. JPEG 2000's setting is the PSNR its encoder aims
#: for (OpenJPEG's quality layer); HTJ2K's is OpenJPH's quantisation step (smaller is finer).
CODECS: tuple[Codec, ...] = (
    Codec("PNG", "PNG", "libpng", "lossless", (), lambda ic, x, _: ic.png_encode(x, level=9), lambda ic, b: ic.png_decode(b)),
    Codec("JPEG-LS", "JPEGLS", "charls", "lossless", (), lambda ic, x, _: ic.jpegls_encode(x, level=0),
          lambda ic, b: ic.jpegls_decode(b)),
    Codec("JPEG 2000 (lossless)", "JPEG2K", "openjpeg", "lossless", (), lambda ic, x, _: ic.jpeg2k_encode(x, reversible=True),
          lambda ic, b: ic.jpeg2k_decode(b)),
    Codec("JPEG", "JPEG8", "libjpeg_turbo", "q{:g}", (10, 20, 30, 50, 70, 80, 90, 95),
          lambda ic, x, q: ic.jpeg8_encode(x, level=int(q)), lambda ic, b: ic.jpeg8_decode(b)),
    Codec("WebP", "WEBP", "libwebp", "q{:g}", (10, 20, 30, 50, 70, 80, 90, 95),
          lambda ic, x, q: ic.webp_encode(_rgb(x), level=int(q), lossless=False), lambda ic, b: ic.webp_decode(b)),
    Codec("JPEG 2000", "JPEG2K", "openjpeg", "{:g} dB target", (24, 28, 32, 36, 40, 44, 48, 52),
          lambda ic, x, q: ic.jpeg2k_encode(x, level=q), lambda ic, b: ic.jpeg2k_decode(b)),
    Codec("HTJ2K", "HTJ2K", "openjph", "qstep {:g}", (0.3, 0.15, 0.08, 0.05, 0.03, 0.015, 0.008, 0.004),
          lambda ic, x, q: ic.htj2k_encode(x, level=q), lambda ic, b: ic.htj2k_decode(b)),
    Codec("JPEG XL", "JPEGXL", "libjxl", "q{:g}", (10, 20, 30, 50, 70, 80, 90, 95),
          lambda ic, x, q: ic.jpegxl_encode(x, level=int(q)), lambda ic, b: ic.jpegxl_decode(b)),
)
#: The codec every other is measured against in BD-rate (issue 29: the DICOM lossy standard).
REFERENCE_CODEC = "JPEG 2000"


def codec(name: str) -> Codec:
    """The codec of ``CODECS`` named ``name``."""
    for candidate in CODECS:
        if candidate.name == name:
            return candidate
    raise ParameterError(f"no codec named {name!r}; choose one of {', '.join(c.name for c in CODECS)}")


def imagecodecs_module() -> ModuleType | None:
    """``imagecodecs``, or None when it is not installed (every codec is then unavailable)."""
    try:
        import imagecodecs
    except ImportError:
        return None
    return imagecodecs


def unavailable_reason(entry: Codec) -> str:
    """Why a codec cannot run here ('' when it can): imagecodecs missing, or built without it."""
    ic = imagecodecs_module()
    if ic is None:
        return "imagecodecs is not installed (pip install imagecodecs)"
    component = getattr(ic, entry.component, None)
    if component is None or not getattr(component, "available", False):
        return f"this imagecodecs build ({ic.__version__}) has no {entry.name} codec"
    return ""


def library_version(entry: Codec) -> str:
    """The library doing a codec's work and its version, with imagecodecs' ('libjxl 0.11.2, imagecodecs 2026.3.6')."""
    ic = imagecodecs_module()
    if ic is None:
        return ""
    versions = ic.version(dict)
    return f"{entry.library} {versions.get(entry.library, 'unknown')}, imagecodecs {ic.__version__}"


def settings(entry: Codec, points: int) -> tuple[float | None, ...]:
    """``points`` settings of a codec's ladder, spread evenly from its lowest to its highest
    quality (all of them when it has no more); (None,) for a lossless codec."""
    if entry.lossless:
        return (None,)
    if points < 2:
        raise ParameterError(f"a rate-distortion curve needs at least 2 points per codec, not {points}")
    picks = np.unique(np.rint(np.linspace(0, len(entry.ladder) - 1, min(points, len(entry.ladder)))).astype(int))
    return tuple(entry.ladder[i] for i in picks)


def setting_label(entry: Codec, setting: float | None) -> str:
    """A codec setting as the tables name it ('q75', '40 dB target', 'lossless')."""
    return entry.label if setting is None else entry.label.format(setting)


def stored_image(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as a scanner stores it: 8 bits a sample, one channel for a grey
    image (kept as three equal channels for the network), three for colour."""
    pixels = to_uint8(image)
    grey = pixels.ndim == 3 and (pixels.shape[-1] == 1 or (pixels.shape[-1] == 3 and (pixels == pixels[..., :1]).all()))
    return np.ascontiguousarray(pixels[..., 0] if grey else pixels)


def as_stored(decoded: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Decoded pixels in the form of the stored image ``like``: a grey image's channels
    averaged (WebP decodes grey to three channels that may differ by one level), as uint8."""
    x = np.asarray(decoded)
    if like.ndim == 2 and x.ndim == 3:
        x = np.rint(x.astype(np.float64).mean(axis=-1))
    return np.clip(x, 0, 255).astype(np.uint8).reshape(like.shape)


def round_trip(entry: Codec, image: np.ndarray, setting: float | None) -> tuple[bytes, np.ndarray]:
    """A stored image encoded by ``entry`` at ``setting`` and decoded: (the codec's bytes, the
    decoded image in the stored form)."""
    ic = imagecodecs_module()
    reason = unavailable_reason(entry)
    if reason:
        raise CodecUnavailableError(f"{entry.name}: {reason}; leave it out or install an imagecodecs build with it")
    data = bytes(entry.encode(ic, image, setting))
    return data, as_stored(entry.decode(ic, data), image)
