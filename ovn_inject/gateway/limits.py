"""What keeps one tenant or one slow client from taking the gateway from everybody else.

- :class:`RateLimits`: a token bucket per service (429 with Retry-After past it).
- :class:`HeaderDeadline`: uvicorn's HTTP/1.1 protocol with a deadline on a
  request's headers, so that a client trickling header bytes (slowloris) is
  disconnected; the body has its own deadline in the app's body guard.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ovn_inject.gateway.coalesce import GatheringTransport
from ovn_inject.gateway.errors import ApiError


@dataclass(frozen=True)
class Limits:
    """The gateway's isolation settings (``ovn-inject gateway --help`` names each)."""

    rate: float = 50.0  # requests per second per service (0: no limit)
    burst: int = 100  # requests a service may send at once after a quiet spell
    default_max_flows: int | None = 10_000  # quota of a service without max_flows (None: unlimited)
    header_timeout: float = 10.0  # seconds from connection (or the last response) to a whole header
    body_timeout: float = 30.0  # seconds to wait for each chunk of a request body
    page_size: int = 1000  # flows per page of GET /v1/flows without ?limit
    max_page_size: int = 10_000


class RateLimits:
    """One token bucket per service: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # service -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, service: str, now: float | None = None) -> None:
        """Spend one token of ``service``'s bucket, or raise a 429 that says when to come back."""
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.get(service, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[service] = (tokens, now)
                retry = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"service '{service}' is over its rate of {self.rate:g} requests/s; retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                )
            self._buckets[service] = (tokens - 1.0, now)


class HeaderDeadline:
    """Closes a connection whose request headers do not arrive whole within ``header_timeout``.

    A mixin for either of uvicorn's HTTP/1.1 protocols (h11 or httptools): both
    keep the request in ``self.cycle``.
    """

    header_timeout = Limits.header_timeout
    cycle: Any
    loop: Any
    transport: Any

    def connection_made(self, transport: Any) -> None:
        # Each answer's head and body leave in one write (see gateway.coalesce).
        super().connection_made(GatheringTransport(transport, self.loop))  # type: ignore[misc]
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        # The answer is whole: it leaves now, not at the end of the loop's step. Answers that
        # come in one step (a group commit's) would otherwise all wait for the last of them.
        self.transport.flush()
        super().on_response_complete()  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        armed_for = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._late, armed_for)

    def _late(self, armed_for: Any) -> None:
        self._header_timer = None
        if self.cycle is armed_for and not self.transport.is_closing():
            # No new request was parsed since the timer started: the headers are late.
            self.transport.close()


class GuardedH11Protocol(HeaderDeadline, H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol with the header deadline."""


def guarded_protocol(header_timeout: float) -> type[Any]:
    """The protocol class with this deadline (uvicorn takes a class, not an instance).

    On httptools (uvicorn's C parser) where it is installed: measured on a
    2-core machine with uvloop, a bare endpoint answered about 2x the
    requests per second it does on h11 and asyncio, an authenticated GET
    1.3-1.8x (bench/bench_gateway_scale.py prints the stacks side by side).
    """
    base: type[Any] = GuardedH11Protocol
    if HTTP_PARSER == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = type("GuardedHttpTools", (HeaderDeadline, HttpToolsProtocol), {})
    return type("Guarded", (base,), {"header_timeout": header_timeout})


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


#: ``OVN_INJECT_HTTP=h11`` picks the pure-Python parser (to compare; the C one is the default).
HTTP_PARSER = os.environ.get("OVN_INJECT_HTTP") or ("httptools" if _available("httptools") else "h11")
#: The event loop: uvloop where installed (``OVN_INJECT_LOOP=asyncio`` to compare).
EVENT_LOOP = os.environ.get("OVN_INJECT_LOOP") or ("uvloop" if _available("uvloop") else "asyncio")
