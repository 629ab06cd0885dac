"""Encrypting feature maps, raw images and files into payloads (``header``'s format), and back.

``decrypt_features`` refuses a payload of an unauthenticated scheme unless
``allow_unauthenticated=True``, so an attacker cannot downgrade a payload to a scheme
that cannot tell a wrong key from a right one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aecrypt.errors import ParameterError, PayloadFormatError, UnauthenticatedPayloadError, WrongKeyOrTamperedError
from aecrypt.files import FileTooLargeError, NotRegularFileError, open_regular
from aecrypt.method.header import (
    BAD_MAGIC,
    FILE_DTYPE,
    MAGIC,
    MAX_BODY_BYTES,
    MAX_NDIM,
    MAX_PAYLOAD_BYTES,
    MAX_PRIVATE_BYTES,
    NUMPY_DTYPES,
    pack_header,
    pack_metadata,
    read_header,
)
from aecrypt.method.keys import check_key
from aecrypt.method.quantise import FLOAT32_MAX, dequantize_uint8, quantize_uint8
from aecrypt.method.schemes import body_length, check_scheme, decrypt_bytes, encrypt_bytes, new_nonce, tag_bytes

#: The precisions ``encrypt_features`` stores features in.
FEATURE_DTYPES = ("float32", "float16", "uint8")
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_NO_QUANTISATION = np.zeros(0, np.float32)


def encrypt_features(
    features: np.ndarray,
    key: bytes,
    scheme: str = "gcm",
    dtype: str = "float32",
    rng: np.random.Generator | None = None,
    metadata: dict | None = None,
    private: bytes = b"",
) -> bytes:
    """Encrypt a feature map (any float array) into a payload; ``dtype`` sets its size and precision.

    ``dtype``: ``float32`` (bit-exact), ``float16`` (half the bytes; values must fit
    float16's range) or ``uint8`` (a quarter, per-channel affine quantisation).
    ``rng`` draws the nonce from a seeded generator, for reproducible study tables only.
    ``metadata`` (a JSON object: the image's size, mode, fidelity) goes into the
    authenticated header, readable without the key. ``private`` (bytes: a scan's own header)
    is encrypted after the features, so only the key holder reads it (``decrypt_payload``).
    """
    if dtype not in FEATURE_DTYPES:
        raise ParameterError(f"dtype must be one of {FEATURE_DTYPES}, not {dtype!r}")
    x = np.asarray(features)
    if not np.issubdtype(x.dtype, np.floating):
        raise ParameterError(f"features must be floating point, not {x.dtype}; use encrypt_image() for uint8 images")
    _check_array(x)
    if not np.all(np.isfinite(x)):
        raise ParameterError("features contain NaN or infinity; the encoder's output is broken")
    if np.abs(x).max() > FLOAT32_MAX:
        raise ParameterError(f"features exceed float32's range (±{FLOAT32_MAX:g}); they cannot be stored without becoming infinite")
    scales = offsets = _NO_QUANTISATION
    if dtype == "float32":
        data, code = x.astype(np.float32), "float32"
    elif dtype == "float16":
        if np.abs(x).max(initial=0.0) > _FLOAT16_MAX:
            raise ParameterError(f"features exceed float16's range (±{_FLOAT16_MAX:g}); use dtype='float32'")
        data, code = x.astype(np.float16), "float16"
    else:
        data, scales, offsets = quantize_uint8(x)
        code = "uint8q"
    return _seal(data, key, scheme, code, scales, offsets, rng, metadata, private)


def encrypt_image(
    image: np.ndarray, key: bytes, scheme: str = "gcm", rng: np.random.Generator | None = None, metadata: dict | None = None,
) -> bytes:
    """Encrypt a raw uint8 image in the same payload format (the paper's 'AES without autoencoder')."""
    x = np.asarray(image)
    if x.dtype != np.uint8:
        raise ParameterError(f"encrypt_image takes a uint8 image, not {x.dtype}; use encrypt_features() for floats")
    _check_array(x)
    return _seal(x, key, scheme, "uint8", _NO_QUANTISATION, _NO_QUANTISATION, rng, metadata)


def encrypt_file(data: bytes, key: bytes, metadata: dict | None = None) -> bytes:
    """Encrypt a file's bytes themselves with AES-256-GCM (lossless: ``decrypt_file`` gives them back bit for bit)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"encrypt_file takes the file's bytes, not {type(data).__name__}")
    if not data:
        raise ParameterError("the file is empty; there is nothing to encrypt")
    if len(data) > MAX_BODY_BYTES:
        raise ParameterError(f"{len(data)} bytes is more than a payload holds ({MAX_BODY_BYTES} bytes at most)")
    array = np.frombuffer(bytes(data), np.uint8)
    return _seal(array, key, "gcm", FILE_DTYPE, _NO_QUANTISATION, _NO_QUANTISATION, None, metadata)


def decrypt_file(payload: bytes, key: bytes) -> bytes:
    """The file bytes an ``encrypt_file`` payload holds; ``PayloadFormatError`` for a payload of features."""
    header = read_header(payload)
    if header.dtype != FILE_DTYPE:
        raise PayloadFormatError(
            f"this payload holds {header.dtype} features of shape {header.shape}, not a sealed file; "
            "use 'aecrypt decrypt' with the decoder"
        )
    return decrypt_features(payload, key).tobytes()


def decrypt_features(payload: bytes, key: bytes, allow_unauthenticated: bool = False) -> np.ndarray:
    """Decrypt a payload back to its array (float32 for features, uint8 for a raw image or a file's bytes).

    A wrong key or any altered byte of a ``gcm`` payload raises
    ``WrongKeyOrTamperedError``; bytes that are not a well-formed payload raise
    ``PayloadFormatError``. Unauthenticated schemes are refused unless
    ``allow_unauthenticated`` is set: they cannot tell a wrong key from a right one.
    """
    return decrypt_payload(payload, key, allow_unauthenticated)[0]


def decrypt_payload(payload: bytes, key: bytes, allow_unauthenticated: bool = False) -> tuple[np.ndarray, bytes]:
    """The array a payload holds (as ``decrypt_features`` gives it) and its private block (b"" if none)."""
    check_key(key)
    header = read_header(payload)
    if not header.authenticated and not allow_unauthenticated:
        raise UnauthenticatedPayloadError(
            f"this payload uses the unauthenticated scheme {header.scheme!r}, which cannot detect a wrong key "
            "or tampering; pass allow_unauthenticated=True only for payloads you made for the study"
        )
    start = header.header_bytes
    body = bytes(payload[start : start + header.body_bytes])
    plain = decrypt_bytes(body, key, header.scheme, header.shape, header.nonce, header.tag, bytes(payload[:start]))
    plain, private = plain[: header.plaintext_bytes], plain[header.plaintext_bytes :]
    if len(plain) != header.plaintext_bytes or len(private) != header.private_bytes:  # ecb/cbc: a wrong key can leave a valid-looking padding
        raise WrongKeyOrTamperedError(
            f"decryption failed: this {header.scheme} payload decrypts to {len(plain)} bytes where its header "
            f"says {header.plaintext_bytes}, so the key is wrong or the payload was altered"
        )
    data = np.frombuffer(plain, dtype=NUMPY_DTYPES[header.dtype]).reshape(header.shape)
    if header.dtype == "uint8q":
        return dequantize_uint8(data, np.array(header.scales), np.array(header.offsets)), private
    if header.dtype in ("uint8", FILE_DTYPE):
        return data.copy(), private
    return data.astype(np.float32), private


def ciphertext_bytes(payload: bytes) -> bytes:
    """The encrypted body of a payload, without header or tag (what Figure 6c draws)."""
    header = read_header(payload)
    return bytes(payload[header.header_bytes : header.header_bytes + header.body_bytes])


def read_payload(path: str | Path) -> bytes:
    """A payload file's bytes, read with a size bound (``MAX_PAYLOAD_BYTES``); ``PayloadFormatError`` otherwise.

    Anything but a regular file (a FIFO, a device, a folder) is refused before it is read.
    """
    path = Path(path)
    try:
        with open_regular(path, MAX_PAYLOAD_BYTES) as handle:
            head = handle.read(len(MAGIC))
            if len(head) == len(MAGIC) and head != MAGIC:
                raise PayloadFormatError(f"{path}: {BAD_MAGIC}")  # before reading on: a large file of another kind ends here
            data = head + handle.read(MAX_PAYLOAD_BYTES + 1 - len(head))
    except FileNotFoundError:
        raise PayloadFormatError(f"{path}: no such payload file") from None
    except FileTooLargeError as exc:
        raise PayloadFormatError(f"{path}: larger than any payload ({exc.strerror})") from None
    except NotRegularFileError as exc:
        raise PayloadFormatError(f"{path}: not an aecrypt payload file ({exc.strerror})") from None
    except OSError as exc:
        raise PayloadFormatError(f"{path}: cannot read this payload file ({exc.strerror})") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadFormatError(f"{path}: larger than any payload ({MAX_PAYLOAD_BYTES} bytes at most)")
    return data


def looks_like_payload(path: str | Path) -> bool:
    """Whether a regular file starts with the payload magic bytes (so ``encrypt --force`` may replace it)."""
    try:
        with open_regular(path) as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _check_array(x: np.ndarray) -> None:
    """Refuse an array with no elements (there is nothing to encrypt, and no shape to restore)."""
    if x.size == 0:
        raise ParameterError(f"cannot encrypt an empty array (shape {x.shape}); it has no elements")


def _seal(
    data: np.ndarray, key: bytes, scheme: str, dtype_code: str, scales: np.ndarray, offsets: np.ndarray,
    rng: np.random.Generator | None = None, metadata: dict | None = None, private: bytes = b"",
) -> bytes:
    """Build the header, encrypt ``data``'s bytes (then ``private``'s) under ``scheme`` and assemble the payload."""
    check_key(key)
    check_scheme(scheme)
    if data.ndim == 0 or data.ndim > MAX_NDIM:
        raise ParameterError(f"arrays of 1 to {MAX_NDIM} dimensions can be encrypted, not {data.ndim}")
    if private and (scheme != "gcm" or len(private) > MAX_PRIVATE_BYTES):
        raise ParameterError(f"a private block ({len(private)} bytes) travels only in a gcm payload, "
                             f"of {MAX_PRIVATE_BYTES} bytes at most")
    plain = np.ascontiguousarray(data).tobytes() + bytes(private)
    nonce = new_nonce(scheme, rng)
    header = pack_header(scheme, dtype_code, data.shape, scales, offsets, nonce, pack_metadata(metadata),
                         body_length(scheme, len(plain)), tag_bytes(scheme), len(private))
    body, tag = encrypt_bytes(plain, key, scheme, data.shape, nonce, header)
    return header + body + tag
