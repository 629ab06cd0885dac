"""The name of every table a run writes (the stem of its CSV, Markdown and LaTeX files),
declared once: the notebooks write the tables under these names, and the figure registry,
the report and the tests read them back by the same names.
"""

from __future__ import annotations

# notebook 01: the data
DATASET = "table_dataset"
LEAKAGE_PER_IMAGE = "table_leakage_per_image"
LEAKAGE_BY_GAP = "table_leakage_by_gap"
SPLIT_BY_PATIENT = "table_split_by_patient"
# notebook 02: training
TRAINING = "table_training"
RECONSTRUCTION = "table_reconstruction"
# notebook 04: timing
AES_TIMING = "table_aes_timing"
END_TO_END_PARTS = "table_end_to_end_parts"
END_TO_END = "table_end_to_end"
RATE_DISTORTION = "table_rate_distortion"
BD_RATE = "table_bd_rate"
FAIR_HYBRID = "table_fair_hybrid"
TABLE3 = "table3_timing"
TABLE4 = "table4_time_reduction"
AES_PAPER_SIZE = "table_aes_paper_size"
AES_SIZE_SWEEP = "table_aes_size_sweep"
# notebook 05: noise
NOISE_ALL = "table6_noise_robustness_all"
TABLE6 = "table6_noise_robustness"
MATCHED_CALIBRATION = "table6_matched_calibration"
MATCHED_ALL = "table6_matched_all"
TABLE6_MATCHED = "table6_matched"
NOISE_SWEEP = "table_noise_sweep"
# notebook 06: security
CIPHER_STATISTICS = "table_cipher_statistics"
DIFFERENTIAL = "table_differential"
FEATURE_SIMILARITY = "table_feature_similarity"
ATTACK_CURVE = "table_attack_curve"
SUBSTITUTE_DECODER = "table_substitute_decoder"
# the report: each seed's rows of a table stacked with a seed column, for figures of the spread across seeds
ACROSS_SEEDS = {"training_history": "table_across_seeds_training_history", NOISE_SWEEP: "table_across_seeds_noise_sweep",
                NOISE_ALL: "table_across_seeds_noise_robustness_all", ATTACK_CURVE: "table_across_seeds_attack_curve",
                SUBSTITUTE_DECODER: "table_across_seeds_substitute_decoder"}
