"""AES-256 keys: drawing one, writing and reading key files, and the paper scheme's 256 sub-keys.

A key file is 64 hex characters and a newline (``save_key``), private to its owner; a
file that could be read two ways, or that others may read, is refused.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import stat
from pathlib import Path

import numpy as np
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from Crypto.Random import get_random_bytes

from aecrypt.errors import KeyFileError
from aecrypt.files import FileTooLargeError, atomic_file, open_regular

KEY_BYTES = 32  # AES-256
#: Section 4: "encrypted using 256 keys derived from the original shared key".
PAPER_SUBKEYS = 256
PAPER_HKDF_CONTEXT = b"aecrypt/paper-scheme/row-keys/v1"
#: A key file is 64 hex characters and a newline; a longer one is not a key file (and is not read whole).
MAX_KEY_FILE_BYTES = 256
#: How a key file is written; the one reading that cannot be mistaken for another.
KEY_FORMAT = f"an AES-256 key is {KEY_BYTES} bytes, written as {2 * KEY_BYTES} hex characters (make one with 'aecrypt keygen')"
#: Permission bits that let the group or others use a file: a key file with any of them is refused, as ssh does.
SHARED_MODE_BITS = stat.S_IRWXG | stat.S_IRWXO
_HEX_KEY = re.compile(rb"[0-9a-fA-F]{%d}" % (2 * KEY_BYTES))
_HEX_DIGITS = re.compile(rb"[0-9a-fA-F]+")
_TEXT_BYTES = frozenset(range(32, 127)) | frozenset(b"\t\n\r")


def generate_key(rng: np.random.Generator | None = None) -> bytes:
    """A fresh random AES-256 key from the operating system's CSPRNG.

    ``rng`` is for the study only: a key drawn from a seeded generator makes a notebook's
    tables repeat byte for byte. Never use it for a key that protects real data.
    """
    return get_random_bytes(KEY_BYTES) if rng is None else study_bytes(rng, KEY_BYTES)


def study_bytes(rng: np.random.Generator, count: int) -> bytes:
    """``count`` bytes from a seeded generator (study keys and nonces, never real ones)."""
    return rng.integers(0, 256, count, dtype=np.uint8).tobytes()


def check_key(key: bytes) -> None:
    """Refuse anything that is not a 32-byte AES-256 key, without echoing it."""
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        length = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise KeyFileError(f"an AES-256 key is {KEY_BYTES} bytes; got {length}. Use generate_key() or load_key(path)")


def save_key(key: bytes, path: str | Path) -> Path:
    """Write a key as hex to a new file readable only by its owner (mode 0600); never overwrite.

    The key is written to a private temporary file beside ``path`` and linked into place
    only once complete, so a full disk or a kill leaves no empty or partial key file (and
    the temporary file is removed on failure).
    """
    check_key(key)
    _check_not_zero(key)
    path = Path(path)
    if os.path.lexists(path):
        raise _exists(path)
    try:
        with atomic_file(path, replace=False, private=True) as handle:
            handle.write((key.hex() + "\n").encode("ascii"))
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write the key file ({exc.strerror or exc}); nothing was written") from None
    return path


def _exists(path: Path) -> KeyFileError:
    """The error for a key file that is already there."""
    return KeyFileError(f"{path}: a key file already exists there; choose another name or delete it yourself")


def _check_not_zero(key: bytes) -> None:
    """Refuse a key of 32 zero bytes: no generator makes one, so it was typed or left empty by mistake."""
    if not any(key):
        raise KeyFileError(f"the key is all zeros, which no random generator gives; {KEY_FORMAT}")


def load_key(path: str | Path) -> bytes:
    """Read a key file: 64 hex characters (as ``save_key`` writes) or 32 raw bytes, private to its owner.

    A file another user owns, or that the group or others may read or write, is refused
    (as ssh does; run ``chmod 600``), and so is one that could be read two ways, such as
    32 hex characters (a 16-byte key in hex), a key of all zeros, and anything but a regular file (a FIFO or
    device is refused before it is read, so it cannot hang the reader).
    """
    path = Path(path)
    key = _parse_key(_read_key_file(path), path)
    try:
        _check_not_zero(key)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    return key


def _read_key_file(path: Path) -> bytes:
    """A regular file's bytes, read with a size bound, once its permissions are checked."""
    try:
        with open_regular(path, MAX_KEY_FILE_BYTES) as handle:
            _check_private(path, os.fstat(handle.fileno()))
            raw = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file; make one with 'aecrypt keygen {path}'") from None
    except FileTooLargeError:
        raise _too_long(path) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the key file ({exc.strerror})") from None
    if len(raw) > MAX_KEY_FILE_BYTES:  # it grew after it was opened
        raise _too_long(path)
    return raw


def _too_long(path: Path) -> KeyFileError:
    """The error for a file longer than any key file."""
    return KeyFileError(f"{path}: not a key file (longer than {MAX_KEY_FILE_BYTES} bytes); {KEY_FORMAT}")


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a key file that another user owns, or that the group or others may read or write."""
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.geteuid():
        raise KeyFileError(
            f"{path}: the key file belongs to another user (uid {info.st_uid}, you are uid {os.geteuid()}); "
            "use a key file of your own (copy it, then 'chmod 600' the copy)"
        )
    if mode & SHARED_MODE_BITS:
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


def paper_subkeys(key: bytes) -> tuple[bytes, ...]:
    """The paper scheme's 256 row keys, derived from the shared key with HKDF-SHA256.

    One HKDF expansion per sub-key (its index in the context): a single expansion
    cannot give 256 x 32 bytes (RFC 5869 caps it at 255 hash lengths). Cached per key,
    as a sender derives them once per shared key, not once per image.
    """
    check_key(key)
    return _paper_subkeys(bytes(key))


@functools.lru_cache(maxsize=4)
def _paper_subkeys(key: bytes) -> tuple[bytes, ...]:
    """Uncached derivation behind ``paper_subkeys``."""
    return tuple(
        HKDF(key, KEY_BYTES, salt=b"", hashmod=SHA256, context=PAPER_HKDF_CONTEXT + index.to_bytes(2, "big"))
        for index in range(PAPER_SUBKEYS)
    )
