"""One-shot OVSDB JSON-RPC requests (get_schema, read-only selects) with a deadline.

For checks that read a few rows, a ``select`` is far cheaper than an IDL
that monitors whole tables: ``attach-add`` on an NB with 10,000 ports reads
one port and its switch, not all of them.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from typing import Any

import ovs.jsonrpc
import ovs.poller
import ovs.stream

from ovn_inject.db.errors import InjectDbError


class Rpc:
    """A JSON-RPC connection to the first reachable server of ``remote`` (comma-separated)."""

    def __init__(self, remote: str, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what
        problems = []
        for single in (r.strip() for r in remote.split(",") if r.strip()):
            error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(single), int(timeout * 1000))
            if not error:
                self.remote = single
                self._rpc = ovs.jsonrpc.Connection(stream)
                return
            problems.append(f"{single}: {_failure(single, error)}")
        raise InjectDbError(f"cannot reach {what}: {'; '.join(problems) or 'no remote given'}")

    def close(self) -> None:
        self._rpc.close()

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, params: list[Any]) -> Any:
        """Send one request and return its result; JSON-RPC errors are raised as InjectDbError."""
        message = ovs.jsonrpc.Message.create_request(method, params)
        error = self._rpc.send(message)
        deadline = time.monotonic() + self.timeout
        while not error:
            error, reply = self._rpc.recv()
            if error == errno.EAGAIN:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise InjectDbError(
                        f"{self.what} at {self.remote} did not answer within {self.timeout:g} s"
                    )
                self._rpc.run()
                poller = ovs.poller.Poller()
                self._rpc.wait(poller)
                self._rpc.recv_wait(poller)
                poller.timer_wait(int(remaining * 1000) + 1)
                poller.block()
                error = 0
                continue
            if error:
                break
            if reply is not None and reply.id == message.id:
                if reply.type == ovs.jsonrpc.Message.T_ERROR or reply.error is not None:
                    raise RpcError(self.what, self.remote, reply.error)
                return reply.result
        raise InjectDbError(f"lost {self.what} at {self.remote}: {_failure(self.remote, error)}")

    def select(self, database: str, table: str, where: list[Any], columns: list[str]) -> list[dict[str, Any]]:
        op = {"op": "select", "table": table, "where": where, "columns": columns}
        [result] = self.request("transact", [database, op])
        if "error" in result:
            raise InjectDbError(f"{self.what}: select on {table} failed: {result['error']}")
        rows: list[dict[str, Any]] = result["rows"]
        return rows


def _failure(remote: str, error: int) -> str:
    """Why ``remote`` failed; for ``ssl:``, whether TCP itself failed or the SSL handshake did.

    python-ovs reports both as a bare errno, often a meaningless one (EPERM, ENOEXEC).
    """
    if not remote.startswith("ssl:"):
        return os.strerror(error)
    host, _, port = remote.removeprefix("ssl:").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=2).close()
    except (OSError, ValueError) as exc:
        return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return "SSL refused (the server must trust the CA of --certificate, and --ca-cert must be its CA)"


class RpcError(InjectDbError):
    def __init__(self, what: str, remote: str, error: Any) -> None:
        super().__init__(f"{what} at {remote} refused the request: {error}")
        self.error = error


def ovsdb_map(datum: Any) -> dict[str, str]:
    """An OVSDB ``["map", [[k, v], ...]]`` as a dict."""
    if isinstance(datum, list) and len(datum) == 2 and datum[0] == "map":
        return {str(k): str(v) for k, v in datum[1]}
    return {}
