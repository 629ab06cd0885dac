"""Security analysis the paper did not do: cipher-image statistics per scheme, differential
tests (NPCR/UACI), how much the feature map itself shows, and an attacker who trains a
substitute decoder from the encoder that Section 3.4 installs on every sender's machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from skimage.transform import resize

from aecrypt.method.header import read_header
from aecrypt.method.payload import ciphertext_bytes, decrypt_features, encrypt_features, encrypt_image
from aecrypt.method.schemes import PAPER_SCHEMES
from aecrypt.method.pixels import stretch, to_uint8
from aecrypt.errors import ParameterError, WrongKeyOrTamperedError
from aecrypt.method.metrics import (
    IDEAL_CORRELATION,
    IDEAL_ENTROPY,
    IDEAL_NPCR,
    IDEAL_UACI,
    adjacent_correlation,
    as_bytes,
    byte_chi_square,
    byte_entropy,
    image_quality,
    npcr,
    npcr_critical,
    psnr,
    ssim,
    summarize_quality,
    uaci,
    uaci_critical_interval,
)

DIRECTIONS = ("horizontal", "vertical", "diagonal")
#: The schemes notebook 06 compares: the default, the paper's, and plain ECB.
SCHEMES_COMPARED = ("gcm", "paper", "paper-blocks", "ecb")
AES_BLOCK = 16
#: 5 % critical value of chi-square with 255 degrees of freedom: uniform bytes stay below it.
CHI_SQUARE_CRITICAL = 293.25
#: The features "are a representation of the image" if a channel, merely viewed, picks out
#: its own image among the test split in at least this share of cases ...
IDENTIFY_MIN_SHARE = 0.5
#: ... and at least this many times as often as guessing would.
IDENTIFY_CHANCE_FACTOR = 10
#: "Conclusions can be built without the decoder" if the attacker's SSIM reaches this share of the receiver's.
ATTACK_SSIM_RATIO = 0.9
#: Below this test SSIM the real decoder is too poor (a smoke run) for either verdict to mean anything.
RECEIVER_MIN_SSIM = 0.8
#: Row names of ``attack_table``: the receiver's decoder and the attacker's substitute.
RECEIVER, ATTACKER = "real decoder (the receiver)", "substitute decoder (the attacker)"


def byte_grid(data: bytes | np.ndarray, rows: int) -> np.ndarray:
    """Bytes laid out in ``rows`` rows, as the plaintext's first axis lays them out."""
    flat = as_bytes(data)
    usable = len(flat) - len(flat) % rows
    return flat[:usable].reshape(rows, -1)


def repeated_block_share(data: bytes | np.ndarray) -> float:
    """Share of 16-byte blocks that equal another block: what ECB-style encryption keeps visible."""
    flat = as_bytes(data)
    blocks = flat[: len(flat) - len(flat) % AES_BLOCK].reshape(-1, AES_BLOCK)
    _, inverse, counts = np.unique(blocks, axis=0, return_inverse=True, return_counts=True)
    return float(np.mean(counts[inverse.reshape(-1)] > 1)) if len(blocks) else float("nan")


def byte_statistics(data: bytes | np.ndarray, rows: int) -> dict[str, float]:
    """Entropy, chi-square against uniform, adjacent-byte correlations and repeated blocks."""
    chi2, p_value = byte_chi_square(data)
    grid = byte_grid(data, rows)
    stats = {"bytes": int(as_bytes(data).size), "entropy_bits": byte_entropy(data), "chi_square": chi2, "chi_square_p": p_value}
    stats.update({f"corr_{d}": adjacent_correlation(grid, d) for d in DIRECTIONS})
    stats["repeated_blocks"] = repeated_block_share(data)
    return stats


