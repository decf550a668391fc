"""One-shot OVSDB JSON-RPC requests (get_schema, selects, transacts) with a deadline.

For checks that read a few rows, a ``select`` is far cheaper than an IDL
that monitors whole tables: ``attach-add`` on an NB with 10,000 ports reads
one port and its switch, not all of them.

``unix:`` and ``tcp:`` remotes are spoken with the standard library's socket
and JSON codec (their C cores, :mod:`ovn_inject.cjson`): python-ovs's stream,
poller and jsonrpc modules cost a CLI command more to import than its whole
request takes. So would the socket module's (enum conversions of its
constants, selectors: 2 ms of a flow-add); its C core ``_socket`` has every
call a blocking client makes. ``ssl:`` goes through python-ovs (its SSL setup
is :mod:`ovn_inject.db.ssl_options`').
"""

from __future__ import annotations

import _socket
import collections
import errno
import os
import time

from ovn_inject import cjson
from ovn_inject.db.errors import InjectDbError
from ovn_inject.ovs_json import MessageStream

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any


class Rpc:
    """A JSON-RPC connection to the first reachable server of ``remote`` (comma-separated)."""

    def __init__(self, remote: str, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what
        self._next_id = 0
        self._waiting: dict[int, dict[str, Any] | None] = {}  # sent, not yet returned: its reply once read
        problems = []
        for single in (r.strip() for r in remote.split(",") if r.strip()):
            try:
                self._link: _Plain | _Ovs = (
                    _Ovs(single, timeout) if single.startswith("ssl:") else _Plain(single, timeout)
                )
            except _Unreachable as exc:
                problems.append(f"{single}: {_failure(single, exc.error)}")
                continue
            self.remote = single
            return
        raise InjectDbError(f"cannot reach {what}: {'; '.join(problems) or 'no remote given'}")

    def close(self) -> None:
        self._link.close()

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, params: list[Any], timeout: float | None = None) -> Any:
        """Send one request and return its result; JSON-RPC errors are raised as :class:`RpcError`.

        ``timeout``: how long to wait for this reply (default: the connection's), e.g. a
        transaction whose ``wait`` operation the server holds until a condition is met.
        """
        return self.reply(self.send(method, params), timeout)

    def send(self, method: str, params: list[Any]) -> int:
        """Send a request without waiting for its reply; the id :meth:`reply` takes.

        A caller sends what it will need before work of its own (imports), and the
        server answers meanwhile.
        """
        self._next_id += 1
        ident = self._next_id
        try:
            self._link.send({"method": method, "params": params, "id": ident})
        except _Unreachable as exc:
            raise InjectDbError(
                f"lost {self.what} at {self.remote}: {_failure(self.remote, exc.error)}"
            ) from None
        self._waiting[ident] = None
        return ident

    def reply(self, ident: int, timeout: float | None = None, what: str | None = None) -> Any:
        """The result of the request :meth:`send` sent as ``ident``, waiting for it as :meth:`request` does.

        Replies to other requests sent meanwhile are kept for their own call. ``what``: the
        database errors name (default: the connection's), for a connection a second one shares.
        """
        what = what or self.what
        allowed = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + allowed
        try:
            while (message := self._waiting[ident]) is None:
                message = self._link.receive(deadline)
                if message is None:
                    raise InjectDbError(f"{what} at {self.remote} did not answer within {allowed:g} s")
                if message.get("method") == "echo" and "id" in message:
                    # The server's keepalive (TCP, SSL): a long wait must not look like a dead client.
                    self._link.send({"result": message.get("params"), "error": None, "id": message["id"]})
                    continue
                reply_to = message.get("id")
                if "method" in message or not isinstance(reply_to, int):
                    continue  # a notification, or the reply to nothing we asked
                if self._waiting.get(reply_to, 0) is None:  # a request sent and not answered yet
                    self._waiting[reply_to] = message
        except _Unreachable as exc:
            raise InjectDbError(f"lost {what} at {self.remote}: {_failure(self.remote, exc.error)}") from None
        del self._waiting[ident]
        if message.get("error") is not None:
            raise RpcError(what, self.remote, message["error"])
        return message.get("result")

    def select(self, database: str, table: str, where: list[Any], columns: list[str]) -> list[dict[str, Any]]:
        op = {"op": "select", "table": table, "where": where, "columns": columns}
        [result] = self.request("transact", [database, op])
        if "error" in result:
            raise InjectDbError(f"{self.what}: select on {table} failed: {result['error']}")
        rows: list[dict[str, Any]] = result["rows"]
        return rows


class _Unreachable(Exception):
    def __init__(self, error: int) -> None:
        super().__init__(error)
        self.error = error


