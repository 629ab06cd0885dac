"""The method: Table 2's autoencoder (model, training), AES-256 payloads (keys, quantise,
schemes, header, payload), image metrics, noise, the sender-to-receiver pipeline and the
fidelity of what the receiver gets. Imports only the core modules (config, errors,
progress, paper, files)."""
