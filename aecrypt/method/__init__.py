"""The method: Table 2's autoencoder, AES payloads and keys, image metrics, noise, the
sender-to-receiver pipeline and training. Imports only the core modules (config, errors,
progress, paper, files)."""
