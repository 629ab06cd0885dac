"""The paper's claims decided per training seed, then aggregated: never one seed's word alone.

Each claim has a rule, and one function that reads its value from one seed's result folder.
``verdict_table`` applies every claim to every seed folder of a run and gives, per claim,
each seed's value, the mean ± standard deviation with a 95 % interval, and "holds in k of
n seeds"; where seeds disagree, the verdict says it depends on the seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aecrypt.experiments.robustness import MATCHED_KINDS
from aecrypt.experiments.security_verdicts import ATTACK_SSIM_RATIO
from aecrypt.experiments.substitute_decoder import ATTACKER, ATTACKER_EQUAL_STEPS, ATTACKER_OTHER_SCANS, RECEIVER
from aecrypt.study import table_names as tables

#: The share of seeds in which a claim must hold (or fail) for a verdict without "depends".
HOLDS, FAILS, DEPENDS, ONCE = "holds", "does not hold", "depends on the seed", "measured once"
#: Confidence of the interval around the mean over seeds.
INTERVAL = 0.95
#: A ratio at or above this (attacker SSIM over receiver SSIM) means the attacker's decoder
#: draws conclusions nearly as well as the receiver's (notebook 06's rule).
ATTACK_RATIO = ATTACK_SSIM_RATIO


@dataclass(frozen=True)
class Claim:
    """One claim: the paper's words, the study's rule, and how to read its value from one seed's folder."""

    key: str
    paper: str
    rule: str
    measure: Callable[[Path], float | None]
    holds: Callable[[float], bool]
    per_seed: bool = True  # False: the value does not depend on training (measured once, on the first seed's model)


def _table(folder: Path, name: str) -> pd.DataFrame | None:
    """A result table of one seed's folder, or None where that notebook did not write it."""
    path = folder / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def reconstruction_ssim(folder: Path) -> float | None:
    """Mean SSIM of the test split through the encoder and decoder, no noise (table_reconstruction)."""
    table = _table(folder, tables.RECONSTRUCTION)
    return None if table is None else float(table.loc[table["images"] == "test", "ssim"].iloc[0])


def best_channel_identification(folder: Path) -> float | None:
    """Share of test images whose best feature channel, merely stretched, picks out its own image
    among all test images by correlation (table_feature_similarity)."""
    table = _table(folder, tables.FEATURE_SIMILARITY)
    return None if table is None else float(table["identified"].max())


def identification_chance(folder: Path) -> float | None:
    """What guessing gives in the identification test (one in the number of test images)."""
    table = _table(folder, tables.FEATURE_SIMILARITY)
    return None if table is None else float(table["chance"].iloc[0])


def attacker_ratio(folder: Path, attacker: str = ATTACKER) -> float | None:
    """The attacker's test SSIM over the receiver's (table_substitute_decoder): 1 means as good."""
    table = _table(folder, tables.SUBSTITUTE_DECODER)
    if table is None or not (table["decoder"] == attacker).any():
        return None
    rows = table.set_index("decoder")["ssim"]
    return float(rows[attacker] / rows[RECEIVER])


def noise_improvement(folder: Path, kind: str, metric: str, table: str = tables.TABLE6_MATCHED) -> float | None:
    """How much the pipeline improves a noisy test image under ``metric`` (positive: better):
    SSIM-like metrics pipeline minus noisy, MSE noisy minus pipeline (Table 6 at the paper's noise levels)."""
    frame = _table(folder, table)
    if frame is None or f"{metric}_noisy" not in frame.columns:
        return None
    rows = frame[(frame["noise"] == kind) & frame[f"{metric}_noisy"].notna()]
    if rows.empty:
        return None
    noisy, through = float(rows[f"{metric}_noisy"].iloc[0]), float(rows[f"{metric}_pipeline"].iloc[0])
    return noisy - through if metric == "mse" else through - noisy


def time_reduction(folder: Path, comparison_prefix: str) -> float | None:
    """Our measured encryption-time reduction (%) for a Table 4 comparison (table4_time_reduction)."""
    table = _table(folder, tables.TABLE4)
    if table is None:
        return None
    rows = table[(table["source"] == "ours") & table["comparison"].str.startswith(comparison_prefix)]
    return float(rows["reduction_percent"].iloc[0]) if len(rows) else None


