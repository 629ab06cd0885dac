"""aecrypt: hybrid medical-image encryption with an autoencoder and AES-256.

A reproducible study of Alslman et al., "Hybrid Encryption Scheme for Medical Imaging
Using AutoEncoder and AES", Electronics 11(23):3967, 2022. The helper modules are
imported lazily so that ``import aecrypt`` stays fast and does not start TensorFlow.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from aecrypt.errors import AecryptError

try:
    __version__ = _version("aecrypt")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["AecryptError", "__version__"]