def cipher_samples(
    image: np.ndarray, features: np.ndarray, key: bytes, schemes: tuple[str, ...], rng: np.random.Generator | None = None,
) -> dict[str, tuple[bytes, int]]:
    """The byte strings the statistics are taken of, each with the row count of its plaintext.

    The plain image and plain feature map for contrast, the feature map under each
    scheme (what the system sends), and the raw image under the deterministic schemes
    (what the same modes would leak if used on pixels). ``rng`` seeds the nonces, so the
    table repeats byte for byte (study only).
    """
    pixels = to_uint8(image)
    plain_features = np.ascontiguousarray(features, np.float32)
    samples = {
        "image (not encrypted)": (pixels.tobytes(), pixels.shape[0]),
        "feature map (not encrypted)": (plain_features.tobytes(), plain_features.shape[0]),
    }
    for scheme in schemes:
        body = ciphertext_bytes(encrypt_features(plain_features, key, scheme=scheme, rng=rng))
        samples[f"{scheme}: feature map"] = (body[: plain_features.nbytes], plain_features.shape[0])
    for scheme in schemes:
        if scheme == "ecb" or scheme in PAPER_SCHEMES:
            body = ciphertext_bytes(encrypt_image(pixels, key, scheme=scheme, rng=rng))
            samples[f"{scheme}: raw image"] = (body[: pixels.nbytes], pixels.shape[0])
    return samples


def statistics_table(samples: dict[str, tuple[bytes, int]]) -> pd.DataFrame:
    """One row of byte statistics per sample, with the ideal values as a last row."""
    rows = [{"data": name, **byte_statistics(data, n_rows)} for name, (data, n_rows) in samples.items()]
    ideal = {"data": "ideal (uniform random bytes)", "entropy_bits": IDEAL_ENTROPY, "chi_square": f"< {CHI_SQUARE_CRITICAL}"}
    ideal.update({f"corr_{d}": IDEAL_CORRELATION for d in DIRECTIONS})
    ideal["repeated_blocks"] = 0.0
    return pd.DataFrame(rows + [ideal])


def flip_key_bit(key: bytes, bit: int = 0) -> bytes:
    """The key with one bit inverted (bit 0 is the lowest bit of the first byte)."""
    changed = bytearray(key)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def change_one_pixel(image: np.ndarray, row: int, col: int, levels: int = 1) -> np.ndarray:
    """A copy of the image with one pixel (all channels) moved by ``levels`` grey levels of 255."""
    changed = np.array(image, np.float32, copy=True)
    step = levels / 255.0
    changed[row, col] = np.where(changed[row, col] + step <= 1.0, changed[row, col] + step, changed[row, col] - step)
    return changed


