"""AES-256 encryption of feature maps (and raw images) in a versioned, self-describing payload.

Payload layout (all integers big-endian)::

    magic     4 bytes  b"AECR"
    version   u8       2 with a metadata block; 1 without (so payloads without metadata keep their size)
    scheme    u8       gcm | paper | ecb | cbc | ctr | paper-blocks (paper, paper-blocks: our two readings of the paper's row keys)
    dtype     u8       float32 | float16 | uint8q (quantised features) | uint8 (raw image) | file (a file's bytes)
    ndim      u8       then ndim x u32: the array's shape
    nquant    u16      then nquant x (scale f32, offset f32): uint8q's per-channel affine
    noncelen  u8       then the nonce / IV bytes
    metalen   u16      then metalen bytes of UTF-8 JSON: an object (the image's size, mode, fidelity); version 2 only
    bodylen   u64      then the ciphertext
    taglen    u8       then the tag (16 bytes for gcm, none otherwise)

With ``gcm`` (the default) everything before the ciphertext is authenticated as
associated data, so any altered byte, or a wrong key, raises ``WrongKeyOrTamperedError``.
The other schemes have no integrity check; they exist for the timing and security
study, and ``decrypt_features`` refuses them unless ``allow_unauthenticated=True``, so
an attacker cannot downgrade a payload to an unauthenticated scheme.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shlex
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF, scrypt
from Crypto.Random import get_random_bytes
from Crypto.Util.Padding import pad, unpad

from aecrypt.errors import KeyFileError, ParameterError, PayloadFormatError, UnauthenticatedPayloadError, WrongKeyOrTamperedError

MAGIC = b"AECR"
#: The newest payload format: version 2 adds the metadata block. A payload without metadata is written as version 1.
PAYLOAD_VERSION = 2
#: The format version without the metadata block.
PLAIN_VERSION = 1
#: Versions ``read_header`` accepts.
READABLE_VERSIONS = (PLAIN_VERSION, PAYLOAD_VERSION)
#: The largest metadata block (JSON) a header may carry.
MAX_METADATA_BYTES = 4096
KEY_BYTES = 32  # AES-256
GCM_NONCE_BYTES = 12  # 96-bit nonce, the size GCM is designed for
GCM_TAG_BYTES = 16
CTR_NONCE_BYTES = 8  # pycryptodome's CTR: 8-byte nonce + 8-byte counter
CBC_IV_BYTES = 16
#: Section 4: "encrypted using 256 keys derived from the original shared key".
PAPER_SUBKEYS = 256
PAPER_HKDF_CONTEXT = b"aecrypt/paper-scheme/row-keys/v1"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_BYTES = 16
MAX_NDIM = 8
#: A key file is 64 hex characters and a newline; a longer one is not a key file (and is not read whole).
MAX_KEY_FILE_BYTES = 256
#: How a key file is written; the one reading that cannot be mistaken for another.
KEY_FORMAT = f"an AES-256 key is {KEY_BYTES} bytes, written as {2 * KEY_BYTES} hex characters (make one with 'aecrypt keygen')"
#: Permission bits that let the group or others use a file: a key file with any of them is refused, as ssh does.
SHARED_MODE_BITS = stat.S_IRWXG | stat.S_IRWXO
_HEX_KEY = re.compile(rb"[0-9a-fA-F]{%d}" % (2 * KEY_BYTES))
_HEX_DIGITS = re.compile(rb"[0-9a-fA-F]+")
_TEXT_BYTES = frozenset(range(32, 127)) | frozenset(b"\t\n\r")

#: "paper" and "paper-blocks" are our two readings of the paper's row-key scheme (it names
#: neither the mode nor the key derivation): rows along the first axis, or 16-byte blocks of
#: the flattened array, each under one of 256 HKDF-derived keys in turn, AES-ECB.
SCHEMES = ("gcm", "paper", "ecb", "cbc", "ctr", "paper-blocks")
#: The schemes that encrypt under the paper's 256 derived keys.
PAPER_SCHEMES = ("paper", "paper-blocks")
AUTHENTICATED_SCHEMES = frozenset({"gcm"})
FEATURE_DTYPES = ("float32", "float16", "uint8")
#: The dtype of a payload that holds a file's bytes (``encrypt_file``), not an array.
FILE_DTYPE = "file"
_DTYPE_CODES = {"float32": 1, "float16": 2, "uint8q": 3, "uint8": 4, FILE_DTYPE: 5}
_NUMPY_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8q": np.uint8, "uint8": np.uint8, FILE_DTYPE: np.uint8}
_SCHEME_CODES = {name: index + 1 for index, name in enumerate(SCHEMES)}
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


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

    @property
    def authenticated(self) -> bool:
        """Whether the scheme detects a wrong key or altered bytes."""
        return self.scheme in AUTHENTICATED_SCHEMES

    @property
    def plaintext_bytes(self) -> int:
        """Size of the array that was encrypted."""
        return int(np.prod(self.shape, dtype=object)) * np.dtype(_NUMPY_DTYPES[self.dtype]).itemsize

    @property
    def total_bytes(self) -> int:
        """Size of the whole payload."""
        return self.header_bytes + self.body_bytes + len(self.tag)


# ----------------------------------------------------------------------------- keys


def generate_key(rng: np.random.Generator | None = None) -> bytes:
    """A fresh random AES-256 key from the operating system's CSPRNG.

    ``rng`` is for the study only: a key drawn from a seeded generator makes a notebook's
    tables repeat byte for byte. Never use it for a key that protects real data.
    """
    return get_random_bytes(KEY_BYTES) if rng is None else _study_bytes(rng, KEY_BYTES)


def _study_bytes(rng: np.random.Generator, count: int) -> bytes:
    """``count`` bytes from a seeded generator (study keys and nonces, never real ones)."""
    return rng.integers(0, 256, count, dtype=np.uint8).tobytes()


def save_key(key: bytes, path: str | Path) -> Path:
    """Write a key as hex to a new file readable only by its owner (mode 0600); never overwrite."""
    _check_key(key)
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: a key file already exists there; choose another name or delete it yourself") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the key file ({exc.strerror})") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return path


def load_key(path: str | Path) -> bytes:
    """Read a key file: 64 hex characters (as ``save_key`` writes) or 32 raw bytes, private to its owner.

    A file another user owns, or that the group or others may read or write, is refused
    (as ssh does; run ``chmod 600``), and so is one that could be read two ways, such as
    32 hex characters (a 16-byte key in hex).
    """
    path = Path(path)
    return _parse_key(_read_key_file(path), path)


def _read_key_file(path: Path) -> bytes:
    """A key file's bytes, read with a size bound, once its permissions are checked."""
    try:
        with open(path, "rb") as handle:
            _check_private(path, os.fstat(handle.fileno()))
            raw = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file; make one with 'aecrypt keygen {path}'") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the key file ({exc.strerror})") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: not a key file (longer than {MAX_KEY_FILE_BYTES} bytes); {KEY_FORMAT}")
    return raw


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a regular key file that another user owns, or that the group or others may read or write."""
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISREG(info.st_mode) and info.st_uid != os.geteuid():
        raise KeyFileError(
            f"{path}: the key file belongs to another user (uid {info.st_uid}, you are uid {os.geteuid()}); "
            "use a key file of your own (copy it, then 'chmod 600' the copy)"
        )
    if stat.S_ISREG(info.st_mode) and mode & SHARED_MODE_BITS:
        raise KeyFileError(
            f"{path}: the key file is open to other users (mode {mode:04o}); "
            f"run 'chmod 600 {shlex.quote(str(path))}' and try again"
        )


def _parse_key(raw: bytes, path: Path) -> bytes:
    """The key a key file's bytes hold; anything that could be read two ways is refused."""
    is_text = set(raw) <= _TEXT_BYTES
    if not is_text and len(raw) == KEY_BYTES:
        return raw  # 32 raw bytes, not text: cannot be taken for hex
    text = raw.strip()
    if is_text and _HEX_KEY.fullmatch(text):
        return bytes.fromhex(text.decode("ascii"))
    if not is_text:
        what = f"{len(raw)} bytes of binary data"
    elif not text:
        what = "it is empty"
    elif _HEX_DIGITS.fullmatch(text):
        what = f"{len(text)} hex characters, a {len(text) * 4}-bit key" if len(text) % 2 == 0 else f"{len(text)} hex characters"
    else:
        what = "text that is not a hex key"
    raise KeyFileError(f"{path}: not an AES-256 key file ({what}); {KEY_FORMAT}")


