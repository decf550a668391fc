"""The northd gate's server: one upstream OVSDB connection per northd connection.

Each accepted connection gets its own upstream, picked from the remotes in
turn: a remote that refuses, or (by default) a clustered member that is not
the leader, is skipped, as ovn-northd itself would do. When either side
closes or breaks the protocol, the gate closes both sides of that session
only, and northd reconnects to a fresh session that learns the hidden rows
again from a full snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ovn_inject.constants import OWNER_KEY
from ovn_inject.errors import OvnInjectError
from ovn_inject.gate.filter import ProtocolError
from ovn_inject.gate.framing import FramingError, JsonStreamFramer
from ovn_inject.gate.session import GateSession, decode, encode

log = logging.getLogger("ovn_inject.gate")

READ_SIZE = 1 << 20
PROBE_ID = "ovn-inject-sbgate-probe"


class GateConfigError(OvnInjectError):
    """A --listen or --remote address the gate cannot use."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed OVSDB address: ``unix:PATH`` / ``tcp:HOST:PORT`` (``p`` prefix to listen)."""

    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"


def parse_remote(text: str) -> Endpoint:
    """``unix:PATH`` or ``tcp:HOST:PORT``."""
    kind, _, rest = text.partition(":")
    if kind == "unix" and rest:
        return Endpoint("unix", path=rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return Endpoint("tcp", host=host.strip("[]"), port=int(port))
    raise GateConfigError(f"remote '{text}' is not unix:PATH or tcp:HOST:PORT (ssl is not supported)")


def parse_remotes(texts: Sequence[str]) -> list[Endpoint]:
    remotes = [parse_remote(part) for text in texts for part in text.split(",") if part]
    if not remotes:
        raise GateConfigError("give at least one --remote (e.g. unix:/var/run/ovn/ovnsb_db.sock)")
    return remotes


def parse_listen(text: str) -> Endpoint:
    """``punix:PATH`` or ``ptcp:PORT[:HOST]`` (host defaults to 127.0.0.1)."""
    kind, _, rest = text.partition(":")
    if kind == "punix" and rest:
        return Endpoint("unix", path=rest)
    if kind == "ptcp":
        port, _, host = rest.partition(":")
        if port.isdigit():
            return Endpoint("tcp", host=host.strip("[]") or "127.0.0.1", port=int(port))
    raise GateConfigError(f"listen address '{text}' is not punix:PATH or ptcp:PORT[:HOST]")


async def _open(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if endpoint.kind == "unix":
        return await asyncio.open_unix_connection(endpoint.path, limit=READ_SIZE)
    return await asyncio.open_connection(endpoint.host, endpoint.port, limit=READ_SIZE)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


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
    ) -> None:
        self.listen = parse_listen(listen)
        self.remotes = parse_remotes(remotes)
        self.owner_key = owner_key
        self.leader_only = leader_only
        self.connect_timeout = connect_timeout
        self._record: BinaryIO | None = record.open("ab") if record else None
        self._next_remote = 0
        self._server: asyncio.AbstractServer | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.sessions_served = 0

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with ``ptcp:0``)."""
        server = self._server
        assert isinstance(server, asyncio.Server) and server.sockets
        return int(server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if self.listen.kind == "unix":
            path = Path(self.listen.path)
            if path.is_socket():
                path.unlink()  # a stale socket of a previous gate, as OVS daemons do
            self._server = await asyncio.start_unix_server(self._accept, path=str(path), limit=READ_SIZE)
        else:
            self._server = await asyncio.start_server(
                self._accept, self.listen.host, self.listen.port, limit=READ_SIZE
            )
        log.info("listening on %s, upstream %s", self.listen, ", ".join(map(str, self.remotes)))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
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

    # ---- sessions ----------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        number = next(self._ids)
        try:
            await self._session(number, reader, writer)
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug must cost one session, never the gate
            log.exception("session %d: internal error; closing it", number)
        finally:
            _close(writer)
            self._sessions.discard(task)

    async def _session(self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect_upstream(number, reader)
        if upstream is None:
            return
        up_reader, up_writer, up_framer, remote = upstream
        self.sessions_served += 1
        session = GateSession(owner_key=self.owner_key)
        log.info("session %d: northd connected, upstream %s", number, remote)
        to_server = asyncio.create_task(
            self._pump(reader, up_writer, JsonStreamFramer(), session.from_client, None)
        )
        to_client = asyncio.create_task(self._pump(up_reader, writer, up_framer, session.from_server, True))
        try:
            done, _ = await asyncio.wait({to_server, to_client}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                reason = task.result()
                side = "northd" if task is to_server else f"upstream {remote}"
                log.info(
                    "session %d: closing: %s %s (%d rows hidden)", number, side, reason, session.hidden_count
                )
        finally:
            for task in (to_server, to_client):
                task.cancel()
            await asyncio.gather(to_server, to_client, return_exceptions=True)
            _close(up_writer)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        framer: JsonStreamFramer,
        transform: object,
        record: bool | None,
        pending: list[bytes] | None = None,
    ) -> str:
        """Copy messages from ``reader`` to ``writer`` through ``transform``; return why it stopped."""
        assert callable(transform)
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    return "closed the connection"
                out = [transform(raw) for raw in framer.feed(data)]
                if out:
                    writer.writelines(out)
                    if record and self._record is not None:
                        for raw in out:
                            self._record.write(raw + b"\n")
                        self._record.flush()
                    await writer.drain()
        except (FramingError, ProtocolError) as exc:
            return f"broke the protocol: {exc}"
        except (ConnectionError, OSError) as exc:
            return f"failed: {exc}"

    async def _connect_upstream(
        self, number: int, client: asyncio.StreamReader
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, JsonStreamFramer, Endpoint] | None:
        """Connect to the next usable remote, retrying until ``connect_timeout``."""
        deadline = time.monotonic() + self.connect_timeout
        delay = 0.05
        while True:
            for _ in range(len(self.remotes)):
                remote = self.remotes[self._next_remote % len(self.remotes)]
                try:
                    reader, writer = await asyncio.wait_for(_open(remote), 2.0)
                except (TimeoutError, OSError) as exc:
                    log.debug("session %d: %s: %s", number, remote, exc)
                    self._next_remote += 1
                    continue
                framer = JsonStreamFramer()
                try:
                    usable = await asyncio.wait_for(self._probe(reader, writer, framer), 2.0)
                except (TimeoutError, OSError, FramingError, ProtocolError) as exc:
                    usable = f"probe failed: {exc}"
                if usable is None:
                    return reader, writer, framer, remote
                log.info("session %d: skipping %s: %s", number, remote, usable)
                _close(writer)
                self._next_remote += 1
            if time.monotonic() + delay > deadline or client.at_eof():
                log.warning(
                    "session %d: no usable remote among %s; closing",
                    number,
                    ", ".join(map(str, self.remotes)),
                )
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _probe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framer: JsonStreamFramer
    ) -> str | None:
        """None if this server may serve northd; else why not (a follower, a cut-off member)."""
        if not self.leader_only:
            return None
        query = {
            "op": "select",
            "table": "Database",
            "where": [],
            "columns": ["name", "model", "connected", "leader"],
        }
        writer.write(encode({"method": "transact", "params": ["_Server", query], "id": PROBE_ID}))
        await writer.drain()
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                return "closed the connection"
            for raw in framer.feed(data):
                reply = decode(raw)
                if reply.get("id") != PROBE_ID:
                    continue  # e.g. an echo request; nothing else is expected yet
                if reply.get("error") is not None:
                    return None  # a server without _Server: nothing to check
                for result in reply.get("result") or []:
                    for row in result.get("rows", []) if isinstance(result, dict) else []:
                        leads = row.get("leader") and row.get("connected")
                        if row.get("model") == "clustered" and not leads:
                            return f"database {row.get('name')} is a clustered member that is not the leader"
                return None
