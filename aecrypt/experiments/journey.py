"""One image through sender and receiver (notebook 03, the paper's Figure 6), and one flipped
ciphertext byte under the paper's scheme against GCM; each with the titled image panels its
figure shows, made here so that the figures only draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aecrypt.errors import WrongKeyOrTamperedError
from aecrypt.method.header import read_header
from aecrypt.method.payload import ciphertext_bytes, decrypt_features, encrypt_features
from aecrypt.method.metrics import psnr, ssim
from aecrypt.method.pixels import stretch

#: A titled image panel of a figure: its title, and an image in [0, 1] (HxWxC).
Panel = tuple[str, np.ndarray]


def displayable(array: np.ndarray) -> np.ndarray:
    """Any HxWxC array stretched to [0, 1] per channel, so it can be drawn as an image."""
    return stretch(np.asarray(array, np.float32), axis=(0, 1))


def ciphertext_picture(payload: bytes, channels: int = 3) -> np.ndarray:
    """A payload's encrypted body as a square image in [0, 1] (bytes as pixels, remainder dropped), for Figure 6c."""
    body = np.frombuffer(ciphertext_bytes(payload), np.uint8)
    side = int(np.sqrt(body.size // channels))
    return body[: side * side * channels].reshape(side, side, channels) / 255.0


@dataclass(frozen=True, eq=False)
class Journey:
    """One image through sender and receiver (Figure 6): each stage's array and the payload sent."""

    image: np.ndarray
    features: np.ndarray
    payload: bytes
    decrypted: np.ndarray
    output: np.ndarray

    @property
    def bit_exact(self) -> bool:
        """Whether the receiver's features equal the sender's bit for bit (they must, under GCM)."""
        return self.decrypted.tobytes() == self.features.tobytes()

    def summary(self, name: str) -> str:
        """One line: shapes, payload size, the bit-for-bit check and the output's quality."""
        return (f"{name}: features {self.features.shape} {self.features.dtype}, payload {len(self.payload)} bytes; "
                f"decrypted features equal the encoder's bit for bit: {self.bit_exact}; "
                f"output SSIM {ssim(self.image, self.output):.4f}, PSNR {psnr(self.image, self.output):.1f} dB")

    def panels(self) -> list[Panel]:
        """Figure 6's panels: original, features, ciphertext bytes, decrypted features (both
        stretched per channel to be visible) and the decoder's output."""
        return [
            ("(a) original", self.image), ("(b) encoder output (features)", displayable(self.features)),
            ("(c) after encryption (bytes)", ciphertext_picture(self.payload)),
            ("(d) after decryption", displayable(self.decrypted)), ("(e) decoder output", self.output),
        ]


def journey(
    image: np.ndarray, encode_one: Callable[[np.ndarray], np.ndarray], decode_one: Callable[[np.ndarray], np.ndarray],
    key: bytes, rng: np.random.Generator | None = None,
) -> Journey:
    """Encode, encrypt (AES-256-GCM), decrypt and decode one image, keeping every stage for Figure 6.

    ``encode_one``/``decode_one`` map one image to its feature map and back; ``rng`` seeds the
    nonce so the payload repeats byte for byte (study only).
    """
    features = encode_one(image)
    payload = encrypt_features(features, key, rng=rng)
    decrypted = decrypt_features(payload, key)
    return Journey(image, features, payload, decrypted, decode_one(decrypted))


@dataclass(frozen=True, eq=False)
class ByteFlip:
    """One ciphertext byte inverted under the paper's scheme: what the receiver decodes, and whether GCM noticed a flipped byte."""

    position: int
    features: np.ndarray
    garbled: np.ndarray
    clean_output: np.ndarray
    garbled_output: np.ndarray
    gcm_rejected: bool

    @property
    def changed(self) -> int:
        """How many feature values the flip changed (one 16-byte block's worth at most)."""
        return int(np.sum(self.garbled != self.features))

    def summary(self) -> list[str]:
        """What the flip did under the paper's scheme, and what GCM made of it."""
        return [f"flipped byte {self.position}: {self.changed} feature values changed, largest now "
                f"{np.nanmax(np.abs(self.garbled)):.3g}; decoded SSIM against the clean decoding "
                f"{ssim(self.clean_output, self.garbled_output):.4f}",
                "a GCM payload of the same features, its first ciphertext byte flipped: "
                + (WrongKeyOrTamperedError.__name__ if self.gcm_rejected else "ACCEPTED (no integrity check?)")]

    def panels(self) -> list[Panel]:
        """The clean decoding, the decoding after the flip, and their difference stretched to be visible."""
        difference = np.abs(self.garbled_output - self.clean_output)
        return [("clean decoding", self.clean_output), ("after one flipped byte (paper scheme)", self.garbled_output),
                ("difference (scaled)", displayable(difference))]


def paper_scheme_byte_flip(
    features: np.ndarray, key: bytes, decode_one: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator,
) -> ByteFlip:
    """Encrypt features with the paper's scheme, invert one ciphertext byte drawn from ``rng``,
    decrypt and decode; then invert the first ciphertext byte of a GCM payload and try to decrypt.

    The paper's scheme has no integrity check, so the receiver decodes the damaged features
    (infinities and NaNs drawn as 0) without complaint; GCM refuses them. ``rng`` also seeds
    the nonces, so the run repeats byte for byte (study only).
    """
    payload = bytearray(encrypt_features(features, key, scheme="paper", rng=rng))
    header = read_header(bytes(payload))
    position = header.header_bytes + int(rng.integers(header.body_bytes))
    payload[position] ^= 0xFF
    garbled = decrypt_features(bytes(payload), key, allow_unauthenticated=True)
    garbled_output = decode_one(np.nan_to_num(garbled, posinf=0, neginf=0))
    gcm_payload = bytearray(encrypt_features(features, key, rng=rng))
    gcm_payload[read_header(bytes(gcm_payload)).header_bytes] ^= 0xFF
    try:
        decrypt_features(bytes(gcm_payload), key)
        rejected = False
    except WrongKeyOrTamperedError:
        rejected = True
    return ByteFlip(position, features, garbled, decode_one(features), garbled_output, rejected)
