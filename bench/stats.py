"""The one percentile every benchmark reports with."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The `q` quantile (0 … 1) by nearest rank, no interpolation: of 500 ack times the
    p99 is the 495th smallest. NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
