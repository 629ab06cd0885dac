"""Notebook 06's findings and its verdicts on the paper's two security claims, decided from
the feature-similarity, attack and cipher-statistics tables by thresholds stated beside them.
"""

from __future__ import annotations

import pandas as pd

from aecrypt.errors import ParameterError
from aecrypt.experiments.substitute_decoder import ATTACKER, RECEIVER

#: The features "are a representation of the image" if a channel, merely viewed, picks out
#: its own image among the test split in at least this share of cases ...
IDENTIFY_MIN_SHARE = 0.5
#: ... and at least this many times as often as guessing would.
IDENTIFY_CHANCE_FACTOR = 10
#: "Conclusions can be built without the decoder" if the attacker's SSIM reaches this share of the receiver's.
ATTACK_SSIM_RATIO = 0.9
#: Below this test SSIM the real decoder is too poor (a smoke run) for either verdict to mean anything.
RECEIVER_MIN_SSIM = 0.8


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
