"""Security analysis the paper did not do: cipher-image statistics per scheme, differential
tests (NPCR/UACI), how much the feature map itself shows, and an attacker who trains a
substitute decoder from the encoder that Section 3.4 installs on every sender's machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.transform import resize

from aecrypt.cipher import ciphertext_bytes, encrypt_features, encrypt_image
from aecrypt.metrics import (
    IDEAL_CORRELATION,
    IDEAL_ENTROPY,
    IDEAL_NPCR,
    IDEAL_UACI,
    adjacent_correlation,
    as_bytes,
    byte_chi_square,
    byte_entropy,
    npcr,
    npcr_critical,
    ssim,
    uaci,
    uaci_critical_interval,
)

DIRECTIONS = ("horizontal", "vertical", "diagonal")
#: The schemes notebook 06 compares: the default, the paper's, and plain ECB.
SCHEMES_COMPARED = ("gcm", "paper", "ecb")
AES_BLOCK = 16
#: 5 % critical value of chi-square with 255 degrees of freedom: uniform bytes stay below it.
CHI_SQUARE_CRITICAL = 293.25


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as the 8-bit pixels a file would hold."""
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


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
        if scheme in ("ecb", "paper"):
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


def rescale(channel: np.ndarray) -> np.ndarray:
    """Min-max stretch to [0, 1]: what anyone viewing the numbers as a picture would do."""
    channel = np.asarray(channel, np.float64)
    span = channel.max() - channel.min()
    return (channel - channel.min()) / span if span > 0 else np.zeros_like(channel)


def feature_channel_views(features: np.ndarray, image_size: int) -> np.ndarray:
    """Each feature channel stretched to [0, 1] and resized to the image's size: (channels, H, W)."""
    views = []
    for c in range(features.shape[-1]):
        view = resize(rescale(features[..., c]), (image_size, image_size), order=1, anti_aliasing=False)
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
):
    """The attacker of Section 3.4's set-up: holds the encoder and public images of the same
    kind, makes (features, image) pairs and trains a decoder of the published architecture
    (Table 2) from scratch. Returns the substitute decoder and its training result."""
    from aecrypt.model import build_autoencoder, image_shape
    from aecrypt.pipeline import encode
    from aecrypt.training import seed_everything, train_autoencoder

    size, _, channels = image_shape(encoder)
    feature_size, _, bottleneck = encoder.output_shape[1:]
    seed_everything(seed)
    _, _, decoder = build_autoencoder(size, channels=channels, bottleneck=bottleneck,
                                      pooling_stages=int(np.log2(size // feature_size)), precision=precision)
    result = train_autoencoder(
        decoder,
        (encode(encoder, public_images), public_images),
        (encode(encoder, validation_images), validation_images),
        epochs=epochs, batch_size=batch_size, seed=seed, progress=progress,
    )
    return decoder, result
