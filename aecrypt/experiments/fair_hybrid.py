"""The fair hybrid (notebook 04, issue 29): at the autoencoder's own reconstruction quality,
the autoencoder then AES-GCM against each codec at the same PSNR then AES-GCM, end to end.

Every method's bytes are sealed the same way (``payload.encrypt_file``: AES-256-GCM in the
aecrypt container); the sender starts from the stored 8-bit image and the receiver ends at
one. Times are medians per image, measured at the run's image size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from aecrypt.experiments.codecs import as_stored, codec, imagecodecs_module
from aecrypt.experiments.feature_coding import pack_features, unpack_features
from aecrypt.experiments.rate_distortion import AUTOENCODER, LOSSLESS, LOSSY, model_inputs, stored_reconstruction
from aecrypt.experiments.timing import time_call
from aecrypt.method.payload import decrypt_file, encrypt_file

#: The autoencoder's wire format its own quality is read from: the paper's float32 features.
OWN_QUALITY_WIRE = "float32"


def container_overhead(key: bytes) -> int:
    """Bytes the AES-GCM container adds to any payload (header, nonce and tag; the same for every length)."""
    return len(encrypt_file(b"\0", key)) - 1


def matched_rows(rd: pd.DataFrame, target_psnr: float) -> pd.DataFrame:
    """Each codec at the autoencoder's quality: a lossless codec as it is, a lossy codec at its
    cheapest measured setting whose mean PSNR reaches ``target_psnr`` (none if no setting does)."""
    picked = [rd[rd["kind"] == LOSSLESS]]
    for _, rows in rd[rd["kind"] == LOSSY].groupby("method", sort=False):
        reaching = rows[rows["psnr_db_mean"] >= target_psnr]
        if len(reaching):
            picked.append(reaching.sort_values("bpp_mean", kind="stable").iloc[:1])
    return pd.concat(picked, ignore_index=True)


def autoencoder_rows(rd: pd.DataFrame) -> pd.DataFrame:
    """The autoencoder's rows the fair hybrid runs: its paper wire format (float32) and its
    smallest (the best chance it has)."""
    ours = rd[rd["kind"] == AUTOENCODER]
    own = ours[ours["setting"] == OWN_QUALITY_WIRE]
    smallest = ours.sort_values("bytes_mean", kind="stable").iloc[:1]
    return pd.concat([own, smallest]).drop_duplicates(subset=["method", "setting"]).reset_index(drop=True)


def codec_ends(name: str, setting: float | None, key: bytes) -> tuple[Callable, Callable]:
    """A codec's sender (stored image -> sealed payload) and receiver (payload -> stored image)."""
    entry, ic = codec(name), imagecodecs_module()
    level = None if setting is None or np.isnan(setting) else setting
    return (lambda image: encrypt_file(bytes(entry.encode(ic, image, level)), key),
            lambda payload, like: as_stored(entry.decode(ic, decrypt_file(payload, key)), like))


def autoencoder_ends(wire: str, encode_one: Callable, decode_one: Callable, shape: tuple[int, ...], key: bytes) -> tuple[Callable, Callable]:
    """The autoencoder's sender (stored image -> encoder -> wire format -> sealed payload) and
    receiver (payload -> features -> decoder -> stored image); the networks take one image."""
    return (lambda image: encrypt_file(pack_features(encode_one(model_inputs([image])[0]), wire), key),
            lambda payload, like: stored_reconstruction(decode_one(unpack_features(decrypt_file(payload, key), wire, shape)), like))


def _timed(sender: Callable, receiver: Callable, images: list[np.ndarray], repeats: int) -> dict[str, float]:
    """Median over ``images`` of each image's median sender and receiver time."""
    send_s, receive_s = [], []
    for image in images:
        payload = sender(image)
        send_s.append(time_call(lambda: sender(image), repeats)["median_s"])
        receive_s.append(time_call(lambda: receiver(payload, image), repeats)["median_s"])
    return {"sender_median_s": float(np.median(send_s)), "receiver_median_s": float(np.median(receive_s))}


