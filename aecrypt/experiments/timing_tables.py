"""Notebook 04's Tables 3 and 4 beside the paper's, and its conclusions, all computed from the
AES, end-to-end and rate-distortion tables (rows looked up by name, in any order).

"The image" that AES without the autoencoder encrypts is read two ways: the raw uint8
image, and the float32 image in [0, 1] that a Keras pipeline holds; each verdict says which
reading it rests on.
"""

from __future__ import annotations

import pandas as pd

from aecrypt.errors import ParameterError
from aecrypt.experiments.aes_timing import FEATURE_DTYPES_TIMED, FLOAT_IMAGE_PAYLOAD, OPENSSL, PYCRYPTODOME, RAW_PAYLOAD, STORED_PAYLOAD, feature_payload
from aecrypt.experiments.pipeline_timing import RAW_METHOD, RECEIVER_METHOD, SENDER_METHOD
from aecrypt.experiments.rate_distortion import least_data_line
from aecrypt.paper import PAPER_TABLE3, PAPER_TABLE4, PAPER_TIME_REDUCTION_TEXT

#: Row names of the paper's Tables 3 and 4 that ours are compared with.
PAPER_AES, PAPER_PROPOSED = "AES (without autoencoders)", "Proposed model (AE-Img-Crypto)"
#: The two schemes Tables 3 and 4 compare, and how they are named there.
TABLE_SCHEMES = {"gcm": "AES-256-GCM", "paper": "paper scheme (256 row keys)"}
#: The two readings of "the image" that AES without the autoencoder encrypts, as Tables 3 and 4 name them.
IMAGE_READINGS = {RAW_PAYLOAD: "raw image", STORED_PAYLOAD: "stored grey image (1 channel)",
                  FLOAT_IMAGE_PAYLOAD: "raw image as float32 in [0, 1]"}


def image_readings(aes: pd.DataFrame) -> list[str]:
    """The readings of "the image" to compare with: the raw and the float32 image always (a
    missing row is an error later), the stored grey image where it was timed (a colour image has none)."""
    return [payload for payload in IMAGE_READINGS if payload != STORED_PAYLOAD or (aes["payload"] == payload).any()]
#: A reading "reproduces" the paper when its reduction lies within this many percentage points of its range.
REPRODUCES_WITHIN_POINTS = 10.0


def reduction_percent(before: float, after: float) -> float:
    """How much shorter ``after`` is than ``before``, in percent (negative: longer), as Table 4 counts."""
    return 100.0 * (1.0 - after / before)


#: The paper's reduction of encryption time: Table 3 (0.05 s to 0.016 s, 68 %) to Table 4 (75 %).
PAPER_REDUCTION_RANGE = (
    reduction_percent(float(PAPER_TABLE3["encryption_s"].iloc[0]), float(PAPER_TABLE3["encryption_s"].iloc[1])),
    float(PAPER_TABLE4.set_index("model").loc[PAPER_PROPOSED, "enhancement_over_aes_percent"]),
)


def table3_method(scheme: str, what: str) -> str:
    """Our Table 3 row name: scheme label, then what is encrypted ('raw image', 'features float32', ...)."""
    return f"{TABLE_SCHEMES[scheme]}, {what}"


