"""Audit lines and Prometheus metrics for every request, from one ASGI middleware.

The middleware sees each request whole: the route, the caller (the ``caller``
dependency leaves it in the request's state), the status and, for a refusal,
our error body's message. Writes (any method but GET/HEAD) and refusals
(any 4xx/5xx) become one audit line each; every request is counted.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ovn_inject.audit import AuditLog
from ovn_inject.core import tokens

REQUEST_ID_HEADER = b"x-request-id"
REQUESTS = Counter(
    "ovn_inject_gateway_requests",
    "HTTP requests answered, by route, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "ovn_inject_gateway_request_seconds",
    "Time to answer a request, waits included",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REFUSALS = Counter(
    "ovn_inject_gateway_refusals", "Requests refused, by reason (the error code of the body)", ["reason"]
)
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestIds:
    """Request ids unique across processes and restarts: a random prefix, then a counter.

    Shaped as uuid4().hex was (32 hex digits), at a fraction of its cost: that
    read the kernel's random source on every request. A forked child draws its own prefix.
    """

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


REQUEST_IDS = RequestIds()
#: (route, method, status) -> its request counter and its latency histogram.
_COUNTED: dict[tuple[str, str, int], tuple[Any, Any]] = {}


class GatewayCollector(Collector):
    """``ovn_inject_flows{status}`` (Service_Flow rows by status, from the IDL) and the waits pending."""

    def __init__(self, state: Any, waits: Any) -> None:
        self.state = state
        self.waits = waits

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("ovn_inject_flows", "Service flows by status", labels=["status"])
        counts: dict[str, int] = {"pending": 0, "installed": 0, "invalid": 0}
        with self.state.lock:
            for row in self.state.api.tables["Service_Flow"].rows.values():
                counts[row.status] = counts.get(row.status, 0) + 1
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family
        yield GaugeMetricFamily(
            "ovn_inject_gateway_waits_pending",
            "Requests waiting (?wait) for the compiler daemon; none of them holds a thread",
            value=self.waits.pending(),
        )


class Observe:
    """Assigns a request id (echoed in X-Request-Id), counts, times and audits each request."""

    def __init__(self, app: ASGIApp, audit: AuditLog | None = None) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = REQUEST_IDS.next()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        error_body = bytearray()
        recorded = False

        async def observing_send(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
                message = dict(message, headers=headers)
            elif message["type"] == "http.response.body":
                if status >= 400 and len(error_body) < 65536:
                    error_body.extend(message.get("body", b""))
                if not message.get("more_body", False) and not recorded:
                    # Recorded before the client has the answer: an answer implies its audit line.
                    recorded = True
                    self._done(scope, status, bytes(error_body), request_id, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            if not recorded:
                self._done(scope, status, bytes(error_body), request_id, time.perf_counter() - started)

    def _done(self, scope: Scope, status: int, body: bytes, request_id: str, seconds: float) -> None:
        method = scope["method"]
        route = scope.get("route")
        template = getattr(route, "path", None) or "other"
        counted = _COUNTED.get((template, method, status))
        if counted is None:  # labels() takes a lock and checks its values: once per route and status
            counted = (REQUESTS.labels(template, method, str(status)), LATENCY.labels(template, method))
            if len(_COUNTED) < 4096:
                _COUNTED[(template, method, status)] = counted
        counted[0].inc()
        counted[1].observe(seconds)
        code, reason = _error(body) if status >= 400 else ("", "")
        if code:
            REFUSALS.labels(code).inc()
        if self.audit is None or (method in READS and status < 400):
            return
        caller = scope.get("state", {}).get("caller")
        self.audit.record(
            what=f"{method} {scope['path']}",
            result="accepted" if status < 400 else "refused",
            service=getattr(caller, "service", None),
            token=getattr(caller, "token", None) or _token_id(scope),
            request_id=request_id,
            status=status,
            reason=reason,
        )


def _error(body: bytes) -> tuple[str, str]:
    """Our error body's code and message (a refusal that is not ours: its status only)."""
    try:
        error = json.loads(body)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "other", ""


def _token_id(scope: Scope) -> str | None:
    """The public half of the bearer token, for refusals before authentication succeeded."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                try:
                    return tokens.split_token(credentials.strip())[0]
                except Exception:
                    return None
    return None