def autoencoder_bd_rate(folder: Path) -> float | None:
    """BD-rate (%) of the autoencoder's smallest wire format against the reference codec at
    matched PSNR (``table_bd_rate``): below 0, fewer bits than the codec at the same quality."""
    from aecrypt.experiments.rate_distortion import AUTOENCODER, METRICS

    rd, bd = _table(folder, tables.RATE_DISTORTION), _table(folder, tables.BD_RATE)
    if rd is None or bd is None:
        return None
    ours = rd[(rd["kind"] == AUTOENCODER)].dropna(subset=["bpp_mean"])
    if ours.empty:
        return None
    best = ours.loc[ours["bpp_mean"].idxmin()]
    rows = bd[(bd["method"] == best["method"]) & (bd["setting"] == best["setting"]) & (bd["metric"] == METRICS["psnr_db"])]
    return float(rows["bd_rate_percent"].iloc[0]) if len(rows) and pd.notna(rows["bd_rate_percent"].iloc[0]) else None


#: Section 4's range for the time saved: Table 3's times give 68 %, Table 4 says 75 %.
PAPER_REDUCTION_PERCENT = 68.0
NOISE_METRICS = {"ssim": "windowed SSIM", "mse": "MSE", "psnr": "PSNR", "foreground_ssim": "SSIM inside the body"}


def _noise_claims() -> list[Claim]:
    """'the decoder reduced this noise', per noise kind and per metric, at the paper's noise levels."""
    claims = []
    for kind in MATCHED_KINDS:
        for metric, words in NOISE_METRICS.items():
            claims.append(Claim(
                key=f"denoises {kind} ({metric})",
                paper="\"for all types of noise added, the decoder reduced this noise in the resulting images\" (Section 4, Table 6)",
                rule=f"{kind.replace('_', ' and ')} noise at the paper's noisy-input SSIM: {words} of the pipeline's output "
                     "is better than the noisy input's (value: the improvement; above 0 holds)",
                measure=lambda folder, k=kind, m=metric: noise_improvement(folder, k, m),
                holds=lambda value: value > 0,
            ))
    return claims


CLAIMS: tuple[Claim, ...] = (
    Claim("reconstruction", "\"the SSIM was 0.9528 … a loss … which can be neglected\" (Section 4)",
          "test SSIM without noise at least the paper's 0.9528 (other images, other data: a yardstick, not a match)",
          reconstruction_ssim, lambda value: value >= 0.9528),
    Claim("features are not a picture",
          "\"the encoded data are entirely different from the original data and cannot be viewed as a representation of the original data\" (Section 1)",
          "the best feature channel, stretched, picks its own image out of the test split less than half of the time "
          "(value: the share it does)", best_channel_identification, lambda value: value < 0.5),
    Claim("no conclusions without the decoder",
          "\"no conclusions can be built over the data without the secret autoencoder model\" (Section 1)",
          f"an attacker with the encoder who trains its own decoder (as many epochs as the owner) reaches less than "
          f"{ATTACK_RATIO:g} of the receiver's test SSIM (value: attacker over receiver)",
          attacker_ratio, lambda value: value < ATTACK_RATIO),
    Claim("no conclusions without the decoder (equal steps)",
          "\"no conclusions can be built over the data without the secret autoencoder model\" (Section 1)",
          "as above, for an attacker given as many gradient steps as the owner took (value: attacker over receiver)",
          lambda folder: attacker_ratio(folder, ATTACKER_EQUAL_STEPS), lambda value: value < ATTACK_RATIO),
    Claim("no conclusions without the decoder (other people's scans)",
          "\"no conclusions can be built over the data without the secret autoencoder model\" (Section 1)",
          "as above, for an attacker trained on other people's scans only (value: attacker over receiver)",
          lambda folder: attacker_ratio(folder, ATTACKER_OTHER_SCANS), lambda value: value < ATTACK_RATIO),
    *_noise_claims(),
    Claim("less data to encrypt",
          "\"Encrypting the extracted features has minimized the amount of data that are required to be encrypted\" (Section 4)",
          "the autoencoder's smallest wire format needs fewer bits per pixel than JPEG 2000 at the same PSNR over the test split "
          "(value: BD-rate, %; below 0 holds)", autoencoder_bd_rate, lambda value: value < 0),
    Claim("encryption time saved",
          "\"the encryption and decryption time were reduced by approximately 72%\" (Section 4; Tables 3 and 4: 68 to 75 %)",
          f"AES-256-GCM on the float32 features takes at least {PAPER_REDUCTION_PERCENT:g} % less time than on the raw image "
          "(value: the reduction, %)",
          lambda folder: time_reduction(folder, "AES-256-GCM on float32 features vs on the raw image"),
          lambda value: value >= PAPER_REDUCTION_PERCENT, per_seed=False),
    Claim("whole sender faster",
          "\"our proposed system improved the encryption/decryption overhead by 50–75%\" (Abstract)",
          "the whole sender (encoder, then AES-256-GCM on the features) takes less time than AES-256-GCM on the raw image "
          "(value: the reduction, %)",
          lambda folder: time_reduction(folder, "encoder + AES-256-GCM (whole sender) vs AES-256-GCM on the raw image"),
          lambda value: value > 0, per_seed=False),
)