def table3(aes: pd.DataFrame, end_to_end: pd.DataFrame) -> pd.DataFrame:
    """Table 3 (seconds to encrypt and decrypt): the paper's two rows, then ours for the raw
    uint8 image, the image as float32 in [0, 1] and the float32 features, under AES-GCM and
    the paper's row-key scheme (``rows``: how many rows it encrypts, each under one of 256
    keys), and the whole sender and receiver. Rows are looked up by name, in any order."""
    rows = [{"source": "paper", "method": r["method"], "bytes": None, "rows": None, "encryption_s": r["encryption_s"],
             "decryption_s": r["decryption_s"]} for _, r in PAPER_TABLE3.iterrows()]
    f32 = feature_payload("float32")
    for scheme in TABLE_SCHEMES:
        for payload, what in (*((p, IMAGE_READINGS[p]) for p in image_readings(aes)), (f32, "features float32")):
            row = _timed(aes, payload, scheme)
            rows.append({"source": "ours", "method": table3_method(scheme, what), "bytes": int(row["plaintext_bytes"]),
                         "rows": _rows(row) if scheme == "paper" else None,
                         "encryption_s": row["encrypt_median_s"], "decryption_s": row["decrypt_median_s"]})
    rows.append({"source": "ours", "method": "encoder + AES-256-GCM (whole sender)",
                 "bytes": int(_timed(aes, f32, "gcm")["plaintext_bytes"]), "rows": None,
                 "encryption_s": _one(end_to_end, side="sender", method=SENDER_METHOD)["total_s"],
                 "decryption_s": _one(end_to_end, side="receiver", method=RECEIVER_METHOD)["total_s"]})
    return pd.DataFrame(rows)


def comparison(scheme: str, dtype: str, payload: str) -> str:
    """Our Table 4 row name: ``scheme`` on features sent as ``dtype`` against the image ``payload``."""
    return f"{TABLE_SCHEMES[scheme]} on {dtype} features vs on the {IMAGE_READINGS[payload]}"


def sender_comparison(payload: str) -> str:
    """Our Table 4 row name of the whole sender against AES-GCM on the image ``payload``."""
    return f"encoder + AES-256-GCM (whole sender) vs AES-256-GCM on the {IMAGE_READINGS[payload]}"


def table4(aes: pd.DataFrame, end_to_end: pd.DataFrame, casts: dict[str, float]) -> pd.DataFrame:
    """Table 4 (reduction of encryption time, %): the paper's two rows, then ours: float32
    features against the raw uint8 image and against the image as float32 in [0, 1], under
    AES-GCM and the paper's row-key scheme; float16 and uint8 features (AES alone, the cast
    ``casts[dtype]`` apart and then included); and the whole sender against either image."""
    paper = PAPER_TABLE4.set_index("model")["enhancement_over_aes_percent"]
    rows = [
        {"source": "paper", "comparison": "DeepEDN vs AES", "reduction_percent": float(paper["DeepEDN"])},
        {"source": "paper", "comparison": f"proposed model vs AES (Table 4; the text says {100 * PAPER_TIME_REDUCTION_TEXT:.0f} %)",
         "reduction_percent": float(paper[PAPER_PROPOSED])},
    ]

    def ours(name: str, image_s: float, features_s: float, cast_s: float) -> dict:
        return {"source": "ours", "comparison": name, "image_aes_s": image_s, "features_aes_s": features_s, "cast_s": cast_s,
                "reduction_percent": reduction_percent(image_s, features_s),
                "cast_included_reduction_percent": reduction_percent(image_s, features_s + cast_s)}

    for scheme in TABLE_SCHEMES:
        for payload in image_readings(aes):
            rows.append(ours(comparison(scheme, "float32", payload), _encrypt_s(aes, payload, scheme),
                             _encrypt_s(aes, feature_payload("float32"), scheme), casts["float32"]))
    for dtype in FEATURE_DTYPES_TIMED[1:]:
        rows.append(ours(comparison("gcm", dtype, RAW_PAYLOAD), _encrypt_s(aes, RAW_PAYLOAD, "gcm"),
                         _encrypt_s(aes, feature_payload(dtype), "gcm"), casts[dtype]))
    sender_s = _one(end_to_end, side="sender", method=SENDER_METHOD)["total_s"]
    for payload in image_readings(aes):
        rows.append(ours(sender_comparison(payload), _encrypt_s(aes, payload, "gcm"), sender_s, 0.0))
    return pd.DataFrame(rows)


# ------------------------------------------------------------ the conclusions


