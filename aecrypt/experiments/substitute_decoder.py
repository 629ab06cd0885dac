"""The substitute-decoder attack (notebook 06): Section 3.4 installs the encoder on every
sender's machine, so an attacker holds it; with public images of the same kind it makes
(features, image) pairs and trains a decoder of the published architecture from scratch.
How close it comes to the receiver's decoder, and how that grows with its image pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aecrypt.method.metrics import image_quality, summarize_quality
from aecrypt.seeds import stream

#: Row names of ``attack_table``: the receiver's decoder and the attacker's substitute.
RECEIVER, ATTACKER = "real decoder (the receiver)", "substitute decoder (the attacker)"
#: The attacker's two bounds (``attack_bounds``): as many gradient steps as the owner, and other people's scans.
ATTACKER_EQUAL_STEPS = "substitute decoder, equal steps (the attacker)"
ATTACKER_OTHER_SCANS = "substitute decoder, other people's scans (the attacker)"
#: What each decoder of ``table_substitute_decoder`` assumes the attacker has, stated beside its row.
ASSUMES = {
    RECEIVER: "the key and the owner's decoder",
    ATTACKER: "the encoder; slices of the same brain the owner did not train on (validation slabs, guard slices away "
              "from the test slabs); as many epochs as the owner, so fewer gradient steps over its smaller pool",
    ATTACKER_EQUAL_STEPS: "as the attacker above, with as many gradient steps as the owner took (more epochs over its pool)",
    ATTACKER_OTHER_SCANS: "the encoder and other people's scans only (nibabel's and pydicom's test images: other heads, "
                          "other body parts), none of the test brain; as many gradient steps as the owner took",
}
#: Attacker data sizes for the attack-quality curve; the last point is always every image it has.
#: Each point trains a decoder for the owner's epochs, so each costs time: the default pool
#: (about 50 held-out slices) gives two points, 10 and all (a 30-image point cost 46 s a seed
#: and kept `make reproduce` over 15 minutes); a larger pool also gives 100.
ATTACK_SIZES = (10, 100)
ALL_IMAGES = "all"


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
    from aecrypt.method.model import build_autoencoder, image_shape  # TensorFlow: only when an attacker trains
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
                     "psnr_std": q["psnr_std"], "mse": q["mse_mean"], "assumes": ASSUMES[name]})
    return pd.DataFrame(rows).assign(public_images=public_images, attack_epochs=epochs, attack_minutes=seconds / 60)


def steps_per_epoch(images: int, batch_size: int) -> int:
    """Gradient steps in one epoch over ``images`` (the last batch may be short, as training does)."""
    return -(-images // batch_size)


def equal_step_epochs(owner_steps: int, images: int, batch_size: int) -> int:
    """Epochs over ``images`` that give at least ``owner_steps`` gradient steps in batches of ``batch_size``."""
    return max(1, -(-owner_steps // steps_per_epoch(images, batch_size)))


def attack_bounds(encoder, pools: dict[str, np.ndarray], x_test: np.ndarray, test_features: np.ndarray, owner_steps: int,
                  batch_size: int, seed: int = 0, precision: str = "float32", schedule: str = "constant") -> tuple[pd.DataFrame, dict]:
    """Rows of ``table_substitute_decoder`` for attackers given as many gradient steps as the
    owner took (``owner_steps``), one per pool of images (``ATTACKER_EQUAL_STEPS``,
    ``ATTACKER_OTHER_SCANS``; a tenth of each pool kept for its validation), and their decoded test images."""
    from aecrypt.method.pipeline import decode  # TensorFlow: only when an attacker trains

    rows, decoded = [], {}
    for name, pool in pools.items():
        chosen = pool[stream(seed, "attack").permutation(len(pool))]
        n_val = max(1, len(chosen) // 10)
        epochs = equal_step_epochs(owner_steps, len(chosen) - n_val, batch_size)
        decoder, result = train_substitute_decoder(encoder, chosen[n_val:], chosen[:n_val], epochs=epochs, seed=seed,
                                                   precision=precision, progress=True, batch_size=batch_size, schedule=schedule)
        decoded[name] = decode(decoder, test_features)
        q = summarize_quality(image_quality(x_test, decoded[name]))
        rows.append({"decoder": name, "ssim": q["ssim_mean"], "ssim_std": q["ssim_std"], "psnr_db": q["psnr_mean"],
                     "psnr_std": q["psnr_std"], "mse": q["mse_mean"], "assumes": ASSUMES[name],
                     "public_images": len(chosen) - n_val, "attack_epochs": epochs, "attack_minutes": result.seconds / 60,
                     "attack_steps": epochs * steps_per_epoch(len(chosen) - n_val, batch_size)})
    return pd.DataFrame(rows), decoded


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
    from aecrypt.method.pipeline import decode  # TensorFlow: only when an attacker trains

    order = stream(seed, "attack").permutation(len(pool))
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