class _Plain:
    """``unix:PATH`` or ``tcp:HOST:PORT`` over a plain socket; messages split by a linear-time parser."""

    def __init__(self, remote: str, timeout: float) -> None:
        scheme, _, rest = remote.partition(":")
        try:
            if scheme == "unix":
                self._socket = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                address: Any = unix_path(rest)
            elif scheme == "tcp":
                host, _, port = rest.rpartition(":")
                host = host.strip("[]")
                family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
                self._socket = _socket.socket(family, _socket.SOCK_STREAM)
                self._socket.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                address = (host, int(port))
            else:
                raise _Unreachable(errno.EAFNOSUPPORT)
        except (ValueError, OSError):
            raise _Unreachable(errno.EINVAL) from None
        try:
            self._socket.settimeout(timeout)
            self._connect(address)
        except OSError as exc:
            self._socket.close()
            raise _Unreachable(exc.errno or errno.ETIMEDOUT) from None
        self._stream = MessageStream()
        self._ready: collections.deque[Any] = collections.deque()

    def _connect(self, address: Any) -> None:
        if isinstance(address, str):
            connect_unix(self._socket, address)
        else:
            self._socket.connect(address)

    def close(self) -> None:
        self._socket.close()

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._socket.settimeout(None)
            self._socket.sendall(cjson.dumps(message).encode())
        except OSError as exc:
            raise _Unreachable(exc.errno or errno.EPIPE) from None

    def receive(self, deadline: float) -> dict[str, Any] | None:
        """The next whole message, or None once ``deadline`` (time.monotonic) has passed."""
        while not self._ready:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self._socket.settimeout(remaining)
                data = self._socket.recv(1 << 20)
            except TimeoutError:
                return None
            except OSError as exc:
                raise _Unreachable(exc.errno or errno.EIO) from None
            if not data:
                raise _Unreachable(0)
            self._ready.extend(self._stream.feed(data))
        value = self._ready.popleft()
        if not isinstance(value, dict):
            raise _Unreachable(errno.EPROTO)
        return value


class _Ovs:
    """python-ovs's stream and jsonrpc connection (``ssl:``)."""

    def __init__(self, remote: str, timeout: float) -> None:
        import ovs.jsonrpc
        import ovs.stream

        from ovn_inject import ovs_json

        ovs_json.install()
        error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote), int(timeout * 1000))
        if error:
            raise _Unreachable(error)
        self._rpc = ovs.jsonrpc.Connection(stream)

    def close(self) -> None:
        self._rpc.close()

    def send(self, message: dict[str, Any]) -> None:
        import ovs.jsonrpc

        if "method" in message:
            out = ovs.jsonrpc.Message.create_request(message["method"], message["params"])
            out.id = message["id"]
        else:
            out = ovs.jsonrpc.Message.create_reply(message["result"], message["id"])
        error = self._rpc.send(out)
        if error:
            raise _Unreachable(error)

    def receive(self, deadline: float) -> dict[str, Any] | None:
        import ovs.jsonrpc
        import ovs.poller

        while True:
            error, message = self._rpc.recv()
            if error == errno.EAGAIN:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._rpc.run()
                poller = ovs.poller.Poller()
                self._rpc.wait(poller)
                self._rpc.recv_wait(poller)
                poller.timer_wait(int(remaining * 1000) + 1)
                poller.block()
                continue
            if error:
                raise _Unreachable(error)
            if message is None:
                continue
            out: dict[str, Any] = {"id": message.id}
            if message.type in (ovs.jsonrpc.Message.T_REQUEST, ovs.jsonrpc.Message.T_NOTIFY):
                out.update(method=message.method, params=message.params)
            else:
                out.update(result=message.result, error=message.error)
                if message.type == ovs.jsonrpc.Message.T_ERROR and message.error is None:
                    out["error"] = "error"
            return out


#: Room for a path in sockaddr_un (108 bytes on Linux, with its terminating NUL).
_SUN_PATH_MAX = 108


def connect_unix(sock: _socket.socket, path: str) -> None:
    """Connect ``sock`` to ``path``; a path longer than sockaddr_un holds, through its directory's fd
    (as python-ovs does)."""
    if len(os.fsencode(path)) < _SUN_PATH_MAX:
        sock.connect(path)
        return
    directory = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        sock.connect(f"/proc/self/fd/{directory}/{os.path.basename(path)}")
    finally:
        os.close(directory)


def unix_path(path: str) -> str:
    """A relative socket name is in $OVS_RUNDIR, as python-ovs and OVS's tools read it."""
    if os.path.isabs(path):
        return path
    rundir = os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
    return os.path.join(rundir, path)


def _failure(remote: str, error: int) -> str:
    """Why ``remote`` failed; for ``ssl:``, whether TCP itself failed or the SSL handshake did.

    python-ovs reports both as a bare errno, often a meaningless one (EPERM, ENOEXEC).
    """
    if not remote.startswith("ssl:"):
        return os.strerror(error) if error else "connection closed"
    import socket

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