def fair_hybrid_table(
    rd: pd.DataFrame, stored_images: list[np.ndarray], encode_one: Callable, decode_one: Callable, feature_shape: tuple[int, ...],
    key: bytes, images: int, repeats: int,
) -> pd.DataFrame:
    """The autoencoder (float32 and its smallest wire format) and each codec at the autoencoder's
    PSNR (``matched_rows``), each then AES-GCM: PSNR and SSIM over the test split, bytes sealed
    (the mean over the split plus the container's fixed bytes) and bits per pixel, and the
    median sender and receiver time per image over the first ``images`` test images."""
    ours = autoencoder_rows(rd)
    target = float(ours.loc[ours["setting"] == OWN_QUALITY_WIRE, "psnr_db_mean"].iloc[0])
    overhead, timed = container_overhead(key), stored_images[:images]
    pixels = stored_images[0].shape[0] * stored_images[0].shape[1]
    rows = []
    for _, row in pd.concat([ours, matched_rows(rd, target)], ignore_index=True).iterrows():
        if row["kind"] == AUTOENCODER:
            ends = autoencoder_ends(row["setting"], encode_one, decode_one, feature_shape, key)
        else:
            ends = codec_ends(row["method"], row["setting_value"], key)
        sealed = row["bytes_mean"] + overhead
        rows.append({"method": row["method"], "setting": row["setting"], "kind": row["kind"], "psnr_db": row["psnr_db_mean"], "ssim": row["ssim_mean"],
                     "sealed_bytes_mean": sealed, "sealed_bpp": 8 * sealed / pixels, **_timed(*ends, timed, repeats),
                     "timed_images": len(timed), "repeats": repeats})
    table = pd.DataFrame(rows)
    table.insert(2, "target_psnr_db", target)
    return table


def fair_findings(fair: pd.DataFrame, image_shape: tuple[int, ...]) -> list[str]:
    """What the fair-hybrid table says: the autoencoder's rows, the codec that seals the fewest
    bytes at its quality, and how the senders and receivers compare."""
    ours, codecs = fair[fair["kind"] == AUTOENCODER], fair[fair["kind"] != AUTOENCODER]
    lines = [f"End to end at {image_shape[0]}x{image_shape[1]} px, each sealed with AES-256-GCM, at the autoencoder's PSNR "
             f"({fair['target_psnr_db'].iloc[0]:.1f} dB) or above, medians per image:"]
    lines += [f"- {r['method']} {r['setting']}: {r['sealed_bytes_mean']:.0f} bytes sealed, sender {1e3 * r['sender_median_s']:.2f} ms, "
              f"receiver {1e3 * r['receiver_median_s']:.2f} ms (PSNR {r['psnr_db']:.1f} dB)." for _, r in ours.iterrows()]
    if codecs.empty:
        return lines + ["- no codec reached that PSNR, so none is compared."]
    best, smallest = codecs.sort_values("sealed_bytes_mean", kind="stable").iloc[0], ours["sealed_bytes_mean"].min()
    lines.append(f"- the fewest bytes at that quality: {best['method']} {best['setting']}, {best['sealed_bytes_mean']:.0f} bytes sealed "
                 f"({smallest / best['sealed_bytes_mean']:.1f} times fewer than the autoencoder's fewest), sender "
                 f"{1e3 * best['sender_median_s']:.2f} ms, receiver {1e3 * best['receiver_median_s']:.2f} ms (PSNR {best['psnr_db']:.1f} dB).")
    lines.append(f"- every codec at that quality: sender {1e3 * codecs['sender_median_s'].min():.2f} to {1e3 * codecs['sender_median_s'].max():.2f} ms, "
                 f"receiver {1e3 * codecs['receiver_median_s'].min():.2f} to {1e3 * codecs['receiver_median_s'].max():.2f} ms; the autoencoder's "
                 f"sender {1e3 * ours['sender_median_s'].min():.2f} ms at best, its receiver {1e3 * ours['receiver_median_s'].min():.2f} ms.")
    return lines
