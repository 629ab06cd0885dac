"""Claims decided per training seed and aggregated (aecrypt.study.verdicts)."""

import math

import numpy as np
import pandas as pd
import pytest

from aecrypt.study.verdicts import CLAIMS, Claim, decide, interval, verdict, verdict_table


def _seed_folder(root, seed, attacker_ssim, receiver_ssim=0.96, identified=0.3):
    """One seed's folder with the two tables the security claims read."""
    folder = root / f"seed-{seed}"
    folder.mkdir(parents=True)
    pd.DataFrame({"decoder": ["real decoder (the receiver)", "substitute decoder (the attacker)"],
                  "ssim": [receiver_ssim, attacker_ssim]}).to_csv(folder / "table_substitute_decoder.csv", index=False)
    pd.DataFrame({"channel": [0, 1], "identified": [identified, identified / 2], "chance": [0.0125, 0.0125]}).to_csv(
        folder / "table_feature_similarity.csv", index=False)
    return folder


def test_a_claim_that_flips_with_the_seed_depends_on_the_seed(tmp_path):
    # the committed run before this change: attacker/receiver 0.89, 0.97, 0.99 under the 0.9 rule
    folders = {seed: _seed_folder(tmp_path, seed, ratio * 0.96) for seed, ratio in enumerate((0.89, 0.97, 0.99))}
    table = verdict_table(folders).set_index("claim")
    row = table.loc["no conclusions without the decoder"]
    assert row["verdict"] == "depends on the seed: holds in 1 of 3 seeds"
    assert (row["holds_in"], row["seeds"]) == (1, 3)
    assert [round(row[f"seed {s}"], 2) for s in range(3)] == [0.89, 0.97, 0.99]
    assert row["ci95_low"] < row["mean"] < row["ci95_high"]
    assert table.loc["features are not a picture", "verdict"] == "holds in 3 of 3 seeds"
    assert "reconstruction" not in table.index  # no seed measured it: left out, not guessed


def test_verdict_words_for_all_none_and_one():
    assert verdict([True, True]) == "holds in 2 of 2 seeds"
    assert verdict([False, False, False]) == "does not hold in any of 3 seeds"
    assert verdict([True]) == "holds (one seed)"
    assert verdict([False], per_seed=False) == "does not hold (measured once)"
    assert verdict([]) == "not measured"


def test_interval_is_the_t_interval():
    values = np.array([0.89, 0.97, 0.99])
    low, high = interval(values)
    half = 4.302652729911275 * values.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert (low, high) == pytest.approx((values.mean() - half, values.mean() + half))
    assert all(math.isnan(v) for v in interval(np.array([0.5])))


def test_missing_values_are_not_counted():
    claim = Claim("x", "the paper", "above 0", lambda folder: None, lambda value: value > 0)
    row = decide(claim, {0: 1.0, 1: None, 2: float("nan"), 3: -1.0})
    assert (row["holds_in"], row["seeds"]) == (1, 2) and row["verdict"] == "depends on the seed: holds in 1 of 2 seeds"


def test_every_claim_quotes_the_paper_and_states_a_rule():
    keys = [claim.key for claim in CLAIMS]
    assert len(keys) == len(set(keys))
    for claim in CLAIMS:
        assert claim.paper.startswith('"') and "(" in claim.paper and claim.rule


def test_the_deployed_variant_faces_the_same_claims(tmp_path):
    from aecrypt.study.verdicts import variant_table

    def variant(name, identified, shape):
        folders = {seed: _seed_folder(tmp_path / name, seed, 0.8, identified=identified) for seed in (0, 1)}
        pd.DataFrame({"payload": ["features float32"], "scheme": ["gcm"], "backend": ["pycryptodome"], "shape": [shape],
                      "plaintext_bytes": [int(np.prod([int(n) for n in shape.split("x")])) * 4], "encrypt_median_s": [1e-4]}
                     ).to_csv(folders[0] / "table_aes_timing.csv", index=False)
        return folders

    table = variant_table({"Dense(3)": variant("dense", 0.6, "48x48x3"), "deployed": variant("deployed", 0.1, "48x48x32")})
    rows = table.set_index(["claim", "variant"])
    assert rows.loc[("features are not a picture", "Dense(3)"), "verdict"] == "does not hold in any of 2 seeds"
    assert rows.loc[("features are not a picture", "deployed"), "verdict"] == "holds in 2 of 2 seeds"
    assert rows.loc[("feature bytes at the paper's 224 px", "deployed"), "mean"] == 1_605_632  # 112x112x32 float32
    assert rows.loc[("feature bytes at the paper's 224 px", "Dense(3)"), "mean"] == 150_528
    assert rows.loc[("feature bytes (this run's image size)", "deployed"), "verdict"] == "measured once"


def test_less_data_reads_the_bd_rate_of_the_smallest_wire_format(tmp_path):
    from aecrypt.experiments.rate_distortion import AUTOENCODER, METRICS
    from aecrypt.study.verdicts import autoencoder_bd_rate

    pd.DataFrame({"method": ["autoencoder features"] * 2 + ["JPEG 2000"], "setting": ["float32", "uint8 + zstd", "q30"],
                  "kind": [AUTOENCODER, AUTOENCODER, "lossy codec"], "bpp_mean": [24.0, 2.5, 0.5]}).to_csv(
        tmp_path / "table_rate_distortion.csv", index=False)
    pd.DataFrame({"method": ["autoencoder features"] * 2, "setting": ["float32", "uint8 + zstd"],
                  "metric": [METRICS["psnr_db"]] * 2, "bd_rate_percent": [900.0, 341.0]}).to_csv(tmp_path / "table_bd_rate.csv", index=False)
    assert autoencoder_bd_rate(tmp_path) == 341.0  # the smallest format's, not the float32's
    assert autoencoder_bd_rate(tmp_path / "nowhere") is None
