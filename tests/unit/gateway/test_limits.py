"""The per-service token bucket: a burst, then one request per 1/rate seconds, each service on its own."""

from __future__ import annotations

import pytest

from ovn_inject.gateway.errors import ApiError
from ovn_inject.gateway.limits import RateLimits


def test_burst_then_refill() -> None:
    limits = RateLimits(rate=2.0, burst=3)
    for _ in range(3):
        limits.take("a", now=100.0)
    with pytest.raises(ApiError) as refused:
        limits.take("a", now=100.0)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert refused.value.headers == {"Retry-After": "1"}
    limits.take("b", now=100.0)  # another service has its own bucket
    limits.take("a", now=100.5)  # half a second at 2/s: one more
    with pytest.raises(ApiError):
        limits.take("a", now=100.5)


def test_zero_rate_means_no_limit() -> None:
    limits = RateLimits(rate=0, burst=1)
    for _ in range(1000):
        limits.take("a", now=0.0)