def differential_table(
    encode_one, image: np.ndarray, key: bytes, schemes: tuple[str, ...], pixel: tuple[int, int],
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """NPCR and UACI between ciphertexts for a one-pixel plaintext change, a one-bit key change,
    and (for contrast) the same plaintext encrypted twice, per scheme, beside the ideal values.

    ``encode_one`` maps an image to its feature map (the encoder). With a fresh random nonce
    (gcm, ctr, cbc) any two encryptions differ completely, so the third test shows how much
    of the first two is the nonce alone. ``rng`` seeds those nonces (study only).
    """
    features = encode_one(image)
    changed = encode_one(change_one_pixel(image, *pixel))
    other_key = flip_key_bit(key)
    n_bytes = features.astype(np.float32).nbytes
    low, high = uaci_critical_interval(n_bytes)
    rows = [_differential_row("feature map (not encrypted)", "one pixel changed", features.astype(np.float32).tobytes(),
                              changed.astype(np.float32).tobytes(), n_bytes, low, high)]
    for scheme in schemes:
        body = lambda f, k: ciphertext_bytes(encrypt_features(f, k, scheme=scheme, rng=rng))[:n_bytes]  # noqa: E731
        base = body(features, key)
        tests = {
            "one pixel changed": body(changed, key),
            "one key bit changed": body(features, other_key),
            "same plaintext, same key": body(features, key),
        }
        for test, other in tests.items():
            rows.append(_differential_row(scheme, test, base, other, n_bytes, low, high))
    return pd.DataFrame(rows)


def _differential_row(scheme: str, test: str, a: bytes, b: bytes, n_bytes: int, low: float, high: float) -> dict:
    """NPCR/UACI of two byte strings and whether they pass Wu et al.'s tests at 5 %."""
    n, u = npcr(a, b), uaci(a, b)
    critical = npcr_critical(n_bytes)
    return {"scheme": scheme, "test": test, "npcr": n, "uaci": u, "npcr_ideal": IDEAL_NPCR, "npcr_critical": critical,
            "uaci_ideal": IDEAL_UACI, "uaci_low": low, "uaci_high": high,
            "passes": bool(n >= critical and low <= u <= high)}


def feature_channel_views(features: np.ndarray, image_size: int) -> np.ndarray:
    """Each feature channel stretched to [0, 1] and resized to the image's size: (channels, H, W)."""
    views = []
    for c in range(features.shape[-1]):
        view = resize(stretch(np.asarray(features[..., c], np.float64)), (image_size, image_size), order=1, anti_aliasing=False)
        views.append(view)
    return np.stack(views)


def feature_similarity(images: np.ndarray, features: np.ndarray) -> pd.DataFrame:
    """How much each feature channel, simply viewed, resembles its own image, per channel.

    Columns: SSIM against the grey image (of the channel or its negative, the better);
    |Pearson r| with its own image and, for contrast, the mean |r| with the *other*
    images (which on MRI slices is already high: same background, same head); and
    ``identified``, the share of images whose feature channel correlates best with its own
    image among all of them, against ``chance`` = 1 / number of images.
    """
    greys = np.asarray(images, np.float64).mean(axis=-1)
    n, size = len(greys), greys.shape[1]
    flat_images = _standardise(greys.reshape(n, -1))
    rows = []
    for c in range(features.shape[-1]):
        views = np.stack([feature_channel_views(f[..., c : c + 1], size)[0] for f in features])
        r = _standardise(views.reshape(n, -1)) @ flat_images.T / flat_images.shape[1]  # r[i, j]: view i vs image j
        own = np.abs(np.diag(r))
        others = (np.abs(r).sum(axis=1) - own) / max(n - 1, 1)
        best_ssim = [max(ssim(greys[i], views[i]), ssim(greys[i], 1 - views[i])) for i in range(n)]
        rows.append({
            "channel": c, "ssim_mean": float(np.mean(best_ssim)), "ssim_std": float(np.std(best_ssim)),
            "abs_r_own_image": float(np.mean(own)), "abs_r_other_images": float(np.mean(others)) if n > 1 else float("nan"),
            "identified": float(np.mean(np.argmax(np.abs(r), axis=1) == np.arange(n))), "chance": 1.0 / n, "images": n,
        })
    return pd.DataFrame(rows)


def _standardise(rows: np.ndarray) -> np.ndarray:
    """Each row shifted to mean 0 and scaled to standard deviation 1 (constant rows stay 0)."""
    centred = rows - rows.mean(axis=1, keepdims=True)
    scale = centred.std(axis=1, keepdims=True)
    return centred / np.where(scale > 0, scale, 1.0)


def train_substitute_decoder(
    encoder,
    public_images: np.ndarray,
    validation_images: np.ndarray,
    epochs: int,
    batch_size: int = 16,
    seed: int = 0,
    precision: str = "float32",
    progress: bool = True,
    schedule: str = "constant",
):
    """The attacker of Section 3.4's set-up: holds the encoder and public images of the same
    kind, makes (features, image) pairs and trains a decoder of the published architecture
    (Table 2) from scratch, under the learning-rate ``schedule`` the owner used. Returns the
    substitute decoder and its training result."""
    from aecrypt.method.model import build_autoencoder, image_shape
    from aecrypt.method.pipeline import encode
    from aecrypt.method.training import seed_everything, train_autoencoder

    size, _, channels = image_shape(encoder)
    feature_size, _, bottleneck = encoder.output_shape[1:]
    seed_everything(seed)
    _, _, decoder = build_autoencoder(size, channels=channels, bottleneck=bottleneck,
                                      pooling_stages=int(np.log2(size // feature_size)), precision=precision)
    result = train_autoencoder(
        decoder,
        (encode(encoder, public_images), public_images),
        (encode(encoder, validation_images), validation_images),
        epochs=epochs, batch_size=batch_size, seed=seed, progress=progress, label="attacker's decoder", schedule=schedule,
    )
    return decoder, result


def attack_table(originals: np.ndarray, real: np.ndarray, stolen: np.ndarray, public_images: int, epochs: int, seconds: float) -> pd.DataFrame:
    """Test images decoded by the real decoder and by the attacker's substitute: quality against
    the originals (mean and spread), beside what the attack took (images, epochs, minutes)."""
    rows = []
    for name, images in ((RECEIVER, real), (ATTACKER, stolen)):
        q = summarize_quality(image_quality(originals, images))
        rows.append({"decoder": name, "ssim": q["ssim_mean"], "ssim_std": q["ssim_std"], "psnr_db": q["psnr_mean"],
                     "psnr_std": q["psnr_std"], "mse": q["mse_mean"]})
    return pd.DataFrame(rows).assign(public_images=public_images, attack_epochs=epochs, attack_minutes=seconds / 60)


#: Attacker data sizes for the attack-quality curve; the last point is always every image it has.
#: Each point trains a decoder for the owner's epochs, so each costs time: the default pool
#: (about 50 held-out slices) gives two points, 10 and all (a 30-image point cost 46 s a seed
#: and kept `make reproduce` over 15 minutes); a larger pool also gives 100.
ATTACK_SIZES = (10, 100)
ALL_IMAGES = "all"


def attack_sizes(available: int, sizes: tuple[int, ...] = ATTACK_SIZES) -> list[tuple[str, int]]:
    """(label, images) per curve point: each size the attacker's pool can give, then all of it."""
    return [(str(n), n) for n in sizes if n < available] + [(ALL_IMAGES, available)]


def attack_curve(encoder, pool: np.ndarray, x_test: np.ndarray, test_features: np.ndarray, epochs: int,
                 seed: int = 0, precision: str = "float32", sizes: tuple[int, ...] = ATTACK_SIZES, batch_size: int = 16,
                 schedule: str = "constant"):
    """How well a substitute decoder decodes the test features as the attacker's image pool
    grows: for each size, the first images of a seeded shuffle of ``pool`` (a tenth, at
    least one, kept for its validation), trained for ``epochs`` in batches of ``batch_size``
    under ``schedule``. Returns the curve (one row
    per size, with SSIM and PSNR on the test images) and the largest decoder with its result."""
    from aecrypt.method.pipeline import decode

    order = np.random.default_rng([seed, 7]).permutation(len(pool))
    rows, decoder, result = [], None, None
    for label, n in attack_sizes(len(pool), sizes):
        chosen = pool[order[:n]]
        n_val = max(1, n // 10)
        decoder, result = train_substitute_decoder(encoder, chosen[n_val:], chosen[:n_val], epochs=epochs,
                                                   seed=seed, precision=precision, progress=False, batch_size=batch_size,
                                                   schedule=schedule)
        q = summarize_quality(image_quality(x_test, decode(decoder, test_features)))
        rows.append({"attacker_images": label, "trained_on": n - n_val, "validation": n_val, "epochs": epochs,
                     "ssim": q["ssim_mean"], "ssim_std": q["ssim_std"], "psnr_db": q["psnr_mean"], "minutes": result.seconds / 60})
    return pd.DataFrame(rows), decoder, result


def best_view(similarity: pd.DataFrame) -> pd.Series:
    """The feature channel that picks out its own image most often (the last of equals), from ``feature_similarity``."""
    return similarity.sort_values("identified", kind="stable").iloc[-1]


def findings(similarity: pd.DataFrame, attack: pd.DataFrame, statistics: pd.DataFrame) -> list[str]:
    """Notebook 06's measured findings, one line each: the best feature channel, the attacker
    against the receiver, and the repeated blocks in each ciphertext (rows named 'scheme: ...')."""
    view = best_view(similarity)
    attacker, receiver = _decoder_row(attack, ATTACKER), _decoder_row(attack, RECEIVER)
    repeated = statistics.set_index("data")["repeated_blocks"]
    return [
        f"Feature map: channel {int(view['channel'])} correlates with its own image at |r| = {view['abs_r_own_image']:.2f} "
        f"(other test images: {view['abs_r_other_images']:.2f}; SSIM {view['ssim_mean']:.2f}) and picks out its "
        f"own image among {int(view['images'])} in {view['identified']:.0%} of cases (chance {view['chance']:.0%}).",
        f"Substitute decoder after {int(attacker['attack_epochs'])} epochs on {int(attacker['public_images'])} images the owner "
        f"did not train on "
        f"({attacker['attack_minutes']:.1f} min on this CPU): test SSIM {attacker['ssim']:.3f}, PSNR {attacker['psnr_db']:.1f} dB, "
        f"against the real decoder's {receiver['ssim']:.3f} and {receiver['psnr_db']:.1f} dB.",
        "Repeated 16-byte blocks in the ciphertext: " + ", ".join(f"{k}: {repeated[k]:.0%}" for k in repeated.index if ":" in k),
    ]


def verdict_rules() -> str:
    """The thresholds ``claim_verdicts`` applies, in words, so a report states them beside the verdicts."""
    return (f"Verdict rules: the features show the image if a channel picks out its own image in at least "
            f"{IDENTIFY_MIN_SHARE:.0%} of cases and {IDENTIFY_CHANCE_FACTOR} times chance; the attacker succeeds if its "
            f"SSIM reaches {ATTACK_SSIM_RATIO:.0%} of the real decoder's; no verdict if the real decoder's SSIM is below "
            f"{RECEIVER_MIN_SSIM}.")


def shows_image(view: pd.Series) -> bool:
    """Whether a feature channel, merely viewed, identifies its image often enough to be a picture of it."""
    return bool(view["identified"] >= max(IDENTIFY_MIN_SHARE, IDENTIFY_CHANCE_FACTOR * view["chance"]))


def attacker_succeeds(attacker_ssim: float, receiver_ssim: float) -> bool:
    """Whether the attacker's decoder comes close enough to the receiver's to draw conclusions."""
    return bool(attacker_ssim >= ATTACK_SSIM_RATIO * receiver_ssim)


def claim_verdicts(similarity: pd.DataFrame, attack: pd.DataFrame) -> list[str]:
    """Whether the paper's two security claims hold on this run, or why no verdict is given."""
    attacker, receiver = _decoder_row(attack, ATTACKER), _decoder_row(attack, RECEIVER)
    if receiver["ssim"] < RECEIVER_MIN_SSIM:
        return [f"Inconclusive: the real decoder reaches SSIM {receiver['ssim']:.2f} only (a smoke run?); train longer."]
    return [
        "Claim 'features cannot be viewed as a representation of the original data': "
        + ("DOES NOT HOLD" if shows_image(best_view(similarity)) else "holds on this run"),
        "Claim 'no conclusions can be built without the decoder': "
        + ("DOES NOT HOLD" if attacker_succeeds(attacker["ssim"], receiver["ssim"]) else "holds on this run"),
    ]


def _decoder_row(attack: pd.DataFrame, name: str) -> pd.Series:
    """The row of ``attack_table`` for one decoder, by name; an error if it is missing or repeated."""
    rows = attack[attack["decoder"] == name]
    if len(rows) != 1:
        raise ParameterError(f"the attack table should have one row for {name!r}, not {len(rows)}")
    return rows.iloc[0]


# ------------------------------------------------------------ notebook 03: Figure 6 and one flipped byte


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
    """One ciphertext byte inverted under the paper's scheme: what the receiver decodes, and whether GCM noticed the same flip."""

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
                f"the same flip under GCM: {WrongKeyOrTamperedError.__name__ if self.gcm_rejected else 'ACCEPTED (no integrity check?)'}"]


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
