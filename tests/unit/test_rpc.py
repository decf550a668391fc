"""The one-shot JSON-RPC client: requests sent ahead of their replies, answered in any order."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.rpc import Rpc, RpcError


def _server(path: Path, answer: list[dict[str, object]], requests: int) -> threading.Thread:
    """A server that reads ``requests`` requests, then writes ``answer`` (each reply's id taken from them)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        decoder, buffer, ids = json.JSONDecoder(), "", []
        while len(ids) < requests:
            buffer += connection.recv(65536).decode()
            while buffer:
                try:
                    message, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                ids.append(message["id"])
                buffer = buffer[end:]
        for message in answer:
            reply = dict(message)
            if isinstance(reply.get("id"), str) and str(reply["id"]).startswith("#"):
                reply["id"] = ids[int(str(reply["id"])[1:])]
            connection.sendall(json.dumps(reply).encode())
        connection.recv(1)  # until the client closes
        connection.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_replies_in_any_order_reach_their_request(tmp_path: Path) -> None:
    path = tmp_path / "db.sock"
    thread = _server(
        path,
        [
            {"id": None, "method": "update3", "params": []},  # a notification: ignored
            {"id": "#1", "result": "second", "error": None},
            {"id": 99, "result": "nothing asked", "error": None},
            {"id": "#0", "result": "first", "error": None},
            {"id": "#2", "result": None, "error": "syntax error"},
        ],
        requests=3,
    )
    with Rpc(f"unix:{path}", 10, "OVN_Inject") as rpc:
        first, second, third = rpc.send("a", []), rpc.send("b", []), rpc.send("c", [])
        assert rpc.reply(first) == "first"
        assert rpc.reply(second) == "second"
        with pytest.raises(RpcError, match="OVN_Northbound"):
            rpc.reply(third, what="OVN_Northbound")
    thread.join(10)


def test_a_reply_that_never_comes_names_the_database_asked(tmp_path: Path) -> None:
    path = tmp_path / "db.sock"
    thread = _server(path, [], requests=1)
    with Rpc(f"unix:{path}", 10, "OVN_Inject") as rpc, pytest.raises(InjectDbError) as caught:
        rpc.reply(rpc.send("a", []), timeout=0.05, what="OVN_Northbound")
    assert str(caught.value).startswith("OVN_Northbound at unix:")
    thread.join(10)