def conclusions(
    aes: pd.DataFrame, end_to_end: pd.DataFrame, rd: pd.DataFrame, casts: dict[str, float], cpu: str, raw_shape: tuple[int, ...],
) -> list[str]:
    """Notebook 04's conclusion, one line per finding, computed from its tables: equal bytes
    take equal AES time, the reading of "the image" that reproduces the paper's reduction,
    the row-key scheme's rows, smaller wire formats with their casts, the whole sender and
    receiver (a verdict that holds under either reading), OpenSSL and the paper's 0.05 s,
    and the lossless codec that makes the least data to encrypt (from the rate-distortion table ``rd``)."""
    raw = _timed(aes, RAW_PAYLOAD, "gcm")
    return [
        f"Measured on {cpu}, pycryptodome AES-256-GCM, medians of {int(raw['repeats'])} interleaved repetitions:",
        *_equal_bytes(aes, raw_shape),
        _reproduced_by(aes),
        _row_keys(aes),
        *_wire_formats(aes, casts),
        _end_to_end_verdict(aes, end_to_end),
        _openssl_against_paper(aes),
        least_data_line(rd),
    ]


def _equal_bytes(aes: pd.DataFrame, raw_shape: tuple[int, ...]) -> list[str]:
    """Bytes and AES time of each reading of the image against the float32 features."""
    raw, f32 = _timed(aes, RAW_PAYLOAD, "gcm"), _timed(aes, feature_payload("float32"), "gcm")
    raw_s, f32_s = raw["encrypt_median_s"], f32["encrypt_median_s"]
    raw_bytes, f32_bytes = int(raw["plaintext_bytes"]), int(f32["plaintext_bytes"])
    same = "the same number of bytes" if raw_bytes == f32_bytes else f"{f32_bytes / raw_bytes:.2g} times the image's bytes"
    lines = [
        f"- raw {'x'.join(map(str, raw_shape))} image (uint8): {raw_bytes} bytes; float32 features: {f32_bytes} bytes ({same}); "
        f"AES takes {raw_s * 1e3:.3f} ms and {f32_s * 1e3:.3f} ms (ratio {f32_s / raw_s:.2f}; the raw image's interquartile "
        f"spread is {100 * raw['encrypt_iqr_s'] / raw_s:.0f} % of its median).",
    ]
    if STORED_PAYLOAD in image_readings(aes):
        stored = _timed(aes, STORED_PAYLOAD, "gcm")
        lines.append(f"- as a scanner stores it, this grey image is one 8-bit channel: {int(stored['plaintext_bytes'])} bytes, "
                     f"{f32_bytes / int(stored['plaintext_bytes']):.2g} times fewer than the features; AES takes "
                     f"{stored['encrypt_median_s'] * 1e3:.3f} ms on it.")
    image = _timed(aes, FLOAT_IMAGE_PAYLOAD, "gcm")
    lines.append(f"- as a Keras pipeline holds it, the image is float32 in [0, 1]: {int(image['plaintext_bytes'])} bytes, "
                 f"{int(image['plaintext_bytes']) / f32_bytes:.2g} times the features; AES-GCM takes {image['encrypt_median_s'] * 1e3:.3f} ms "
                 f"on it, and {reduction_percent(image['encrypt_median_s'], f32_s):.0f} % less on the features.")
    return lines


def _paper_range() -> str:
    """The paper's reduction range in words ('68-75 %')."""
    low, high = PAPER_REDUCTION_RANGE
    return f"{low:.0f}-{high:.0f} %"


#: Every scheme's name in a verdict: Tables 3 and 4's two, and the paper's scheme read over 16-byte blocks.
SCHEME_WORDS = {**TABLE_SCHEMES, "paper-blocks": "paper scheme over 16-byte blocks (256 keys)"}


