"""The experiments, one module per question the study asks (timing, noise robustness,
security, leakage). Imports the data, the method and the core."""
