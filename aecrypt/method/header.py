"""The payload format: a versioned, self-describing header in front of the ciphertext.

Payload layout (all integers big-endian)::

    magic     4 bytes  b"AECR"
    version   u8       3 with a private block; 2 with a metadata block; 1 without (each payload takes the lowest that holds it)
    scheme    u8       gcm | paper | ecb | cbc | ctr | paper-blocks (paper, paper-blocks: our two readings of the paper's row keys)
    dtype     u8       float32 | float16 | uint8q (quantised features) | uint8 (raw image) | file (a file's bytes)
    ndim      u8       then ndim x u32: the array's shape
    nquant    u16      then nquant x (scale f32, offset f32): uint8q's per-channel affine
    noncelen  u8       then the nonce / IV bytes
    metalen   u16      then metalen bytes of UTF-8 JSON: an object (the image's size, mode, fidelity); versions 2, 3
    privlen   u32      bytes of private data encrypted after the array (a scan's own header); version 3 only, gcm only
    bodylen   u64      then the ciphertext (of the array's bytes, then the private bytes)
    taglen    u8       then the tag (16 bytes for gcm, none otherwise)

With ``gcm`` (the default) everything before the ciphertext is authenticated as
associated data, so any altered byte, or a wrong key, raises ``WrongKeyOrTamperedError``.
``read_header`` parses and checks a header without the key. The metadata block is readable
by anyone who holds the payload (authenticated, not secret); what must stay secret, such as
a DICOM file's patient fields, goes into the private block, encrypted with the array.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

import numpy as np

from aecrypt.errors import ParameterError, PayloadFormatError
from aecrypt.method.schemes import AUTHENTICATED_SCHEMES, PAPER_SCHEMES, SCHEMES, body_length, nonce_bytes, tag_bytes

MAGIC = b"AECR"
#: The format with a metadata block; a payload without metadata is written as version 1.
PAYLOAD_VERSION = 2
#: The format version without the metadata block.
PLAIN_VERSION = 1
#: The newest format: version 3 adds the private block (encrypted with the array), for payloads that carry one.
PRIVATE_VERSION = 3
#: Versions ``read_header`` accepts.
READABLE_VERSIONS = (PLAIN_VERSION, PAYLOAD_VERSION, PRIVATE_VERSION)
#: The largest private block (a scan's header, its overlays and private tags) a payload may carry.
MAX_PRIVATE_BYTES = 64 << 20
#: The largest metadata block (JSON) a header may carry.
MAX_METADATA_BYTES = 4096
MAX_NDIM = 8
#: The dtype of a payload that holds a file's bytes (``encrypt_file``), not an array.
FILE_DTYPE = "file"
#: The array each dtype decrypts to before dequantisation.
NUMPY_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8q": np.uint8, "uint8": np.uint8, FILE_DTYPE: np.uint8}
_DTYPE_CODES = {"float32": 1, "float16": 2, "uint8q": 3, "uint8": 4, FILE_DTYPE: 5}
_SCHEME_CODES = {name: index + 1 for index, name in enumerate(SCHEMES)}
_FIXED = struct.Struct(">4sBBBB")
#: The largest header the format can describe: fixed part, shape, quantisation pairs, nonce, lengths.
MAX_HEADER_BYTES = _FIXED.size + 4 * MAX_NDIM + 2 + 8 * 0xFFFF + 1 + 0xFF + 2 + MAX_METADATA_BYTES + 4 + 9
#: The largest array ciphertext ``read_payload`` accepts (the features of a large image are well under it).
MAX_BODY_BYTES = 1 << 30
#: The largest payload file ``read_payload`` reads: header, 1 GiB of array, the private block and the tag.
MAX_PAYLOAD_BYTES = MAX_HEADER_BYTES + MAX_BODY_BYTES + MAX_PRIVATE_BYTES + 0xFF
BAD_MAGIC = "not an aecrypt payload (bad magic bytes); was this file made by aecrypt encrypt?"


@dataclass(frozen=True)
class PayloadHeader:
    """What a payload says about itself, readable without the key."""

    version: int
    scheme: str
    dtype: str
    shape: tuple[int, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    nonce: bytes
    body_bytes: int
    tag: bytes
    header_bytes: int
    metadata: dict = field(default_factory=dict)
    private_bytes: int = 0

    @property
    def authenticated(self) -> bool:
        """Whether the scheme detects a wrong key or altered bytes."""
        return self.scheme in AUTHENTICATED_SCHEMES

    @property
    def plaintext_bytes(self) -> int:
        """Size of the array that was encrypted (the private block comes on top)."""
        return _product(self.shape) * np.dtype(NUMPY_DTYPES[self.dtype]).itemsize

    @property
    def total_bytes(self) -> int:
        """Size of the whole payload."""
        return self.header_bytes + self.body_bytes + len(self.tag)


# ----------------------------------------------------------------------- writing


def pack_header(
    scheme: str,
    dtype_code: str,
    shape: tuple[int, ...],
    scales: np.ndarray,
    offsets: np.ndarray,
    nonce: bytes,
    metadata: bytes,
    body_len: int,
    tag_len: int,
    private_len: int = 0,
) -> bytes:
    """Everything before the ciphertext, as bytes (authenticated as associated data in gcm)."""
    version = PRIVATE_VERSION if private_len else PAYLOAD_VERSION if metadata else PLAIN_VERSION
    parts = [_FIXED.pack(MAGIC, version, _SCHEME_CODES[scheme], _DTYPE_CODES[dtype_code], len(shape))]
    parts.append(struct.pack(f">{len(shape)}I", *shape))
    parts.append(struct.pack(">H", len(scales)))
    for scale, offset in zip(scales, offsets):
        parts.append(struct.pack(">ff", float(scale), float(offset)))
    parts.append(struct.pack(">B", len(nonce)) + nonce)
    if version >= PAYLOAD_VERSION:
        parts.append(struct.pack(">H", len(metadata)) + metadata)
    if version >= PRIVATE_VERSION:
        parts.append(struct.pack(">I", private_len))
    parts.append(struct.pack(">QB", body_len, tag_len))
    return b"".join(parts)


def pack_metadata(metadata: dict | None) -> bytes:
    """A metadata object as compact UTF-8 JSON (none: b""), or ``ParameterError`` if it is not one or is too large."""
    if metadata is not None and not isinstance(metadata, dict):
        raise ParameterError(f"metadata must be a dict (a JSON object), not {type(metadata).__name__}")
    if not metadata:
        return b""
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"metadata must hold only finite numbers, strings, lists and dicts ({exc})") from None
    if len(text) > MAX_METADATA_BYTES:
        raise ParameterError(f"metadata is {len(text)} bytes as JSON; a header holds {MAX_METADATA_BYTES} at most")
    return text


# ----------------------------------------------------------------------- reading


def read_header(payload: bytes) -> PayloadHeader:
    """Parse and check a payload's header without the key; ``PayloadFormatError`` if malformed."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise PayloadFormatError(f"a payload is bytes, not {type(payload).__name__}")
    payload = bytes(payload)
    reader = _Reader(payload)
    version, scheme, dtype, ndim = _read_fixed(reader)
    shape = reader.unpack(struct.Struct(f">{ndim}I"))
    scales, offsets = _read_quantisation(reader, dtype, shape)
    nonce = _read_nonce(reader, scheme)
    metadata = _read_metadata(reader) if version >= PAYLOAD_VERSION else {}
    private_len = _read_private_length(reader, scheme) if version >= PRIVATE_VERSION else 0
    body_len, tag_len = _read_lengths(reader, scheme, dtype, shape, private_len)
    header_bytes = reader.position
    _check_length(len(payload), header_bytes, body_len + tag_len)
    tag = payload[header_bytes + body_len :]
    return PayloadHeader(version, scheme, dtype, tuple(shape), scales, offsets, nonce, body_len, tag, header_bytes, metadata,
                         private_len)