def _reproduced_by(aes: pd.DataFrame, schemes: tuple[str, ...] = tuple(TABLE_SCHEMES)) -> str:
    """Which scheme and reading of "the image" give a reduction near the paper's, and which do not."""
    low, high = PAPER_REDUCTION_RANGE
    readings = {(scheme, payload): reduction_percent(_encrypt_s(aes, payload, scheme), _encrypt_s(aes, feature_payload("float32"), scheme))
                for scheme in schemes for payload in image_readings(aes)}
    near = {k: v for k, v in readings.items() if max(low - v, v - high, 0.0) <= REPRODUCES_WITHIN_POINTS}
    far = {k: v for k, v in readings.items() if k not in near}

    def named(items: dict) -> str:
        return "; ".join(f"{SCHEME_WORDS[s]} against the {IMAGE_READINGS[p]} ({v:.0f} %)" for (s, p), v in items.items()) or "none"

    return (f"- the paper's {_paper_range()} reduction is reproduced (within {REPRODUCES_WITHIN_POINTS:.0f} points) by: {named(near)}. "
            f"Not by: {named(far)}.")


def paper_size_findings(aes: pd.DataFrame, sweep: pd.DataFrame) -> list[str]:
    """What AES at the paper's 224x224 size says: which scheme and reading of "the image"
    reproduce the paper's reduction on the Dense(3) features, what the deployed variant's
    map costs, and how much of a small payload's time is the fixed cost of a call."""
    from aecrypt.experiments.aes_timing import DEPLOYED_PAYLOAD, PAPER_SIZE_SCHEMES

    raw_s, deployed = _encrypt_s(aes, RAW_PAYLOAD, "gcm"), _timed(aes, DEPLOYED_PAYLOAD, "gcm")
    by_size = sweep[sweep["backend"] == PYCRYPTODOME].sort_values("plaintext_bytes")
    small, large = by_size.iloc[0], by_size.iloc[-1]
    return [
        "At the paper's size (224x224x3 image, 112x112x3 float32 features):",
        _reproduced_by(aes, PAPER_SIZE_SCHEMES).replace("- the paper's", "- on the Dense(3) features, the paper's"),
        f"- without the Dense(3) display layer the encoder sends {int(deployed['plaintext_bytes'])} bytes; AES-256-GCM takes "
        f"{deployed['encrypt_median_s'] * 1e3:.3f} ms on them, {deployed['encrypt_median_s'] / raw_s:.1f} times its time on the "
        f"raw 8-bit image ({reduction_percent(raw_s, deployed['encrypt_median_s']):.0f} % 'reduction').",
        f"- AES-256-GCM (pycryptodome) runs at {small['encrypt_MB_s']:.0f} MB/s on {int(small['plaintext_bytes'])} bytes and "
        f"{large['encrypt_MB_s']:.0f} MB/s on {int(large['plaintext_bytes'])}: below some hundred kilobytes the fixed cost of "
        "a call, not the bytes, sets the time, so a saving in bytes buys less than its share.",
    ]


def _row_keys(aes: pd.DataFrame) -> str:
    """How many rows the paper's row-key scheme encrypts of the image and of the features."""
    rows_image, rows_features = (_rows(_timed(aes, p, "paper")) for p in (RAW_PAYLOAD, feature_payload("float32")))
    return (f"- the paper's row-key scheme encrypts {rows_image} rows of the image and {rows_features} of the features "
            f"(each row under one of 256 keys, so its work follows the row count as much as the bytes).")


def _wire_formats(aes: pd.DataFrame, casts: dict[str, float]) -> list[str]:
    """float16 and uint8 features: AES time against float32's, and whether the cast pays for itself."""
    f32_s = _encrypt_s(aes, feature_payload("float32"), "gcm")
    lines = []
    for label, share, dtype in (("float16", "half", "float16"), ("uint8-quantised", "a quarter of", "uint8")):
        t = _encrypt_s(aes, feature_payload(dtype), "gcm")
        verdict = ("converting them costs more than the AES they save." if t + casts[dtype] > f32_s
                   else "smaller and faster to encrypt, conversion included.")
        lines.append(f"- {label} features ({share} the bytes): AES takes {t * 1e3:.3f} ms, {t / f32_s:.2f} times float32, "
                     f"and the conversion {casts[dtype] * 1e3:.3f} ms more: {verdict}")
    return lines


