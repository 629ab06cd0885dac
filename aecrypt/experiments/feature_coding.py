"""The autoencoder's features as the bytes a sender hands to AES, in each wire format: float32,
float16, uint8 codes with each channel's scale and offset, and those uint8 codes entropy-coded
by a general-purpose compressor (zlib, zstd, brotli, lzma), which gives the hybrid its best chance
(notebook 04's rate-distortion curves and fair hybrid).

The receiver knows the feature map's shape from the model, so a format carries only values.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable

import numpy as np

from aecrypt.errors import CodecUnavailableError, ParameterError
from aecrypt.experiments.codecs import imagecodecs_module
from aecrypt.method.quantise import dequantize_uint8, quantize_uint8

#: Levels of the general-purpose compressors: zlib's and brotli's strongest, zstd's strongest
#: standard level. LZMA2 runs raw (no .xz container, whose header and check would cost tens
#: of bytes on a few kilobytes) at its default preset: on feature maps of a few kilobytes the
#: stronger presets make nothing smaller and allocate a 64 MiB dictionary a call.
ZLIB_LEVEL, ZSTD_LEVEL, BROTLI_LEVEL = 9, 19, 11
LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 20}]


def _imagecodecs(component: str, function: str) -> Callable[..., bytes]:
    """A compressor function of imagecodecs (``zstd_encode``), or an error saying how to get it."""
    ic = imagecodecs_module()
    if ic is None or not getattr(getattr(ic, component, None), "available", False):
        raise CodecUnavailableError(f"{component.lower()} comes from imagecodecs, which is missing or built without it; pip install imagecodecs")
    return getattr(ic, function)


#: The general-purpose compressors tried on the uint8 codes: (compress, decompress).
COMPRESSORS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "zlib": (lambda data: zlib.compress(data, ZLIB_LEVEL), zlib.decompress),
    "zstd": (lambda data: bytes(_imagecodecs("ZSTD", "zstd_encode")(data, level=ZSTD_LEVEL)),
             lambda data: bytes(_imagecodecs("ZSTD", "zstd_decode")(data))),
    "brotli": (lambda data: bytes(_imagecodecs("BROTLI", "brotli_encode")(data, level=BROTLI_LEVEL)),
               lambda data: bytes(_imagecodecs("BROTLI", "brotli_decode")(data))),
    "lzma": (lambda data: lzma.compress(data, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS),
             lambda data: lzma.decompress(data, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)),
}
#: Every wire format, largest first: the three ``encrypt_features`` stores, then uint8 entropy-coded.
WIRE_FORMATS = ("float32", "float16", "uint8", *(f"uint8 + {name}" for name in COMPRESSORS))


def wire_unavailable(wire: str) -> str:
    """Why a wire format cannot be made here ('' when it can): zstd and brotli need imagecodecs."""
    try:
        pack_features(np.zeros((1, 1, 1), np.float32), wire)
    except CodecUnavailableError as exc:
        return str(exc)
    return ""


def pack_features(features: np.ndarray, wire: str) -> bytes:
    """A feature map (HxWxC floats) as the bytes a sender encrypts in wire format ``wire``:
    the values alone for float32 and float16; for uint8, each channel's scale and offset
    (float32) then the codes, compressed by the named compressor where ``wire`` names one."""
    x = np.asarray(features, np.float32)
    if wire == "float32":
        return x.tobytes()
    if wire == "float16":
        return x.astype(np.float16).tobytes()
    compressor = _compressor(wire)
    codes, scales, offsets = quantize_uint8(x)
    body = codes.tobytes() if compressor is None else COMPRESSORS[compressor][0](codes.tobytes())
    return scales.astype(np.float32).tobytes() + offsets.astype(np.float32).tobytes() + body


def unpack_features(data: bytes, wire: str, shape: tuple[int, ...]) -> np.ndarray:
    """The feature map of shape ``shape`` back from ``pack_features``'s bytes (float32; uint8
    to within half a quantisation step per channel)."""
    if wire in ("float32", "float16"):
        return np.frombuffer(data, wire).reshape(shape).astype(np.float32)
    compressor = _compressor(wire)
    channels = shape[-1]
    scales = np.frombuffer(data[: 4 * channels], np.float32)
    offsets = np.frombuffer(data[4 * channels : 8 * channels], np.float32)
    body = data[8 * channels :]
    codes = np.frombuffer(body if compressor is None else COMPRESSORS[compressor][1](body), np.uint8).reshape(shape)
    return dequantize_uint8(codes, scales, offsets)


def _compressor(wire: str) -> str | None:
    """The compressor a uint8 wire format names (None for plain uint8), or an error for an unknown format."""
    if wire == "uint8":
        return None
    name = wire.removeprefix("uint8 + ")
    if name not in COMPRESSORS or not wire.startswith("uint8 + "):
        raise ParameterError(f"unknown wire format {wire!r}; choose one of {', '.join(WIRE_FORMATS)}")
    return name