def derive_key(passphrase: str | bytes, salt: bytes) -> bytes:
    """Derive an AES-256 key from a passphrase with scrypt (N=2^15, r=8, p=1)."""
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    if len(salt) < SALT_BYTES:
        raise KeyFileError(f"the salt must be at least {SALT_BYTES} random bytes; got {len(salt)}")
    return scrypt(passphrase, salt, KEY_BYTES, N=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)


def paper_subkeys(key: bytes) -> tuple[bytes, ...]:
    """The paper scheme's 256 row keys, derived from the shared key with HKDF-SHA256.

    One HKDF expansion per sub-key (its index in the context): a single expansion
    cannot give 256 x 32 bytes (RFC 5869 caps it at 255 hash lengths). Cached per key,
    as a sender derives them once per shared key, not once per image.
    """
    _check_key(key)
    return _paper_subkeys(bytes(key))


@functools.lru_cache(maxsize=4)
def _paper_subkeys(key: bytes) -> tuple[bytes, ...]:
    """Uncached derivation behind ``paper_subkeys``."""
    return tuple(
        HKDF(key, KEY_BYTES, salt=b"", hashmod=SHA256, context=PAPER_HKDF_CONTEXT + index.to_bytes(2, "big"))
        for index in range(PAPER_SUBKEYS)
    )


