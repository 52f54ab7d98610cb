"""Timing helper shared by the benchmarks: medians, because this machine is noisy."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_time(fn: Callable[[], object], repeat: int, warm: bool = True) -> float:
    """Median wall time of ``repeat`` calls of ``fn``. ``warm`` first makes an
    untimed call (page cache, lazy imports and model loading), which long
    runs such as a minute of video can skip."""
    if warm:
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
