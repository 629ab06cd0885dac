"""The experiments, one module per question the study asks. Imports the data, the method and the core.

- timing (notebook 04): ``timing`` (the primitives), ``aes_timing``, ``pipeline_timing``
  (sender and receiver, step by step) and ``timing_tables`` (Tables 3 and 4 and the conclusions);
- less data to encrypt (notebook 04): ``codecs`` (the image codecs, through imagecodecs),
  ``feature_coding`` (the features' wire formats), ``bd_rate``, ``rate_distortion`` (the curves
  over the test split and BD-rate) and ``fair_hybrid`` (codec or autoencoder, then AES, end to end);
- noise (notebook 05): ``robustness`` (Table 6, the baselines, the sweep);
- security (notebook 06): ``cipher_statistics``, ``differential`` (NPCR/UACI),
  ``feature_similarity``, ``substitute_decoder`` (the attacker) and ``security_verdicts``;
- ``journey`` (notebook 03: Figure 6 and a flipped byte) and ``leakage`` (notebook 01).
"""
