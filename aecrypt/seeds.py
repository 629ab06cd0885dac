"""The study's seeded random streams, each named once: one ``seed`` gives every notebook its
own independent stream, so adding a draw in one place leaves every other draw as it was.

A stream is ``np.random.default_rng([seed, number, ...])``; the numbers are those the study
has always used, so its results repeat.
"""

from __future__ import annotations

import numpy as np

from aecrypt.errors import ParameterError

#: The number of each named stream. "denoising" (notebook 05's fine-tuning) and "security"
#: (notebook 06) share 6 for history's sake; they never meet in one notebook.
STREAMS: dict[str, int] = {
    "journey": 3,  # notebook 03: the key and the nonces of the image's journey
    "timing": 4,  # notebook 04: the key AES is timed with
    "noise": 5,  # notebook 05: the key of the pipeline under noise
    "security": 6,  # notebook 06: the key and the nonces of the cipher statistics
    "denoising": 8,  # notebook 05: the noise drawn to fine-tune the denoising model
    "attack": 7,  # notebook 06: the attacker's shuffle of its image pool
    "aes sizes": 9,  # notebook 04: the arrays AES is timed on at the paper's size and across payload sizes
    "byte flip": 10,  # notebook 03: which ciphertext byte the flip under the paper's scheme hits
}


def stream(seed: int, purpose: str, *more: int) -> np.random.Generator:
    """The generator of stream ``purpose`` under ``seed`` (``more``: sub-streams, such as an
    epoch and a batch), independent of every other stream."""
    if purpose not in STREAMS:
        raise ParameterError(f"no random stream named {purpose!r}; choose one of {', '.join(STREAMS)}")
    return np.random.default_rng([seed, STREAMS[purpose], *more])