def interval(values: np.ndarray, confidence: float = INTERVAL) -> tuple[float, float]:
    """The t-interval around the mean of ``values`` (NaN for fewer than two values)."""
    if len(values) < 2:
        return math.nan, math.nan
    from scipy import stats

    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def verdict(held: list[bool], per_seed: bool = True) -> str:
    """'holds', 'does not hold', 'depends on the seed' (seeds disagree) or 'measured once' words with k of n."""
    n, k = len(held), sum(held)
    if n == 0:
        return "not measured"
    if not per_seed or n == 1:
        return f"{HOLDS if k else FAILS} ({ONCE})" if not per_seed else f"{HOLDS if k else FAILS} (one seed)"
    if k == n:
        return f"{HOLDS} in {k} of {n} seeds"
    if k == 0:
        return f"{FAILS} in any of {n} seeds"
    return f"{DEPENDS}: holds in {k} of {n} seeds"


def decide(claim: Claim, values: dict[int, float]) -> dict[str, object]:
    """One claim's row: its rule, each seed's value, mean ± sd, the 95 % interval, k of n, the verdict."""
    measured = {seed: value for seed, value in values.items() if value is not None and not math.isnan(value)}
    array = np.array(list(measured.values()), dtype=float)
    held = [bool(claim.holds(value)) for value in measured.values()]
    low, high = interval(array)
    return {
        "claim": claim.key, "rule": claim.rule,
        **{f"seed {seed}": value for seed, value in measured.items()},
        "mean": float(array.mean()) if len(array) else math.nan,
        "sd": float(array.std(ddof=1)) if len(array) > 1 else math.nan,
        "ci95_low": low, "ci95_high": high,
        "holds_in": sum(held), "seeds": len(held),
        "verdict": verdict(held, claim.per_seed),
    }


