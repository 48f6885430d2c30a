"""The benchmarks' one percentile."""

from __future__ import annotations

import math

from bench.stats import percentile


def test_nearest_rank_without_interpolation() -> None:
    acks = [float(n) for n in range(1, 501)]  # 1 … 500 ms
    assert percentile(reversed(acks), 0.99) == 495.0
    assert percentile(acks, 0.50) == 251.0  # rank 249.5 rounds to even: the 251st
    assert percentile(acks, 0.0) == 1.0 and percentile(acks, 1.0) == 500.0
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))
