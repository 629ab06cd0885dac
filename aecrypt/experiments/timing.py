"""Timing, done properly: medians and spread over many repetitions after warm-up.

The primitives every timing table is made with (notebook 04 and the benchmark). The
paper reports single numbers without library, mode, byte counts or method; here every
measurement says how many repetitions its median and quartiles come from.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

DEFAULT_WARMUP = 5


def time_call(fn: Callable[[], object], repeats: int, warmup: int = DEFAULT_WARMUP) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times; median, quartiles, min in seconds."""
    return time_interleaved({"call": fn}, repeats, warmup)["call"]


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = DEFAULT_WARMUP) -> dict[str, dict[str, float]]:
    """Time several functions in alternation, so drift (clock speed, caches) hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: np.empty(repeats) for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name][i] = time.perf_counter() - start
    return {name: summary(values) for name, values in samples.items()}


def summary(samples: np.ndarray) -> dict[str, float]:
    """Median, quartiles and minimum of timed samples in seconds, and how many there were."""
    q25, median, q75 = np.percentile(samples, [25, 50, 75])
    return {"median_s": float(median), "q25_s": float(q25), "q75_s": float(q75), "min_s": float(samples.min()), "repeats": len(samples)}
