"""Token rows read from OVN_Inject on the event loop, the reads of one loop turn in one round trip.

A token is read from the server on every request (never from the IDL's
replica), so that a token revoked a moment ago fails on the very next
request. Done from a worker thread with a blocking JSON-RPC connection,
that read cost two thread hand-offs per request, which were most of the
gateway's CPU per request under load. Here one asyncio connection carries
them: every read asked for while the loop runs other callbacks goes out in
one ``transact`` of ``select`` operations, and the answer resolves each
reader's future. ovsdb-server answers a transact after every transaction
committed before it, so a revocation acknowledged to its writer is seen.

Only ``unix:`` and ``tcp:`` remotes are spoken here; for any other (``ssl:``)
:attr:`TokenReads.usable` is False and the caller reads through a thread, as
it does when a read here fails. Messages are split by the project's
linear-time parser (``ovs_json.MessageStream``), as the CLI's one-shot reads are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Any

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.rpc import connect_unix, unix_path
from ovn_inject.ovs_json import MessageStream

COLUMNS = ["_uuid", "service", "secret_hash", "expires"]  # _uuid: the row in the IDL's replica
#: At most this many tokens in one transact (a bound on one message).
MAX_BATCH = 512


Readers = dict[str, list[asyncio.Future[dict[str, Any] | None]]]  # public id -> the reads waiting on it


@dataclass
class _InFlight:
    """One transact sent and not answered yet: its readers, and the timer that gives up on it."""

    readers: Readers
    timer: asyncio.TimerHandle


def _addresses(remote: str) -> list[tuple[str, str, int]]:
    """(kind, host or path, port) of each ``unix:``/``tcp:`` part of ``remote``; [] if any is another kind."""
    out: list[tuple[str, str, int]] = []
    for part in (p.strip() for p in remote.split(",") if p.strip()):
        kind, _, rest = part.partition(":")
        if kind == "unix" and rest:
            out.append(("unix", unix_path(rest), 0))
        elif kind == "tcp" and rest:
            host, _, port = rest.rpartition(":")
            if not host or not port.isdigit():
                return []
            out.append(("tcp", host.strip("[]"), int(port)))
        else:
            return []
    return out


class TokenReads:
    """One asyncio JSON-RPC connection to OVN_Inject's server, for token reads only."""

    def __init__(self, remote: str, timeout: float) -> None:
        self.remote = remote
        self.timeout = timeout
        self._addresses = _addresses(remote)
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Lock | None = None
        self._pending: Readers = {}
        self._flushing = False
        self._inflight: dict[int, _InFlight] = {}  # by the transact's id
        self._next_id = 0

    @property
    def usable(self) -> bool:
        return bool(self._addresses)

    async def read(self, public_id: str) -> dict[str, Any] | None:
        """The token's row (service, secret_hash, expires) as the server has it now, or None."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self._pending.setdefault(public_id, []).append(future)
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush_soon)  # after the loop's other callbacks: their reads join
        return await future  # bounded by the batch's timer (_send), or failed with the connection

    def _flush_soon(self) -> None:
        if self._writer is None or self._writer.is_closing():
            asyncio.get_running_loop().create_task(self._flush())  # connect first
            return
        self._send_pending()

    async def _flush(self) -> None:
        try:
            await self._connect()
        except (OSError, RuntimeError) as exc:
            self._failed(exc)
            return
        self._send_pending()

    def _send_pending(self) -> None:
        try:
            while self._pending:
                ids = list(self._pending)[:MAX_BATCH]
                self._send({public_id: self._pending.pop(public_id) for public_id in ids})
        except (OSError, RuntimeError) as exc:  # RuntimeError: uvloop's write on a transport it closed
            self._failed(exc)
        finally:
            self._flushing = False

    def _failed(self, exc: BaseException) -> None:
        self._flushing = False
        error = InjectDbError(f"cannot reach {INJECT_DB_NAME} at {self.remote}: {exc}")
        self._fail(self._pending, error)
        self._pending = {}
        self._drop(error)

    def _send(self, batch: Readers) -> None:
        self._next_id += 1
        ops = [
            {"op": "select", "table": "Token", "where": [["public_id", "==", p]], "columns": COLUMNS}
            for p in batch
        ]
        message = {"id": self._next_id, "method": "transact", "params": [INJECT_DB_NAME, *ops]}
        writer = self._writer
        assert writer is not None
        # One timer a batch, not one a read: a read's own timeout was ~4% of a write's CPU.
        timer = asyncio.get_running_loop().call_later(self.timeout, self._late, self._next_id, writer)
        self._inflight[self._next_id] = _InFlight(batch, timer)
        writer.write(json.dumps(message).encode())

    def _late(self, request_id: int, writer: asyncio.StreamWriter) -> None:
        if request_id in self._inflight and writer is self._writer:
            # A connection that stopped answering is not used again: every read on it fails.
            error = InjectDbError(f"{INJECT_DB_NAME} at {self.remote} did not answer in {self.timeout:g} s")
            self._drop(error)

    async def _connect(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            return
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None and not self._writer.is_closing():
                return
            problems: list[str] = []
            for kind, where, port in self._addresses:
                try:
                    if kind == "unix":  # connecting a unix socket does not block
                        reader, writer = await asyncio.open_unix_connection(sock=_unix_socket(where))
                    else:
                        reader, writer = await asyncio.wait_for(
                            asyncio.open_connection(where, port), self.timeout
                        )
                except (OSError, TimeoutError) as exc:
                    problems.append(f"{kind}:{where}{f':{port}' if port else ''}: {exc}")
                    continue
                self._writer = writer
                self._reader_task = asyncio.get_running_loop().create_task(self._receive(reader, writer))
                return
            raise OSError("; ".join(problems) or "no address")

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = MessageStream()
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    raise InjectDbError(f"{INJECT_DB_NAME} at {self.remote} closed the connection")
                for message in stream.feed(chunk):
                    if not isinstance(message, dict):  # the parser's complaint about the stream
                        raise InjectDbError(f"{INJECT_DB_NAME} at {self.remote} sent {message}")
                    self._handle(message, writer)
        except (OSError, InjectDbError, UnicodeDecodeError) as exc:
            error = exc if isinstance(exc, InjectDbError) else InjectDbError(f"lost {INJECT_DB_NAME}: {exc}")
            if self._writer is writer:
                self._drop(error)

    def _handle(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        if message.get("method") == "echo":  # the server's inactivity probe
            reply = {"id": message.get("id"), "result": message.get("params", []), "error": None}
            writer.write(json.dumps(reply).encode())
            return
        inflight = self._inflight.pop(message.get("id"), None)  # type: ignore[arg-type]
        if inflight is None:
            return
        inflight.timer.cancel()
        batch = inflight.readers
        results = message.get("result")
        if message.get("error") is not None or not isinstance(results, list):
            self._fail(batch, InjectDbError(f"{INJECT_DB_NAME} refused a token read: {message.get('error')}"))
            return
        for (public_id, futures), result in zip(batch.items(), results, strict=False):
            rows = result.get("rows") if isinstance(result, dict) else None
            if rows is None:
                self._fail({public_id: futures}, InjectDbError(f"token read failed: {result}"))
                continue
            for future in futures:
                if not future.done():
                    future.set_result(rows[0] if rows else None)

    def _drop(self, error: InjectDbError) -> None:
        """The connection is gone: every read in flight fails (the next read connects again)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        if self._reader_task is not None and self._reader_task is not asyncio.current_task():
            self._reader_task.cancel()
        self._reader_task = None
        for inflight in self._inflight.values():
            inflight.timer.cancel()
            self._fail(inflight.readers, error)
        self._inflight = {}

    @staticmethod
    def _fail(batch: Readers, error: Exception) -> None:
        for futures in batch.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)


def _unix_socket(path: str) -> socket.socket:
    """Connected through db.rpc's helper (a path longer than sockaddr_un holds works too); the loop
    needs it non-blocking, and uvloop does not make it so."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connect_unix(sock, path)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
