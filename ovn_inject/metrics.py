"""``--metrics HOST:PORT``: a Prometheus endpoint for a daemon, served from a thread of its own.

prometheus_client is the Prometheus project's own Python client: its text
format and metric types are the ones every scraper expects, and its
server is a small thread, which fits daemons that are not all asyncio.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.registry import Collector

from ovn_inject.errors import OvnInjectError


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT``) or ``PORT`` (on 127.0.0.1)."""
    host, _, port_text = text.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise OvnInjectError(f"bad --metrics '{text}': expected HOST:PORT, like 127.0.0.1:9470")
    return host, int(port_text)


def serve_metrics(address: str, *collectors: Collector) -> int:
    """Serve the process's metrics (and ``collectors``) at ``address``; returns the port bound."""
    host, port = parse_address(address)
    for collector in collectors:
        REGISTRY.register(collector)
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        raise OvnInjectError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    bound = int(server.server_address[1])
    logging.getLogger("ovn_inject").info("metrics on http://%s:%d/metrics", host, bound)
    return bound
