"""The northd gate's server: one upstream OVSDB connection per northd connection.

Each accepted connection gets its own upstream, picked from the remotes in
turn: a remote that refuses, or (by default) a clustered member that is not
the leader, is skipped, as ovn-northd itself would do. When either side
closes or breaks the protocol, the gate closes both sides of that session
only, and northd reconnects to a fresh session that learns the hidden rows
again from a full snapshot.

Forwarding runs in asyncio protocol callbacks (no task switch per message):
bytes are framed, filtered and written to the other side in the callback
that received them, and a full write buffer pauses reading on the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

from ovn_inject.constants import OWNER_KEY
from ovn_inject.db.ssl_options import SslOptions
from ovn_inject.errors import OvnInjectError
from ovn_inject.gate.filter import ProtocolError
from ovn_inject.gate.framing import FramingError, JsonStreamFramer
from ovn_inject.gate.session import GateSession, decode, encode
from ovn_inject.vlog import RateLimit

log = logging.getLogger("ovn_inject.gate")

PROBE_ID = "ovn-inject-sbgate-probe"


class GateConfigError(OvnInjectError):
    """A --listen or --remote address the gate cannot use."""


@dataclass(frozen=True)
class Endpoint:
    """An OVSDB address: ``unix:PATH``, ``tcp:HOST:PORT``, ``ssl:HOST:PORT`` (``p`` prefix to listen)."""

    kind: str  # "unix", "tcp" or "ssl"
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}:{host}:{self.port}"


def parse_remote(text: str) -> Endpoint:
    """``unix:PATH``, ``tcp:HOST:PORT`` or ``ssl:HOST:PORT``."""
    kind, _, rest = text.partition(":")
    if kind == "unix" and rest:
        return Endpoint("unix", path=rest)
    if kind in ("tcp", "ssl"):
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return Endpoint(kind, host=host.strip("[]"), port=int(port))
    raise GateConfigError(f"remote '{text}' is not unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT")


def parse_remotes(texts: Sequence[str]) -> list[Endpoint]:
    remotes = [parse_remote(part) for text in texts for part in text.split(",") if part]
    if not remotes:
        raise GateConfigError("give at least one --remote (e.g. unix:/var/run/ovn/ovnsb_db.sock)")
    return remotes


def parse_listen(text: str) -> Endpoint:
    """``punix:PATH``, ``ptcp:PORT[:HOST]`` or ``pssl:PORT[:HOST]`` (host defaults to 127.0.0.1)."""
    kind, _, rest = text.partition(":")
    if kind == "punix" and rest:
        return Endpoint("unix", path=rest)
    if kind in ("ptcp", "pssl"):
        port, _, host = rest.partition(":")
        if port.isdigit():
            return Endpoint(kind[1:], host=host.strip("[]") or "127.0.0.1", port=int(port))
    raise GateConfigError(
        f"listen address '{text}' is not punix:PATH or ptcp:PORT[:HOST] (pssl:PORT[:HOST] for SSL)"
    )


Transform = Callable[[bytes], bytes]


class _Half(asyncio.Protocol):
    """One connection of a session; forwards what it receives to its peer."""

    def __init__(self, pipe: _Pipe | None = None, on_made: Callable[[_Half], None] | None = None) -> None:
        self.pipe = pipe
        self.on_made = on_made
        self.transport: asyncio.Transport | None = None
        self.framer = JsonStreamFramer()
        self.transform: Transform | None = None  # None: not forwarding yet (probing)
        self.peer: _Half | None = None
        self.record = False
        self.probe: asyncio.Future[str | None] | None = None
        self.early: list[bytes] = []  # messages after the probe reply, before forwarding starts

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.framer.feed(data)
            if self.transform is None:
                self._probing(messages)
                return
            self._forward([self.transform(raw) for raw in messages])
        except (FramingError, ProtocolError) as exc:
            self._fail(f"broke the protocol: {exc}")
        except Exception as exc:  # a bug must cost one session, never the gate
            log.exception("internal error")
            self._fail(f"hit an internal error: {exc}")

    def start_forwarding(self, transform: Transform, peer: _Half, record: bool) -> None:
        self.transform, self.peer, self.record = transform, peer, record
        early, self.early = self.early, []
        if early:
            self._forward([transform(raw) for raw in early])

    def _forward(self, out: list[bytes]) -> None:
        if not out:
            return
        assert self.peer is not None and self.peer.transport is not None and self.pipe is not None
        self.peer.transport.writelines(out)
        if self.record:
            self.pipe.record(out)

    def _probing(self, messages: list[bytes]) -> None:
        for raw in messages:
            if self.probe is not None and not self.probe.done():
                reply = decode(raw)
                if reply.get("id") == PROBE_ID:
                    self.probe.set_result(_probe_verdict(reply))
                continue
            self.early.append(raw)

    def _fail(self, reason: str) -> None:
        if self.pipe is not None:
            self.pipe.close(self, reason, abort=True)
        elif self.transport is not None:
            self.transport.abort()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.probe is not None and not self.probe.done():
            self.probe.set_result("closed the connection")
        if self.pipe is not None:
            self.pipe.close(self, f"failed: {exc}" if exc else "closed the connection")

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


def _probe_verdict(reply: dict[str, object]) -> str | None:
    """None if the server may serve northd; else why not (a follower, a cut-off member)."""
    if reply.get("error") is not None:
        return None  # a server without _Server: nothing to check
    results = reply.get("result")
    for result in results if isinstance(results, list) else []:
        for row in result.get("rows", []) if isinstance(result, dict) else []:
            leads = row.get("leader") and row.get("connected")
            if row.get("model") == "clustered" and not leads:
                return f"database {row.get('name')} is a clustered member that is not the leader"
    return None


class _Pipe:
    """One northd session: its two connections and its filtering state."""

    def __init__(self, gate: NorthdGate, number: int, northd: _Half) -> None:
        self.gate = gate
        self.number = number
        self.northd = northd
        self.upstream: _Half | None = None
        self.remote = ""
        self.session = GateSession(owner_key=gate.owner_key)
        self.closed = False
        northd.pipe = self

    def splice(self, upstream: _Half, remote: Endpoint) -> None:
        self.upstream, self.remote = upstream, str(remote)
        upstream.pipe = self
        self.upstream.start_forwarding(self.session.from_server, self.northd, record=True)
        self.northd.start_forwarding(self.session.from_client, upstream, record=False)
        log.info("session %d: northd connected, upstream %s", self.number, remote)
        assert self.northd.transport is not None
        self.northd.transport.resume_reading()

    def record(self, messages: list[bytes]) -> None:
        self.gate.record(messages)

    def close(self, side: _Half | None, reason: str, abort: bool = False) -> None:
        """Close both connections once; ``abort`` drops unsent data (after a protocol error)."""
        if self.closed:
            return
        self.closed = True
        who = "northd" if side is self.northd else f"upstream {self.remote}" if side else "gate"
        log.info("session %d: closing: %s %s (%d rows hidden)", self.number, who, reason,
                 self.session.hidden_count)  # fmt: skip
        for half in (self.northd, self.upstream):
            if half is not None and half.transport is not None:
                if abort:
                    half.transport.abort()
                else:
                    half.transport.close()
        self.gate.forget(self)


class NorthdGate:
    """The gate as a library object: ``await gate.start()``, ``await gate.stop()``."""

    def __init__(
        self,
        listen: str,
        remotes: Sequence[str],
        owner_key: str = OWNER_KEY,
        leader_only: bool = True,
        record: Path | None = None,
        connect_timeout: float = 30.0,
        ssl_options: SslOptions | None = None,
    ) -> None:
        self.listen = parse_listen(listen)
        self.remotes = parse_remotes(remotes)
        self.ssl = ssl_options or SslOptions()
        self.ssl.require([f"{e.kind}:" for e in (self.listen, *self.remotes)])
        self._client_ssl: ssl.SSLContext | None = None
        self.owner_key = owner_key
        self.leader_only = leader_only
        self.connect_timeout = connect_timeout
        self._record: BinaryIO | None = record.open("ab") if record else None
        self._next_remote = 0
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[_Pipe] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.sessions_served = 0
        self._no_remote_log = RateLimit()  # northd retries at once: one warning per retry would flood

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with ``ptcp:0``)."""
        server = self._server
        assert isinstance(server, asyncio.Server) and server.sockets
        return int(server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if any(remote.kind == "ssl" for remote in self.remotes):
            self._client_ssl = self.ssl.client_context()
        if self.listen.kind == "unix":
            path = Path(self.listen.path)
            if path.is_socket():
                path.unlink()  # a stale socket of a previous gate, as OVS daemons do
            self._server = await loop.create_unix_server(self._accept, path=str(path))
        else:
            context = self.ssl.server_context() if self.listen.kind == "ssl" else None
            self._server = await loop.create_server(
                self._accept, self.listen.host, self.listen.port, ssl=context
            )
        log.info("listening on %s, upstream %s", self.bound, ", ".join(map(str, self.remotes)))

    @property
    def bound(self) -> Endpoint:
        """Where the gate listens, with the port it was given for port 0 (as ovsdb-server logs it)."""
        if self.listen.kind == "unix" or self._server is None:
            return self.listen
        return replace(self.listen, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for pipe in list(self._pipes):
            pipe.close(None, "stopping", abort=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        if self.listen.kind == "unix":
            with contextlib.suppress(OSError):
                os.unlink(self.listen.path)
        if self._record is not None:
            self._record.close()
            self._record = None

    async def serve_until_signalled(self) -> None:
        """Serve (after :meth:`start`) until SIGTERM or SIGINT, then stop cleanly."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
        await self.stop()

    def record(self, messages: list[bytes]) -> None:
        if self._record is not None:
            for raw in messages:
                self._record.write(raw + b"\n")
            self._record.flush()

    def forget(self, pipe: _Pipe) -> None:
        self._pipes.discard(pipe)

    def status_text(self) -> str:
        """``ovn-appctl status``: where the gate listens, its upstreams and northd's sessions."""
        lines = [
            f"listening: {self.bound}",
            f"upstream: {', '.join(map(str, self.remotes))}",
            f"sessions: {len(self._pipes)} open, {self.sessions_served} served",
        ]
        lines += [f"session {p.number}: upstream {p.remote or '(connecting)'}" for p in sorted(
            self._pipes, key=lambda p: p.number)]  # fmt: skip
        return "\n".join(lines) + "\n"

    # ---- sessions ----------------------------------------------------------------

    def _accept(self) -> _Half:
        # The session starts once connected (over SSL: once the handshake succeeded).
        return _Half(on_made=self._new_session)

    def _new_session(self, northd: _Half) -> None:
        assert northd.transport is not None
        northd.transport.pause_reading()  # northd's bytes wait for the upstream
        pipe = _Pipe(self, next(self._ids), northd)
        self._pipes.add(pipe)
        task = asyncio.get_running_loop().create_task(self._attach(pipe))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attach(self, pipe: _Pipe) -> None:
        """Give a new northd connection its upstream; northd's bytes wait until then."""
        try:
            found = await self._connect_upstream(pipe)
        except Exception:
            log.exception("session %d: internal error while connecting upstream", pipe.number)
            found = None
        if found is None or pipe.closed:
            if found is not None and found[0].transport is not None:
                found[0].transport.close()
            pipe.close(None, "has no usable upstream", abort=True)
            return
        self.sessions_served += 1
        pipe.splice(*found)

    async def _connect_upstream(self, pipe: _Pipe) -> tuple[_Half, Endpoint] | None:
        """Connect to the next usable remote, retrying until ``connect_timeout``."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.connect_timeout
        delay = 0.05
        while not pipe.closed:
            for _ in range(len(self.remotes)):
                remote = self.remotes[self._next_remote % len(self.remotes)]
                try:
                    half = await asyncio.wait_for(self._open(loop, remote), 2.0)
                except (TimeoutError, OSError) as exc:
                    log.debug("session %d: %s: %s", pipe.number, remote, exc)
                    self._next_remote += 1
                    continue
                verdict = await self._probe(half)
                if verdict is None:
                    return half, remote
                log.info("session %d: skipping %s: %s", pipe.number, remote, verdict)
                assert half.transport is not None
                half.transport.abort()
                self._next_remote += 1
            if time.monotonic() + delay > deadline:
                self._no_remote_log.log(log, logging.WARNING, "session %d: no usable remote among %s",
                                        pipe.number, ", ".join(map(str, self.remotes)))  # fmt: skip
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        return None

    async def _open(self, loop: asyncio.AbstractEventLoop, remote: Endpoint) -> _Half:
        if remote.kind == "unix":
            _, protocol = await loop.create_unix_connection(_Half, remote.path)
        elif remote.kind == "ssl":
            _, protocol = await loop.create_connection(
                _Half, remote.host, remote.port, ssl=self._client_ssl, server_hostname=""
            )
        else:
            _, protocol = await loop.create_connection(_Half, remote.host, remote.port)
        return protocol

    async def _probe(self, half: _Half) -> str | None:
        if not self.leader_only:
            return None
        assert half.transport is not None
        half.probe = asyncio.get_running_loop().create_future()
        query = {
            "op": "select",
            "table": "Database",
            "where": [],
            "columns": ["name", "model", "connected", "leader"],
        }
        half.transport.write(encode({"method": "transact", "params": ["_Server", query], "id": PROBE_ID}))
        try:
            return await asyncio.wait_for(asyncio.shield(half.probe), 2.0)
        except TimeoutError:
            return "did not answer within 2 s"
