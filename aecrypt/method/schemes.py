"""The AES modes a payload's body may be encrypted with, and our two readings of the paper's row keys.

``gcm`` (the default) authenticates the body and the header given as associated data.
``ecb``, ``cbc`` and ``ctr`` have no integrity check; they exist for the timing and
security study. "paper" and "paper-blocks" are our two readings of the paper's row-key
scheme (it names neither the mode nor the key derivation): rows along the first axis, or
16-byte blocks of the flattened array, each under one of 256 HKDF-derived keys in turn,
AES-ECB.
"""

from __future__ import annotations

import numpy as np
from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from Crypto.Util.Padding import pad, unpad

from aecrypt.errors import ParameterError, WrongKeyOrTamperedError
from aecrypt.method.keys import PAPER_SUBKEYS, paper_subkeys, study_bytes

SCHEMES = ("gcm", "paper", "ecb", "cbc", "ctr", "paper-blocks")
#: The schemes that encrypt under the paper's 256 derived keys.
PAPER_SCHEMES = ("paper", "paper-blocks")
AUTHENTICATED_SCHEMES = frozenset({"gcm"})
#: The schemes that pad the plaintext to whole blocks (PKCS#7).
PADDED_SCHEMES = ("ecb", "cbc")
GCM_NONCE_BYTES = 12  # 96-bit nonce, the size GCM is designed for
GCM_TAG_BYTES = 16
CTR_NONCE_BYTES = 8  # pycryptodome's CTR: 8-byte nonce + 8-byte counter
CBC_IV_BYTES = 16
#: The nonce (or IV) each scheme draws per payload; the others use none.
NONCE_BYTES = {"gcm": GCM_NONCE_BYTES, "ctr": CTR_NONCE_BYTES, "cbc": CBC_IV_BYTES}
#: The block every last partial block of the paper's readings is XORed with the encryption of.
_STREAM_BLOCK = b"\xff" * AES.block_size


def check_scheme(scheme: str) -> None:
    """Refuse a scheme name that is not one of ``SCHEMES``."""
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme must be one of {SCHEMES}, not {scheme!r}")


def nonce_bytes(scheme: str) -> int:
    """How many nonce (or IV) bytes a scheme uses."""
    return NONCE_BYTES.get(scheme, 0)


def tag_bytes(scheme: str) -> int:
    """How many authentication-tag bytes a scheme appends (16 for gcm, none otherwise)."""
    return GCM_TAG_BYTES if scheme in AUTHENTICATED_SCHEMES else 0


def body_length(scheme: str, plain_len: int) -> int:
    """Ciphertext length for a plaintext length: padded to whole blocks for ecb and cbc."""
    if scheme in PADDED_SCHEMES:
        return (plain_len // AES.block_size + 1) * AES.block_size
    return plain_len


def new_nonce(scheme: str, rng: np.random.Generator | None = None) -> bytes:
    """A fresh nonce for one payload: from the CSPRNG, or from ``rng`` for reproducible study tables only."""
    count = nonce_bytes(scheme)
    if not count:
        return b""
    return get_random_bytes(count) if rng is None else study_bytes(rng, count)


def encrypt_bytes(
    plain: bytes, key: bytes, scheme: str, shape: tuple[int, ...], nonce: bytes, associated: bytes,
) -> tuple[bytes, bytes]:
    """Encrypt an array's bytes (of ``shape``, for the paper's rows) under ``scheme``; the body and the tag.

    ``associated`` (the payload's header) is authenticated by gcm and ignored by the others.
    """
    if scheme == "gcm":
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=GCM_TAG_BYTES)
        cipher.update(associated)
        return cipher.encrypt_and_digest(plain)
    if scheme == "ctr":
        body = AES.new(key, AES.MODE_CTR, nonce=nonce).encrypt(plain)
    elif scheme == "cbc":
        body = AES.new(key, AES.MODE_CBC, iv=nonce).encrypt(pad(plain, AES.block_size))
    elif scheme == "ecb":
        body = AES.new(key, AES.MODE_ECB).encrypt(pad(plain, AES.block_size))
    elif scheme == "paper-blocks":
        body = _paper_blocks(plain, key, encrypt=True)
    else:
        body = _paper_rows(plain, shape, key, encrypt=True)
    return body, b""


def decrypt_bytes(
    body: bytes, key: bytes, scheme: str, shape: tuple[int, ...], nonce: bytes, tag: bytes, associated: bytes,
) -> bytes:
    """Decrypt a body encrypted by ``encrypt_bytes``; ``WrongKeyOrTamperedError`` where the scheme can tell."""
    if scheme == "gcm":
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=GCM_TAG_BYTES)
        cipher.update(associated)
        try:
            return cipher.decrypt_and_verify(body, tag)
        except ValueError:
            raise WrongKeyOrTamperedError(
                "decryption failed: the key is wrong or the payload was altered in transit. "
                "Check that you use the sender's key file; if it is right, ask for the payload again"
            ) from None
    if scheme == "ctr":
        return AES.new(key, AES.MODE_CTR, nonce=nonce).decrypt(body)
    if scheme in PADDED_SCHEMES:
        cipher = AES.new(key, AES.MODE_CBC, iv=nonce) if scheme == "cbc" else AES.new(key, AES.MODE_ECB)
        try:
            return unpad(cipher.decrypt(body), AES.block_size)
        except ValueError:
            raise WrongKeyOrTamperedError(
                f"decryption failed: the padding of this {scheme} payload is invalid, so the key is wrong "
                "or the payload was altered"
            ) from None
    if scheme == "paper-blocks":
        return _paper_blocks(body, key, encrypt=False)
    return _paper_rows(body, shape, key, encrypt=False)


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
        stream = AES.new(subkeys[len(blocks) % PAPER_SUBKEYS], AES.MODE_ECB).encrypt(_STREAM_BLOCK)
        tail = bytes(a ^ b for a, b in zip(tail, stream))
    return out.tobytes() + tail


def _paper_rows(data: bytes, shape: tuple[int, ...], key: bytes, encrypt: bool) -> bytes:
    """Our first reading of the paper's scheme: row r (first axis) under sub-key r mod 256,
    AES-ECB, length-preserving (a 112-row feature map uses 112 of the 256 keys).

    Whole 16-byte blocks of a row are AES-ECB encrypted; a row's last partial block (rows
    of 112x3 float32 have none) is XORed with the encryption of an all-0xFF block, so the
    ciphertext has exactly the plaintext's shape. No nonce, no integrity: equal 16-byte
    blocks within a row give equal ciphertext blocks, which the security notebook counts.
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
            stream = cipher.encrypt(_STREAM_BLOCK)
            out[start + full : start + row_bytes] = bytes(a ^ b for a, b in zip(tail, stream))
    return bytes(out)