def _read_fixed(reader: _Reader) -> tuple[int, str, str, int]:
    """The fixed part: magic, version, scheme, dtype and the number of dimensions, each checked."""
    magic, version, scheme_code, dtype_code, ndim = reader.unpack(_FIXED)
    if magic != MAGIC:
        raise PayloadFormatError(BAD_MAGIC)
    if version not in READABLE_VERSIONS:
        raise PayloadFormatError(
            f"payload format version {version} is not supported by this aecrypt (which reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}); upgrade aecrypt or re-encrypt"
        )
    scheme = _lookup(_SCHEME_CODES, scheme_code, "scheme")
    dtype = _lookup(_DTYPE_CODES, dtype_code, "dtype")
    if not 1 <= ndim <= MAX_NDIM:
        raise PayloadFormatError(f"payload claims {ndim} dimensions; 1 to {MAX_NDIM} are valid")
    return version, scheme, dtype, ndim


def _read_quantisation(reader: _Reader, dtype: str, shape: tuple[int, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """uint8q's per-channel scales and offsets (none for the other dtypes), each finite."""
    (nquant,) = reader.unpack(struct.Struct(">H"))
    expected = (shape[-1] if len(shape) > 1 else 1) if dtype == "uint8q" else 0
    if nquant != expected:
        raise PayloadFormatError(f"payload has {nquant} quantisation channels; its dtype and shape need {expected}")
    quant = reader.unpack(struct.Struct(f">{2 * nquant}f"))
    if not all(map(math.isfinite, quant)):
        raise PayloadFormatError("payload's quantisation scales or offsets are not finite; the payload is damaged")
    return tuple(quant[0::2]), tuple(quant[1::2])


def _read_nonce(reader: _Reader, scheme: str) -> bytes:
    """The nonce (or IV), of the size the scheme uses."""
    (nonce_len,) = reader.unpack(struct.Struct(">B"))
    expected = nonce_bytes(scheme)
    if nonce_len != expected:
        raise PayloadFormatError(f"payload's nonce is {nonce_len} bytes; scheme {scheme!r} uses {expected}")
    return reader.take(nonce_len)


def _read_metadata(reader: _Reader) -> dict:
    """Version 2's metadata block: a JSON object of bounded size."""
    (meta_len,) = reader.unpack(struct.Struct(">H"))
    if meta_len > MAX_METADATA_BYTES:
        raise PayloadFormatError(f"payload's metadata block is {meta_len} bytes; {MAX_METADATA_BYTES} at most are valid")
    return _unpack_metadata(reader.take(meta_len))


def _read_private_length(reader: _Reader, scheme: str) -> int:
    """Version 3's private block length: bounded, and only under an authenticated scheme."""
    (private_len,) = reader.unpack(struct.Struct(">I"))
    if private_len > MAX_PRIVATE_BYTES or scheme not in AUTHENTICATED_SCHEMES:
        raise PayloadFormatError(f"payload claims a private block of {private_len} bytes under scheme {scheme!r}; "
                                 f"only gcm payloads carry one, of {MAX_PRIVATE_BYTES} bytes at most")
    return private_len


def _read_lengths(reader: _Reader, scheme: str, dtype: str, shape: tuple[int, ...], private_len: int = 0) -> tuple[int, int]:
    """The body's and the tag's lengths, checked against what the scheme, dtype, shape and private block need."""
    body_len, tag_len = reader.unpack(struct.Struct(">QB"))
    expected_tag = tag_bytes(scheme)
    if tag_len != expected_tag:
        raise PayloadFormatError(f"payload's tag is {tag_len} bytes; scheme {scheme!r} uses {expected_tag}")
    plain_len = _product(shape) * np.dtype(NUMPY_DTYPES[dtype]).itemsize + private_len
    if body_len != body_length(scheme, plain_len):
        raise PayloadFormatError(
            f"payload's body is {body_len} bytes, but shape {shape} of {dtype} and its private block need "
            f"{body_length(scheme, plain_len)}"
        )
    if scheme in PAPER_SCHEMES and len(shape) > 1 and shape[0] == 0:
        raise PayloadFormatError("payload has no rows")
    return body_len, tag_len


def _check_length(total: int, header_bytes: int, rest: int) -> None:
    """Refuse a payload that is shorter or longer than its header says."""
    if total - header_bytes != rest:
        what = "truncated" if total - header_bytes < rest else "longer than its header says"
        raise PayloadFormatError(
            f"payload is {what}: {total} bytes where {header_bytes + rest} are expected; copy the whole file again"
        )


def _unpack_metadata(text: bytes) -> dict:
    """The metadata object a header's JSON block holds ({} for none); ``PayloadFormatError`` if it is not one."""
    if not text:
        return {}
    try:
        value = json.loads(text.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError):
        raise PayloadFormatError("payload's metadata block is not valid JSON; the payload is damaged") from None
    if not isinstance(value, dict):
        raise PayloadFormatError(f"payload's metadata block is a JSON {type(value).__name__}, not an object; the payload is damaged")
    return value


def _refuse_constant(name: str) -> None:
    """Refuse NaN and Infinity in a metadata block (``json`` would accept them)."""
    raise ValueError(f"{name} is not valid JSON")


def _lookup(codes: dict[str, int], code: int, what: str) -> str:
    """Name for a header code, or ``PayloadFormatError`` for an unknown one."""
    for name, value in codes.items():
        if value == code:
            return name
    raise PayloadFormatError(f"payload names an unknown {what} (code {code}); it was made by a newer aecrypt or is damaged")


def _product(shape: tuple[int, ...]) -> int:
    """Number of elements in ``shape``, as an exact Python integer."""
    total = 1
    for size in shape:
        total *= int(size)
    return total


class _Reader:
    """Reads a payload front to back, turning a short read into ``PayloadFormatError``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes, or ``PayloadFormatError`` if the payload ends first."""
        end = self.position + count
        if end > len(self.data):
            raise PayloadFormatError(
                f"payload is truncated: its header ends after {len(self.data)} bytes; copy the whole file again"
            )
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def unpack(self, layout: struct.Struct) -> tuple:
        """The next fields laid out as ``layout``."""
        return layout.unpack(self.take(layout.size))
