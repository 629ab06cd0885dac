"""The study's named random streams: each purpose its own number, so no two draws share a stream."""

import numpy as np
import pytest

from aecrypt.errors import ParameterError
from aecrypt.seeds import STREAMS, stream


def test_a_stream_is_the_seed_with_its_number():
    assert STREAMS["journey"] == 3 and STREAMS["timing"] == 4 and STREAMS["noise"] == 5 and STREAMS["security"] == 6
    assert stream(11, "journey").integers(1 << 30) == np.random.default_rng([11, 3]).integers(1 << 30)
    assert stream(11, "denoising", 2, 64).random() == np.random.default_rng([11, STREAMS["denoising"], 2, 64]).random()
    assert len(set(STREAMS.values())) == len(STREAMS)  # every purpose its own stream


def test_streams_differ_by_purpose_and_seed():
    draws = {(seed, purpose): stream(seed, purpose).random() for seed in (0, 1) for purpose in ("journey", "timing", "attack")}
    assert len(set(draws.values())) == len(draws)


def test_an_unknown_stream_is_an_error():
    with pytest.raises(ParameterError, match="no random stream named 'jouney'; choose one of journey"):
        stream(0, "jouney")