def _check_key(key: bytes) -> None:
    """Refuse anything that is not a 32-byte AES-256 key, without echoing it."""
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        length = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise KeyFileError(f"an AES-256 key is {KEY_BYTES} bytes; got {length}. Use generate_key() or load_key(path)")


# ------------------------------------------------------------------- quantisation


def quantize_uint8(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel (last axis) affine quantisation to uint8; returns codes, scales, offsets."""
    x = np.asarray(features, dtype=np.float32)
    flat = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1)
    lo = flat.min(axis=0)
    hi = flat.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0).astype(np.float32)
        top = scale * np.float32(255.0) + lo
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(top))):
        raise ParameterError(
            f"a channel's values span more than float32's range (±{_FLOAT32_MAX:g}), so uint8 quantisation "
            "would decrypt to infinity; use dtype='float32'"
        )
    codes = np.clip(np.rint((flat - lo) / scale), 0, 255).astype(np.uint8)
    return codes.reshape(x.shape), scale, lo.astype(np.float32)


def dequantize_uint8(codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Invert ``quantize_uint8`` (to within half a quantisation step per channel)."""
    shape = codes.shape
    flat = codes.reshape(-1, len(scales)).astype(np.float32)
    return (flat * np.asarray(scales, np.float32) + np.asarray(offsets, np.float32)).reshape(shape)


# -------------------------------------------------------------------- encryption


def encrypt_features(
    features: np.ndarray,
    key: bytes,
    scheme: str = "gcm",
    dtype: str = "float32",
    rng: np.random.Generator | None = None,
    metadata: dict | None = None,
) -> bytes:
    """Encrypt a feature map (any float array) into a payload; ``dtype`` sets its size and precision.

    ``dtype``: ``float32`` (bit-exact), ``float16`` (half the bytes; values must fit
    float16's range) or ``uint8`` (a quarter, per-channel affine quantisation).
    ``rng`` draws the nonce from a seeded generator, for reproducible study tables only.
    ``metadata`` (a JSON object: the image's size, mode, fidelity) goes into the
    authenticated header, readable without the key.
    """
    if dtype not in FEATURE_DTYPES:
        raise ParameterError(f"dtype must be one of {FEATURE_DTYPES}, not {dtype!r}")
    x = np.asarray(features)
    if not np.issubdtype(x.dtype, np.floating):
        raise ParameterError(f"features must be floating point, not {x.dtype}; use encrypt_image() for uint8 images")
    _check_array(x)
    if not np.all(np.isfinite(x)):
        raise ParameterError("features contain NaN or infinity; the encoder's output is broken")
    if np.abs(x).max() > _FLOAT32_MAX:
        raise ParameterError(f"features exceed float32's range (±{_FLOAT32_MAX:g}); they cannot be stored without becoming infinite")
    scales = offsets = np.zeros(0, np.float32)
    if dtype == "float32":
        data, code = x.astype(np.float32), "float32"
    elif dtype == "float16":
        if np.abs(x).max(initial=0.0) > _FLOAT16_MAX:
            raise ParameterError(f"features exceed float16's range (±{_FLOAT16_MAX:g}); use dtype='float32'")
        data, code = x.astype(np.float16), "float16"
    else:
        data, scales, offsets = quantize_uint8(x)
        code = "uint8q"
    return _seal(data, key, scheme, code, scales, offsets, rng, metadata)


def encrypt_image(
    image: np.ndarray, key: bytes, scheme: str = "gcm", rng: np.random.Generator | None = None, metadata: dict | None = None,
) -> bytes:
    """Encrypt a raw uint8 image in the same payload format (the paper's 'AES without autoencoder')."""
    x = np.asarray(image)
    if x.dtype != np.uint8:
        raise ParameterError(f"encrypt_image takes a uint8 image, not {x.dtype}; use encrypt_features() for floats")
    _check_array(x)
    return _seal(x, key, scheme, "uint8", np.zeros(0, np.float32), np.zeros(0, np.float32), rng, metadata)


def encrypt_file(data: bytes, key: bytes, metadata: dict | None = None) -> bytes:
    """Encrypt a file's bytes themselves with AES-256-GCM (lossless: ``decrypt_file`` gives them back bit for bit)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"encrypt_file takes the file's bytes, not {type(data).__name__}")
    if not data:
        raise ParameterError("the file is empty; there is nothing to encrypt")
    if len(data) > MAX_BODY_BYTES:
        raise ParameterError(f"{len(data)} bytes is more than a payload holds ({MAX_BODY_BYTES} bytes at most)")
    array = np.frombuffer(bytes(data), np.uint8)
    return _seal(array, key, "gcm", FILE_DTYPE, np.zeros(0, np.float32), np.zeros(0, np.float32), None, metadata)


def decrypt_file(payload: bytes, key: bytes) -> bytes:
    """The file bytes an ``encrypt_file`` payload holds; ``PayloadFormatError`` for a payload of features."""
    header = read_header(payload)
    if header.dtype != FILE_DTYPE:
        raise PayloadFormatError(
            f"this payload holds {header.dtype} features of shape {header.shape}, not a sealed file; "
            "use 'aecrypt decrypt' with the decoder"
        )
    return decrypt_features(payload, key).tobytes()


def _check_array(x: np.ndarray) -> None:
    """Refuse an array with no elements (there is nothing to encrypt, and no shape to restore)."""
    if x.size == 0:
        raise ParameterError(f"cannot encrypt an empty array (shape {x.shape}); it has no elements")


def decrypt_features(payload: bytes, key: bytes, allow_unauthenticated: bool = False) -> np.ndarray:
    """Decrypt a payload back to its array (float32 for features, uint8 for a raw image or a file's bytes).

    A wrong key or any altered byte of a ``gcm`` payload raises
    ``WrongKeyOrTamperedError``; bytes that are not a well-formed payload raise
    ``PayloadFormatError``. Unauthenticated schemes are refused unless
    ``allow_unauthenticated`` is set: they cannot tell a wrong key from a right one.
    """
    _check_key(key)
    header = read_header(payload)
    if not header.authenticated and not allow_unauthenticated:
        raise UnauthenticatedPayloadError(
            f"this payload uses the unauthenticated scheme {header.scheme!r}, which cannot detect a wrong key "
            "or tampering; pass allow_unauthenticated=True only for payloads you made for the study"
        )
    start = header.header_bytes
    body = bytes(payload[start : start + header.body_bytes])
    associated = bytes(payload[:start])
    plain = _open(header, body, key, associated)
    if len(plain) != header.plaintext_bytes:  # ecb/cbc: a wrong key can leave a valid-looking padding
        raise WrongKeyOrTamperedError(
            f"decryption failed: this {header.scheme} payload decrypts to {len(plain)} bytes where its header "
            f"says {header.plaintext_bytes}, so the key is wrong or the payload was altered"
        )
    data = np.frombuffer(plain, dtype=_NUMPY_DTYPES[header.dtype]).reshape(header.shape)
    if header.dtype == "uint8q":
        return dequantize_uint8(data, np.array(header.scales), np.array(header.offsets))
    if header.dtype in ("uint8", FILE_DTYPE):
        return data.copy()
    return data.astype(np.float32)


def ciphertext_bytes(payload: bytes) -> bytes:
    """The encrypted body of a payload, without header or tag (what Figure 6c draws)."""
    header = read_header(payload)
    return bytes(payload[header.header_bytes : header.header_bytes + header.body_bytes])


def _seal(
    data: np.ndarray, key: bytes, scheme: str, dtype_code: str, scales: np.ndarray, offsets: np.ndarray,
    rng: np.random.Generator | None = None, metadata: dict | None = None,
) -> bytes:
    """Build the header, encrypt ``data``'s bytes under ``scheme`` and assemble the payload."""
    _check_key(key)
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    if data.ndim == 0 or data.ndim > MAX_NDIM:
        raise ParameterError(f"arrays of 1 to {MAX_NDIM} dimensions can be encrypted, not {data.ndim}")
    plain = np.ascontiguousarray(data).tobytes()
    nonce = {"gcm": GCM_NONCE_BYTES, "ctr": CTR_NONCE_BYTES, "cbc": CBC_IV_BYTES}.get(scheme, 0)
    nonce_bytes = b"" if not nonce else get_random_bytes(nonce) if rng is None else _study_bytes(rng, nonce)
    body_len = _body_length(scheme, len(plain))
    tag_len = GCM_TAG_BYTES if scheme == "gcm" else 0
    header = _pack_header(scheme, dtype_code, data.shape, scales, offsets, nonce_bytes, _pack_metadata(metadata), body_len, tag_len)
    if scheme == "gcm":
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce_bytes, mac_len=GCM_TAG_BYTES)
        cipher.update(header)
        body, tag = cipher.encrypt_and_digest(plain)
        return header + body + tag
    if scheme == "ctr":
        body = AES.new(key, AES.MODE_CTR, nonce=nonce_bytes).encrypt(plain)
    elif scheme == "cbc":
        body = AES.new(key, AES.MODE_CBC, iv=nonce_bytes).encrypt(pad(plain, AES.block_size))
    elif scheme == "ecb":
        body = AES.new(key, AES.MODE_ECB).encrypt(pad(plain, AES.block_size))
    elif scheme == "paper-blocks":
        body = _paper_blocks(plain, key, encrypt=True)
    else:
        body = _paper_rows(plain, data.shape, key, encrypt=True)
    return header + body


def _open(header: PayloadHeader, body: bytes, key: bytes, associated: bytes) -> bytes:
    """Decrypt a payload body; raise ``WrongKeyOrTamperedError`` where the scheme can tell."""
    scheme = header.scheme
    if scheme == "gcm":
        cipher = AES.new(key, AES.MODE_GCM, nonce=header.nonce, mac_len=GCM_TAG_BYTES)
        cipher.update(associated)
        try:
            return cipher.decrypt_and_verify(body, header.tag)
        except ValueError:
            raise WrongKeyOrTamperedError(
                "decryption failed: the key is wrong or the payload was altered in transit. "
                "Check that you use the sender's key file; if it is right, ask for the payload again"
            ) from None
    if scheme == "ctr":
        return AES.new(key, AES.MODE_CTR, nonce=header.nonce).decrypt(body)
    if scheme in ("cbc", "ecb"):
        cipher = AES.new(key, AES.MODE_CBC, iv=header.nonce) if scheme == "cbc" else AES.new(key, AES.MODE_ECB)
        try:
            return unpad(cipher.decrypt(body), AES.block_size)
        except ValueError:
            raise WrongKeyOrTamperedError(
                f"decryption failed: the padding of this {scheme} payload is invalid, so the key is wrong "
                "or the payload was altered"
            ) from None
    if scheme == "paper-blocks":
        return _paper_blocks(body, key, encrypt=False)
    return _paper_rows(body, header.shape, key, encrypt=False)


def _paper_blocks(data: bytes, key: bytes, encrypt: bool) -> bytes:
    """Our second reading of the paper's scheme: the flattened array's 16-byte blocks are its
    "rows", block i under sub-key i mod 256, AES-ECB, so every key is used and the cycle
    repeats "until all features were encrypted"; length-preserving like ``_paper_rows``
    (a last partial block is XORed with the next sub-key's encryption of an all-0xFF block).
    """
    subkeys = paper_subkeys(key)
    full = len(data) - len(data) % AES.block_size
    blocks = np.frombuffer(data[:full], np.uint8).reshape(-1, AES.block_size)
    out = np.empty_like(blocks)
    for index in range(min(PAPER_SUBKEYS, len(blocks))):  # one ECB call per key over its blocks
        cipher = AES.new(subkeys[index], AES.MODE_ECB)
        chunk = blocks[index::PAPER_SUBKEYS].tobytes()
        done = cipher.encrypt(chunk) if encrypt else cipher.decrypt(chunk)
        out[index::PAPER_SUBKEYS] = np.frombuffer(done, np.uint8).reshape(-1, AES.block_size)
    tail = data[full:]
    if tail:
        stream = AES.new(subkeys[len(blocks) % PAPER_SUBKEYS], AES.MODE_ECB).encrypt(b"\xff" * AES.block_size)
        tail = bytes(a ^ b for a, b in zip(tail, stream))
    return out.tobytes() + tail


def _paper_rows(data: bytes, shape: tuple[int, ...], key: bytes, encrypt: bool) -> bytes:
    """Our first reading of the paper's scheme: row r (first axis) under sub-key r mod 256,
    AES-ECB, length-preserving (a 112-row feature map uses 112 of the 256 keys).

    Whole 16-byte blocks of a row are AES-ECB encrypted; a row's last partial block (rows
    of 112x3 float32 have none) is XORed with the encryption of an all-0xFF block, so the
    ciphertext has exactly the plaintext's shape. No nonce, no integrity: identical rows
    give identical ciphertext, which the security notebook shows.
    """
    subkeys = paper_subkeys(key)
    rows = shape[0] if len(shape) > 1 else 1
    row_bytes = len(data) // rows
    out = bytearray(len(data))
    full = row_bytes - row_bytes % AES.block_size
    for r in range(rows):
        cipher = AES.new(subkeys[r % PAPER_SUBKEYS], AES.MODE_ECB)
        start = r * row_bytes
        chunk = data[start : start + full]
        out[start : start + full] = cipher.encrypt(chunk) if encrypt else cipher.decrypt(chunk)
        tail = data[start + full : start + row_bytes]
        if tail:
            stream = cipher.encrypt(b"\xff" * AES.block_size)
            out[start + full : start + row_bytes] = bytes(a ^ b for a, b in zip(tail, stream))
    return bytes(out)


def _body_length(scheme: str, plain_len: int) -> int:
    """Ciphertext length for a plaintext length: padded to whole blocks for ecb and cbc."""
    if scheme in ("ecb", "cbc"):
        return (plain_len // AES.block_size + 1) * AES.block_size
    return plain_len


# ----------------------------------------------------------------------- header

_FIXED = struct.Struct(">4sBBBB")
#: The largest header the format can describe: fixed part, shape, quantisation pairs, nonce, lengths.
MAX_HEADER_BYTES = _FIXED.size + 4 * MAX_NDIM + 2 + 8 * 0xFFFF + 1 + 0xFF + 2 + MAX_METADATA_BYTES + 9
#: The largest ciphertext ``read_payload`` accepts (features of one image are well under 1 MiB).
MAX_BODY_BYTES = 1 << 30
#: The largest payload file ``read_payload`` reads: header, 1 GiB of ciphertext and the tag.
MAX_PAYLOAD_BYTES = MAX_HEADER_BYTES + MAX_BODY_BYTES + 0xFF
_BAD_MAGIC = "not an aecrypt payload (bad magic bytes); was this file made by aecrypt encrypt?"


def read_payload(path: str | Path) -> bytes:
    """A payload file's bytes, read with a size bound (``MAX_PAYLOAD_BYTES``); ``PayloadFormatError`` otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > MAX_PAYLOAD_BYTES:
                raise PayloadFormatError(f"{path}: {info.st_size} bytes, larger than any payload ({MAX_PAYLOAD_BYTES} bytes at most)")
            head = handle.read(len(MAGIC))
            if len(head) == len(MAGIC) and head != MAGIC:
                raise PayloadFormatError(f"{path}: {_BAD_MAGIC}")  # before reading on: /dev/zero ends here
            data = head + handle.read(MAX_PAYLOAD_BYTES + 1 - len(head))
    except FileNotFoundError:
        raise PayloadFormatError(f"{path}: no such payload file") from None
    except IsADirectoryError:
        raise PayloadFormatError(f"{path}: a folder, not a payload file") from None
    except OSError as exc:
        raise PayloadFormatError(f"{path}: cannot read this payload file ({exc.strerror})") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadFormatError(f"{path}: larger than any payload ({MAX_PAYLOAD_BYTES} bytes at most)")
    return data


def looks_like_payload(path: str | Path) -> bool:
    """Whether a file starts with the payload magic bytes (so ``encrypt --force`` may replace it)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _pack_header(
    scheme: str,
    dtype_code: str,
    shape: tuple[int, ...],
    scales: np.ndarray,
    offsets: np.ndarray,
    nonce: bytes,
    metadata: bytes,
    body_len: int,
    tag_len: int,
) -> bytes:
    """Everything before the ciphertext, as bytes (authenticated as associated data in gcm)."""
    version = PAYLOAD_VERSION if metadata else PLAIN_VERSION
    parts = [_FIXED.pack(MAGIC, version, _SCHEME_CODES[scheme], _DTYPE_CODES[dtype_code], len(shape))]
    parts.append(struct.pack(f">{len(shape)}I", *shape))
    parts.append(struct.pack(">H", len(scales)))
    for scale, offset in zip(scales, offsets):
        parts.append(struct.pack(">ff", float(scale), float(offset)))
    parts.append(struct.pack(">B", len(nonce)) + nonce)
    if metadata:
        parts.append(struct.pack(">H", len(metadata)) + metadata)
    parts.append(struct.pack(">QB", body_len, tag_len))
    return b"".join(parts)


def _pack_metadata(metadata: dict | None) -> bytes:
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


def read_header(payload: bytes) -> PayloadHeader:
    """Parse and check a payload's header without the key; ``PayloadFormatError`` if malformed."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise PayloadFormatError(f"a payload is bytes, not {type(payload).__name__}")
    payload = bytes(payload)
    reader = _Reader(payload)
    magic, version, scheme_code, dtype_code, ndim = reader.unpack(_FIXED)
    if magic != MAGIC:
        raise PayloadFormatError(_BAD_MAGIC)
    if version not in READABLE_VERSIONS:
        raise PayloadFormatError(
            f"payload format version {version} is not supported by this aecrypt (which reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}); upgrade aecrypt or re-encrypt"
        )
    scheme = _lookup(_SCHEME_CODES, scheme_code, "scheme")
    dtype = _lookup(_DTYPE_CODES, dtype_code, "dtype")
    if not 1 <= ndim <= MAX_NDIM:
        raise PayloadFormatError(f"payload claims {ndim} dimensions; 1 to {MAX_NDIM} are valid")
    shape = reader.unpack(struct.Struct(f">{ndim}I"))
    (nquant,) = reader.unpack(struct.Struct(">H"))
    expected_quant = (shape[-1] if ndim > 1 else 1) if dtype == "uint8q" else 0
    if nquant != expected_quant:
        raise PayloadFormatError(f"payload has {nquant} quantisation channels; its dtype and shape need {expected_quant}")
    quant = reader.unpack(struct.Struct(f">{2 * nquant}f"))
    scales, offsets = tuple(quant[0::2]), tuple(quant[1::2])
    if not all(map(math.isfinite, quant)):
        raise PayloadFormatError("payload's quantisation scales or offsets are not finite; the payload is damaged")
    (nonce_len,) = reader.unpack(struct.Struct(">B"))
    expected_nonce = {"gcm": GCM_NONCE_BYTES, "ctr": CTR_NONCE_BYTES, "cbc": CBC_IV_BYTES}.get(scheme, 0)
    if nonce_len != expected_nonce:
        raise PayloadFormatError(f"payload's nonce is {nonce_len} bytes; scheme {scheme!r} uses {expected_nonce}")
    nonce = reader.take(nonce_len)
    metadata = {}
    if version >= PAYLOAD_VERSION:
        (meta_len,) = reader.unpack(struct.Struct(">H"))
        if meta_len > MAX_METADATA_BYTES:
            raise PayloadFormatError(f"payload's metadata block is {meta_len} bytes; {MAX_METADATA_BYTES} at most are valid")
        metadata = _unpack_metadata(reader.take(meta_len))
    body_len, tag_len = reader.unpack(struct.Struct(">QB"))
    header_bytes = reader.position
    expected_tag = GCM_TAG_BYTES if scheme == "gcm" else 0
    if tag_len != expected_tag:
        raise PayloadFormatError(f"payload's tag is {tag_len} bytes; scheme {scheme!r} uses {expected_tag}")
    itemsize = np.dtype(_NUMPY_DTYPES[dtype]).itemsize
    plain_len = _product(shape) * itemsize
    if body_len != _body_length(scheme, plain_len):
        raise PayloadFormatError(
            f"payload's body is {body_len} bytes, but shape {shape} of {dtype} needs {_body_length(scheme, plain_len)}"
        )
    if scheme in PAPER_SCHEMES and len(shape) > 1 and shape[0] == 0:
        raise PayloadFormatError("payload has no rows")
    actual = len(payload) - header_bytes
    if actual != body_len + tag_len:
        what = "truncated" if actual < body_len + tag_len else "longer than its header says"
        raise PayloadFormatError(
            f"payload is {what}: {len(payload)} bytes where {header_bytes + body_len + tag_len} are expected; "
            "copy the whole file again"
        )
    tag = payload[header_bytes + body_len :]
    return PayloadHeader(version, scheme, dtype, tuple(shape), scales, offsets, nonce, body_len, tag, header_bytes, metadata)


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