def _end_to_end_verdict(aes: pd.DataFrame, end_to_end: pd.DataFrame) -> str:
    """The encoder against the largest AES saving, and the whole sender and receiver against AES on the image."""
    raw_s, image_s = _encrypt_s(aes, RAW_PAYLOAD, "gcm"), _encrypt_s(aes, FLOAT_IMAGE_PAYLOAD, "gcm")
    sender = _one(end_to_end, side="sender", method=SENDER_METHOD)
    sender_s, encoder_s = sender["total_s"], sender["model_s"]
    receiver_s = _one(end_to_end, side="receiver", method=RECEIVER_METHOD)["total_s"]
    receiver_raw_s = _one(end_to_end, side="receiver", method=RAW_METHOD)["total_s"]
    saving_s = max(_encrypt_s(aes, p, s) - _encrypt_s(aes, feature_payload("float32"), s) for s in TABLE_SCHEMES for p in image_readings(aes))
    return (f"- either way, the end-to-end verdict holds: the encoder alone takes {encoder_s * 1e3:.1f} ms per image, "
            f"{encoder_s / saving_s:.0f} times the largest AES saving measured ({saving_s * 1e3:.3f} ms). The whole sender "
            f"(encoder + AES) takes {sender_s * 1e3:.1f} ms, {sender_s / raw_s:.0f} times AES on the uint8 image and "
            f"{sender_s / image_s:.0f} times on the float32 image; the receiver (AES + decoder) {receiver_s / receiver_raw_s:.0f} "
            f"times AES on the uint8 image. The paper reports a {_paper_range()} reduction; end to end we measure "
            f"{'an increase' if sender_s > max(raw_s, image_s) else 'a reduction'}.")


def _openssl_against_paper(aes: pd.DataFrame) -> str:
    """OpenSSL's time on the raw image, and the paper's 0.05 s against pycryptodome's."""
    openssl_s = _one(aes, payload=RAW_PAYLOAD, scheme="gcm", backend=OPENSSL)["encrypt_median_s"]
    paper_aes_s = _one(PAPER_TABLE3, method=PAPER_AES)["encryption_s"]
    return (f"- AES-GCM through OpenSSL takes {openssl_s * 1e6:.0f} us for the raw image; the paper's {paper_aes_s:g} s is "
            f"{paper_aes_s / _encrypt_s(aes, RAW_PAYLOAD, 'gcm'):.0f} times our pycryptodome time.")


# ------------------------------------------------------------ rows by name


def _rows(row: pd.Series) -> int:
    """Rows (first axis) of a timed payload: what the paper's row-key scheme cycles its keys over."""
    return int(str(row["shape"]).split("x")[0])


def _timed(aes: pd.DataFrame, payload: str, scheme: str) -> pd.Series:
    """The pycryptodome row of one payload under one scheme."""
    return _one(aes, payload=payload, scheme=scheme, backend=PYCRYPTODOME)


def _encrypt_s(aes: pd.DataFrame, payload: str, scheme: str) -> float:
    """Median encryption time of one payload under one scheme in pycryptodome."""
    return float(_timed(aes, payload, scheme)["encrypt_median_s"])


def _one(table: pd.DataFrame, **match: str) -> pd.Series:
    """The one row whose columns hold the given values; an error naming them if there is none or several."""
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        mask &= table[column] == value
    if mask.sum() != 1:
        raise ParameterError(f"expected one row with {match}, found {int(mask.sum())}; the timing table is incomplete")
    return table[mask].iloc[0]
