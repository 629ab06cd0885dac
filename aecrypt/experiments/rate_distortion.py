"""Rate-distortion over the test split (notebook 04, issue 29): "less data to encrypt" in the
field's own frame. Bits per pixel of the image as stored (one 8-bit channel for a grey scan)
against PSNR, SSIM and MS-SSIM, for every codec setting (``codecs``) and for the autoencoder's
features in every wire format (``feature_coding``); the table of means with the spread over
images, and BD-rate against JPEG 2000 at matched PSNR, SSIM and MS-SSIM.

Every method starts from the stored 8-bit image and ends at an 8-bit image of the same form
(the autoencoder's output channels averaged for a grey scan, then rounded), which is what
its quality is measured on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from aecrypt.errors import ParameterError
from aecrypt.experiments.bd_rate import BdRate, bd_rate, rate_difference_at
from aecrypt.experiments.codecs import (
    CODECS, REFERENCE_CODEC, Codec, library_version, round_trip, setting_label, settings, stored_image, unavailable_reason,
)
from aecrypt.experiments.feature_coding import WIRE_FORMATS, pack_features, unpack_features, wire_unavailable
from aecrypt.method.metrics import ms_ssim, psnr, ssim
from aecrypt.method.pixels import to_uint8

#: What a row of the rate-distortion table is: a lossless codec, a lossy codec's setting, a
#: wire format of the autoencoder's features, or a codec this imagecodecs build lacks.
LOSSLESS, LOSSY, AUTOENCODER, UNAVAILABLE = "lossless codec", "lossy codec", "autoencoder", "unavailable"
#: How ``fig_rate_distortion`` draws each kind of row: lines through a codec's settings, single
#: points, and vertical lines at a lossless codec's rate.
FIGURE_KINDS = {"curve": LOSSY, "point": AUTOENCODER, "lossless": LOSSLESS}
#: The quality metrics, as the tables name their columns, and in words.
METRICS = {"psnr_db": "PSNR (dB)", "ssim": "SSIM", "ms_ssim": "MS-SSIM"}


def _decibels(similarity: np.ndarray) -> np.ndarray:
    """An SSIM-like value in decibels, -10 log10(1 - value), as CompressAI plots MS-SSIM: near-1 values spread out."""
    return -10 * np.log10(np.clip(1 - np.asarray(similarity, np.float64), 1e-12, None))


def _from_decibels(decibels: np.ndarray) -> np.ndarray:
    """The inverse of ``_decibels``."""
    return 1 - 10 ** (-np.asarray(decibels, np.float64) / 10)


def _as_is(value: np.ndarray) -> np.ndarray:
    """A metric read for BD-rate as it is (PSNR, already in decibels)."""
    return value


#: How each metric is read for BD-rate, and back: PSNR as it is, SSIM and MS-SSIM in decibels.
BD_SCALES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "psnr_db": (_as_is, _as_is), "ssim": (_decibels, _from_decibels), "ms_ssim": (_decibels, _from_decibels),
}
#: The metrics BD-rate is computed at (issue 29: matched PSNR and matched SSIM; MS-SSIM besides).
BD_METRICS = tuple(METRICS)


def bits_per_pixel(nbytes: float, stored: np.ndarray) -> float:
    """Bits per pixel of ``nbytes`` for a stored image: per pixel of its height x width,
    whatever its channels (a grey scan's 8-bit image is 8 bpp)."""
    return 8.0 * nbytes / (stored.shape[0] * stored.shape[1])


def stored_images(images) -> list[np.ndarray]:
    """A set of images in [0, 1] as stored (``codecs.stored_image``), read one at a time (a set
    kept on disk is never loaded whole)."""
    return [stored_image(np.asarray(images[i])) for i in range(len(images))]


def quality(stored: np.ndarray, decoded: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM and MS-SSIM of a decoded image against the stored one (both uint8)."""
    a, b = stored.astype(np.float64) / 255.0, decoded.astype(np.float64) / 255.0
    return {"psnr_db": psnr(a, b), "ssim": ssim(a, b), "ms_ssim": ms_ssim(a, b)}


def _row(method: str, setting: str, kind: str, level: float | None, index: int, nbytes: int, stored: np.ndarray,
         decoded: np.ndarray) -> dict:
    """One image's measurement of one method at one setting."""
    return {"method": method, "setting": setting, "kind": kind, "setting_value": math.nan if level is None else float(level),
            "image": index, "bytes": nbytes, "bpp": bits_per_pixel(nbytes, stored), **quality(stored, decoded),
            "exact": bool(np.array_equal(stored, decoded))}


def codec_measurements(stored_images: list[np.ndarray], points: int, codecs: tuple[Codec, ...] = CODECS) -> pd.DataFrame:
    """Every image through every codec at ``points`` settings of its ladder (``codecs.settings``),
    one row per image and setting; a codec this build lacks gets one row that says why."""
    rows = []
    for entry in codecs:
        reason = unavailable_reason(entry)
        if reason:
            rows.append({"method": entry.name, "setting": UNAVAILABLE, "kind": UNAVAILABLE, "note": reason})
            continue
        kind = LOSSLESS if entry.lossless else LOSSY
        for setting in settings(entry, points):
            label = setting_label(entry, setting)
            for index, image in enumerate(stored_images):
                data, decoded = round_trip(entry, image, setting)
                rows.append(_row(entry.name, label, kind, setting, index, len(data), image, decoded))
    return pd.DataFrame(rows)


def autoencoder_method(feature_shape: tuple[int, ...]) -> str:
    """The tables' name of an autoencoder by the feature map it sends ('autoencoder 48x48x3')."""
    return "autoencoder " + "x".join(map(str, feature_shape))


def model_inputs(stored_images: list[np.ndarray], channels: int = 3) -> np.ndarray:
    """Stored 8-bit images as the network takes them: floats in [0, 1], a grey scan's one
    channel repeated to ``channels``."""
    x = np.stack([s if s.ndim == 3 else s[..., None] for s in stored_images]).astype(np.float32) / 255.0
    return np.repeat(x, channels, axis=-1) if x.shape[-1] == 1 else x


def stored_reconstruction(output: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The decoder's output stored as ``like`` is: a grey scan's channels averaged, then 8 bits."""
    x = np.asarray(output, np.float32)
    return to_uint8(x.mean(axis=-1) if like.ndim == 2 else x)


def autoencoder_measurements(
    stored_images: list[np.ndarray], encode: Callable[[np.ndarray], np.ndarray], decode: Callable[[np.ndarray], np.ndarray],
    wires: tuple[str, ...] = WIRE_FORMATS,
) -> pd.DataFrame:
    """Every image through the autoencoder in every wire format (``feature_coding``): the bytes
    a sender would encrypt and the decoded image's quality, one row per image and format.
    ``encode`` and ``decode`` map a batch (images to features, features to images)."""
    features = encode(model_inputs(stored_images))
    method, shape = autoencoder_method(features.shape[1:]), features.shape[1:]
    rows = []
    for wire in wires:
        reason = wire_unavailable(wire)
        if reason:
            rows.append({"method": method, "setting": wire, "kind": UNAVAILABLE, "note": reason})
            continue
        sent = [pack_features(f, wire) for f in features]
        outputs = decode(np.stack([unpack_features(data, wire, shape) for data in sent]))
        for index, (image, data, output) in enumerate(zip(stored_images, sent, outputs)):
            rows.append(_row(method, wire, AUTOENCODER, None, index, len(data), image, stored_reconstruction(output, image)))
    return pd.DataFrame(rows)


def rd_table(measurements: pd.DataFrame) -> pd.DataFrame:
    """The rate-distortion table: one row per method and setting (in the order measured) with
    the mean and standard deviation over images of bytes, bits per pixel and each metric,
    whether every image came back exact, the library that did the work, and why a method
    could not run."""
    measured = measurements[measurements["kind"] != UNAVAILABLE]
    grouped = measured.groupby(["method", "setting"], sort=False)
    table = grouped[["kind", "setting_value"]].first()
    table["images"] = grouped.size()
    table["bytes_mean"] = grouped["bytes"].mean()
    for column in ("bpp", *METRICS):
        table[f"{column}_mean"] = grouped[column].mean()
        table[f"{column}_std"] = grouped[column].std().where(table[f"{column}_mean"] != math.inf)
    table["exact"] = grouped["exact"].all()
    table = table.reset_index()
    by_name = {entry.name: entry for entry in CODECS}
    table["library"] = [library_version(by_name[m]) if m in by_name else "" for m in table["method"]]
    table["note"] = ""
    missing = measurements[measurements["kind"] == UNAVAILABLE].reindex(columns=["method", "setting", "kind", "note"])
    return pd.concat([table, missing], ignore_index=True)


def bd_rate_table(rd: pd.DataFrame, reference: str = REFERENCE_CODEC, metrics: tuple[str, ...] = BD_METRICS) -> pd.DataFrame:
    """BD-rate of every lossy codec against ``reference`` (mean bits per pixel against the mean
    of each metric over the test split, one point per setting), and for each of the
    autoencoder's wire formats the same at its one point; with the quality range compared
    over (in the metric's own units), how many points each curve had, and why a value is missing."""
    curves = rd[rd["kind"] == LOSSY]
    ref = curves[curves["method"] == reference]
    rows = []
    for metric in metrics:
        forward, back = BD_SCALES[metric]
        anchor = (ref["bpp_mean"].to_numpy(), forward(ref[f"{metric}_mean"].to_numpy()))
        for method, rows_of in curves[curves["method"] != reference].groupby("method", sort=False):
            result, note = _compared(lambda: bd_rate(anchor, (rows_of["bpp_mean"].to_numpy(), forward(rows_of[f"{metric}_mean"].to_numpy()))))
            rows.append({"method": method, "setting": "curve", "metric": METRICS[metric], "bd_rate_percent": result.percent,
                         "quality_low": float(back(result.low)), "quality_high": float(back(result.high)), "points": len(rows_of),
                         "note": note})
        for _, point in rd[rd["kind"] == AUTOENCODER].iterrows():
            value = float(forward(np.array([point[f"{metric}_mean"]]))[0])
            result, note = _compared(lambda: BdRate(rate_difference_at(anchor, point["bpp_mean"], value), value, value))
            rows.append({"method": point["method"], "setting": point["setting"], "metric": METRICS[metric],
                         "bd_rate_percent": result.percent, "quality_low": point[f"{metric}_mean"],
                         "quality_high": point[f"{metric}_mean"], "points": 1, "note": note})
    table = pd.DataFrame(rows, columns=["method", "setting", "metric", "bd_rate_percent", "quality_low", "quality_high", "points", "note"])
    table.insert(len(table.columns) - 1, "reference", reference)
    return table


def _compared(compute: Callable[[], BdRate]) -> tuple[BdRate, str]:
    """A BD-rate computed, and why it is missing ('' when it is not): a curve that cannot be
    fitted, or no overlap with the reference's quality range."""
    try:
        result = compute()
    except ParameterError as exc:
        return BdRate(math.nan, math.nan, math.nan), str(exc)
    return result, "" if np.isfinite(result.percent) else "outside the reference's quality range"


# ------------------------------------------------------------ what the tables say


def _fewest(rd: pd.DataFrame, kind: str) -> pd.Series | None:
    """The row of ``kind`` with the fewest mean bytes (the first of equals); None if there is none."""
    rows = rd[rd["kind"] == kind]
    return rows.sort_values("bytes_mean", kind="stable").iloc[0] if len(rows) else None


def _percent(value: float) -> str:
    """A BD-rate in words: signed percent, or 'n/a' where the curves did not overlap."""
    return "n/a" if pd.isna(value) else f"{value:+.0f} %"


def _more_bits(value: float) -> str:
    """A rate difference in words ('341 % more bits', '20 % fewer bits')."""
    return f"{abs(value):.0f} % {'more' if value > 0 else 'fewer'} bits"


def least_data_line(rd: pd.DataFrame) -> str:
    """The lossless codec that makes the least data, against the autoencoder's smallest wire
    format (a line of notebook 04's conclusion)."""
    lossless, ours = _fewest(rd, LOSSLESS), _fewest(rd, AUTOENCODER)
    if lossless is None or ours is None:
        return "- no lossless codec or no autoencoder row was measured, so the least data to encrypt is not compared."
    return (f"- {lossless['method']} makes the least data that gives the image back exactly: {lossless['bytes_mean']:.0f} bytes "
            f"({lossless['bpp_mean']:.2f} bpp) per test image on average, against {ours['bytes_mean']:.0f} bytes "
            f"({ours['bpp_mean']:.2f} bpp) for the autoencoder's smallest wire format ({ours['setting']}) at PSNR "
            f"{ours['psnr_db_mean']:.1f} dB.")


def rd_findings(rd: pd.DataFrame, bd: pd.DataFrame, stored_bpp: float) -> list[str]:
    """What the rate-distortion and BD-rate tables say, one line each, ending in the verdict on
    "less data to encrypt" (``stored_bpp``: the stored image's own bits per pixel)."""
    lossless, ours = _fewest(rd, LOSSLESS), _fewest(rd, AUTOENCODER)
    if lossless is None or ours is None:
        return [least_data_line(rd)]
    codes = rd[rd["kind"] == LOSSLESS]
    wires = rd[rd["kind"] == AUTOENCODER]
    matched = bd[(bd["method"] == ours["method"]) & (bd["setting"] == ours["setting"])].set_index("metric")["bd_rate_percent"].dropna()
    reference = bd["reference"].iloc[0] if len(bd) else REFERENCE_CODEC
    exact = "every image back bit for bit" if codes["exact"].all() else "NOT every image back exactly: " + ", ".join(codes[~codes["exact"]]["method"])
    return [
        f"Over {int(ours['images'])} test images, in bits per pixel (bpp) of the image as stored ({stored_bpp:g} bpp uncoded):",
        "- lossless codecs: " + "; ".join(f"{r['method']} {r['bpp_mean']:.2f} ± {r['bpp_std']:.2f}" for _, r in codes.iterrows())
        + f" bpp, {exact}.",
        f"- the autoencoder ({ours['method']}) reconstructs at PSNR {ours['psnr_db_mean']:.1f} ± {ours['psnr_db_std']:.1f} dB, "
        f"SSIM {ours['ssim_mean']:.3f}, MS-SSIM {ours['ms_ssim_mean']:.3f}; its features take "
        + ", ".join(f"{r['bpp_mean']:.2f} bpp as {r['setting']}" for _, r in wires.iterrows()) + ".",
        f"- against {reference} at the same quality, its smallest wire format ({ours['setting']}) needs "
        + ", ".join(f"{_more_bits(value)} at matched {label.removesuffix(' (dB)')}" for label, value in matched.items()) + "."
        if len(matched) else f"- its quality lies outside the range {reference} was measured over, so no rate at the same quality is read off.",
        _bd_line(bd, reference),
        _verdict(lossless, ours, matched.get(METRICS["psnr_db"], math.nan), stored_bpp, reference),
    ]


def _bd_line(bd: pd.DataFrame, reference: str) -> str:
    """Each lossy codec's BD-rate at every metric, in one line."""
    curves = bd[bd["setting"] == "curve"]
    by_method = curves.groupby("method", sort=False)
    parts = [f"{method} {' / '.join(_percent(v) for v in rows['bd_rate_percent'])}" for method, rows in by_method]
    metrics = " / ".join(dict.fromkeys(curves["metric"].str.removesuffix(" (dB)")))
    return (f"- BD-rate against {reference} at matched {metrics} (negative: fewer bits for the same quality): "
            + "; ".join(parts) + ".")


def _verdict(lossless: pd.Series, ours: pd.Series, matched_psnr: float, stored_bpp: float, reference: str) -> str:
    """The verdict on "less data to encrypt", from the features' smallest wire format against
    the uncoded image, the best lossless codec and ``reference`` at the same PSNR (``matched_psnr``, %)."""
    bpp = ours["bpp_mean"]
    said = (f"- verdict on \"less data to encrypt\": the features' smallest wire format ({ours['setting']}) takes {bpp:.2f} bpp, "
            f"{bpp / stored_bpp:.2f} times the uncoded image, {bpp / lossless['bpp_mean']:.2f} times {lossless['method']} (which "
            "gives the image back exactly)" + ("" if pd.isna(matched_psnr) else f", and {_more_bits(matched_psnr)} than {reference} "
                                                "at the same PSNR"))
    if bpp >= stored_bpp:
        return said + ": more data than the image itself. It does not hold."
    if bpp >= lossless["bpp_mean"]:
        return said + ": less than the uncoded image, more than standard lossless coding. It does not hold against the codecs medical imaging uses."
    if not matched_psnr < 0:
        return said + ": fewer bits than lossless coding, not fewer than a standard lossy codec at the same quality. It holds against lossless coding only."
    return said + ": fewer bits than a standard lossy codec at the same quality. It holds."
