"""Serve the gateway with uvicorn, as a daemon that reports ready once it listens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from ovn_inject import gcpolicy
from ovn_inject.audit import AuditLog
from ovn_inject.errors import OvnInjectError
from ovn_inject.gateway.app import create_app
from ovn_inject.gateway.limits import Limits, guarded_protocol
from ovn_inject.gateway.state import GatewayState, Options

LOG = logging.getLogger("ovn_inject.gateway")
#: On SIGTERM, requests still running after this long are cancelled (waits end at once already).
SHUTDOWN_GRACE_SECONDS = 1


class _Server(uvicorn.Server):
    """uvicorn that stops on SIGTERM/SIGINT and returns.

    uvicorn's own handling re-raises the signal once it has shut down, which
    kills the process before our cleanup runs (a stale pidfile, IDL threads
    not stopped); here the signal only asks the server to exit, and
    ``on_stop`` ends the requests that wait for the compiler.
    """

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    def _stop(self, sig: int) -> None:
        LOG.info("%s: stopping", signal.Signals(sig).name)
        self.should_exit = True
        self._on_stop()


@dataclass(frozen=True)
class Tls:
    private_key: Path
    certificate: Path
    ca_cert: Path | None = None
    client_cert: str = "required"  # with ca_cert: "required" or "optional" (checked when presented)

    @property
    def cert_reqs(self) -> int:
        if self.ca_cert is None:
            return ssl.CERT_NONE
        return ssl.CERT_OPTIONAL if self.client_cert == "optional" else ssl.CERT_REQUIRED


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``PORT`` (on 127.0.0.1)."""
    host, _, port_text = text.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise OvnInjectError(f"bad --listen '{text}': expected HOST:PORT, like 127.0.0.1:8470")
    return host, int(port_text)


async def serve(
    options: Options,
    listen: str,
    tls: Tls | None,
    ready: Callable[[], None],
    limits: Limits | None = None,
    audit_log: Path | None = None,
    metrics: str | None = None,
    listening: Callable[[str], None] | None = None,
) -> None:
    """``listening``, if given, is told the ``HOST:PORT`` bound (the port of ``HOST:0`` is the kernel's)."""
    host, port = parse_listen(listen)
    limits = limits or Limits()
    if os.environ.get("OVN_INJECT_GC") != "default":  # the interpreter's own policy, to compare
        gcpolicy.install()
    audit = AuditLog(audit_log) if audit_log is not None else None
    state = await asyncio.to_thread(GatewayState, options)
    try:
        app = create_app(state, limits, audit)
        if metrics is not None:
            from ovn_inject.gateway.observe import GatewayCollector
            from ovn_inject.metrics import serve_metrics

            serve_metrics(metrics, GatewayCollector(state, app.state.waits))
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            ssl_keyfile=str(tls.private_key) if tls else None,
            ssl_certfile=str(tls.certificate) if tls else None,
            ssl_ca_certs=str(tls.ca_cert) if tls and tls.ca_cert else None,
            ssl_cert_reqs=tls.cert_reqs if tls else ssl.CERT_NONE,
            # A client that trickles its headers is dropped (the body has its own deadline in the app);
            # an idle kept-alive connection goes after a while.
            http=guarded_protocol(limits.header_timeout),
            timeout_keep_alive=5,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
        server = _Server(config, state.stopping)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise OvnInjectError(f"the gateway could not listen on {host}:{port}")
            await asyncio.sleep(0.01)
        scheme = "https" if tls else "http"
        for sock in server.servers[0].sockets if server.servers else []:
            bound = sock.getsockname()
            LOG.info("listening on %s://%s:%d", scheme, bound[0], bound[1])
            if listening is not None:
                listening(f"{bound[0]}:{bound[1]}")
        ready()
        await task
    finally:
        state.close()
        if audit is not None:
            audit.close()