def verdict_table(folders: dict[int, Path], claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """Every claim decided in every seed's folder and aggregated; claims no seed measured are left out."""
    rows = []
    for claim in claims:
        chosen = folders if claim.per_seed else dict(list(folders.items())[:1])
        row = decide(claim, {seed: claim.measure(folder) for seed, folder in chosen.items()})
        if row["seeds"]:
            rows.append(row)
    table = pd.DataFrame(rows)
    seed_columns = sorted((c for c in table.columns if c.startswith("seed ")), key=lambda c: int(c.split()[1]))
    order = ["claim", "rule", *seed_columns, "mean", "sd", "ci95_low", "ci95_high", "holds_in", "seeds", "verdict"]
    return table[[c for c in order if c in table.columns]] if len(table) else table


def verdict_lines(table: pd.DataFrame) -> list[str]:
    """One sentence per claim, for a notebook's findings and REPORT.md: the verdict with its values."""
    lines = []
    for _, row in table.iterrows():
        values = ", ".join(f"{row[c]:.3g}" for c in table.columns if c.startswith("seed ") and pd.notna(row[c]))
        spread = f"; mean {row['mean']:.3g} ± {row['sd']:.3g}" if pd.notna(row.get("sd")) else ""
        lines.append(f"{row['claim']}: {row['verdict']} (values {values}{spread}).")
    return lines


# ------------------------------------------------------------ the deployed variant beside the Dense(3) model

#: The named run of the deployed variant (``bottleneck=0``: no Dense display layer) in a profile's results.
DEPLOYED_RUN = "deployed"
#: The claims put to both variants, by key.
VARIANT_CLAIMS = ("reconstruction", "features are not a picture", "no conclusions without the decoder")


def feature_bytes(folder: Path, side: str = "run") -> float | None:
    """Bytes of the float32 features AES encrypts: at the run's image size (``table_aes_timing``),
    or at the paper's 224 px (``table_aes_paper_size``; the Dense(3) map or the deployed one)."""
    from aecrypt.experiments.aes_timing import DEPLOYED_PAYLOAD, feature_payload

    table = _table(folder, tables.AES_TIMING if side == "run" else tables.AES_PAPER_SIZE)
    if table is None:
        return None
    payload = feature_payload("float32") if side == "run" else DEPLOYED_PAYLOAD
    rows = table[(table["payload"] == payload) & (table["scheme"] == "gcm")]
    return float(rows["plaintext_bytes"].iloc[0]) if len(rows) else None


def feature_bytes_at_paper_size(folder: Path) -> float | None:
    """Bytes the run's encoder would send at the paper's 224x224 input: a 112x112 map of its own
    feature channels in float32 (the channels read from ``table_aes_timing``'s feature shape)."""
    from aecrypt.experiments.aes_timing import PAPER_SIDE, feature_payload

    table = _table(folder, tables.AES_TIMING)
    if table is None:
        return None
    shape = table.loc[table["payload"] == feature_payload("float32"), "shape"]
    return float((PAPER_SIDE // 2) ** 2 * int(str(shape.iloc[0]).split("x")[-1]) * 4) if len(shape) else None


def feature_aes_seconds(folder: Path) -> float | None:
    """AES-256-GCM's median time (pycryptodome) on the run's float32 features (``table_aes_timing``)."""
    from aecrypt.experiments.aes_timing import PYCRYPTODOME, feature_payload

    table = _table(folder, tables.AES_TIMING)
    if table is None:
        return None
    rows = table[(table["payload"] == feature_payload("float32")) & (table["scheme"] == "gcm") & (table["backend"] == PYCRYPTODOME)]
    return float(rows["encrypt_median_s"].iloc[0]) if len(rows) else None


def variant_table(variants: dict[str, dict[int, Path]]) -> pd.DataFrame:
    """The paper's claims put to each variant (its seed folders by seed): reconstruction, whether a
    feature channel is a picture, the substitute-decoder attack, decided per seed; and the bytes
    of its features with AES's time on them (measured once, on the first seed's model)."""
    by_key = {claim.key: claim for claim in CLAIMS}
    measures = (
        Claim("feature bytes (this run's image size)", "", "bytes of the float32 features AES encrypts",
              feature_bytes, lambda value: True, per_seed=False),
        Claim("feature bytes at the paper's 224 px", "", "bytes of a 112x112 float32 map of the encoder's channels",
              feature_bytes_at_paper_size, lambda value: True, per_seed=False),
        Claim("AES-256-GCM on the features (s)", "", "median time to encrypt the float32 features (pycryptodome)",
              feature_aes_seconds, lambda value: True, per_seed=False),
    )
    rows = []
    for variant, folders in variants.items():
        for claim in [by_key[key] for key in VARIANT_CLAIMS] + list(measures):
            chosen = folders if claim.per_seed else dict(list(folders.items())[:1])
            row = decide(claim, {seed: claim.measure(folder) for seed, folder in chosen.items()})
            if row["seeds"]:
                rows.append({"variant": variant, **row, **({"verdict": "measured once"} if not claim.paper else {})})
    table = pd.DataFrame(rows)
    seed_columns = sorted((c for c in table.columns if c.startswith("seed ")), key=lambda c: int(c.split()[1]))
    order = ["claim", "variant", *seed_columns, "mean", "sd", "holds_in", "seeds", "verdict"]
    return table[[c for c in order if c in table.columns]].sort_values("claim", kind="stable", ignore_index=True) if len(table) else table
