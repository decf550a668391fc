"""The gateway's token reads on the event loop (gateway/tokenreads.py) against a real ovsdb-server.

Concurrent reads share one round trip, a revocation is seen by the next
read, and a restarted server is reconnected to (the reads meanwhile fail
with an error the gateway answers 503 for), and a server that stops answering
fails the reads in flight within the timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.schema import schema_path
from ovn_inject.gateway.tokenreads import TokenReads
from ovn_inject.sandbox import processes

pytestmark = pytest.mark.integration


def _client(*argv: str) -> str:
    done = subprocess.run(["ovsdb-client", *argv], check=True, capture_output=True, text=True, timeout=30)
    return done.stdout


def _serve(tmp_path: Path) -> int:
    sock = tmp_path / "db.sock"
    return processes.start_daemon(
        ["ovsdb-server", f"--remote=punix:{sock}", f"--unixctl={tmp_path / 'ctl'}", str(tmp_path / "db")],
        tmp_path,
        "ovsdb-server",
    )


@pytest.fixture(params=["short", "long"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """A server with 20 tokens; "long": its socket's path is longer than a sockaddr_un holds."""
    if request.param == "long":
        tmp_path = tmp_path / ("d" * 120)
        tmp_path.mkdir()
    processes.run(["ovsdb-tool", "create", str(tmp_path / "db"), str(schema_path())])
    pid = _serve(tmp_path)
    remote = f"unix:{tmp_path / 'db.sock'}"
    tokens = [
        {"op": "insert", "table": "Token", "uuid-name": f"t{n}",
         "row": {"public_id": f"t{n}", "secret_hash": f"h{n}", "service": ["named-uuid", "s"]}}
        for n in range(20)
    ]  # fmt: skip
    held = ["set", [["named-uuid", f"t{n}"] for n in range(20)]]  # tokens live while their service holds them
    service = {
        "op": "insert",
        "table": "Service",
        "uuid-name": "s",
        "row": {"name": "ips", "tenant": "a", "tokens": held},
    }
    _client("transact", remote, json.dumps([INJECT_DB_NAME, service, *tokens]))
    yield remote, tmp_path
    processes.stop_pids([pid, *filter(None, [processes.read_pid(tmp_path / "ovsdb-server.pid")])])


def test_concurrent_reads_share_a_round_trip_and_see_a_revocation(server: tuple[str, Path]) -> None:
    remote, _ = server
    reads = TokenReads(remote, 10.0)
    sent: list[int] = []
    original = reads._send

    def counting(batch: dict[str, list[asyncio.Future[dict[str, object] | None]]]) -> None:
        sent.append(len(batch))
        original(batch)

    reads._send = counting  # type: ignore[method-assign]

    async def scenario() -> None:
        ids = [f"t{n}" for n in range(20)] + ["nobody"]
        rows = await asyncio.gather(*(reads.read(public_id) for public_id in ids * 3))
        for public_id, row in zip(ids * 3, rows, strict=True):
            if public_id == "nobody":
                assert row is None
            else:
                assert row is not None and row["secret_hash"] == f"h{public_id[1:]}"
        assert sent == [len(ids)], "63 reads of 21 tokens in one loop turn are one transact of 21 selects"
        token = json.loads(
            _client(
                "query",
                remote,
                json.dumps(
                    [
                        INJECT_DB_NAME,
                        {
                            "op": "select",
                            "table": "Token",
                            "where": [["public_id", "==", "t3"]],
                            "columns": ["_uuid"],
                        },
                    ]
                ),
            )
        )
        delete = {
            "op": "mutate",
            "table": "Service",
            "where": [],
            "mutations": [["tokens", "delete", ["set", [token[0]["rows"][0]["_uuid"]]]]],
        }  # revoked: no longer held
        _client("transact", remote, json.dumps([INJECT_DB_NAME, delete]))
        assert await reads.read("t3") is None
        assert await reads.read("t4") is not None

    asyncio.run(scenario())


def test_a_restarted_server_is_reconnected_to(server: tuple[str, Path]) -> None:
    remote, rundir = server
    reads = TokenReads(remote, 10.0)

    async def scenario() -> None:
        assert await reads.read("t1") is not None
        processes.stop_pids([processes.read_pid(rundir / "ovsdb-server.pid") or 0])
        with pytest.raises(InjectDbError):
            await reads.read("t1")
        _serve(rundir)
        assert await reads.read("t1") is not None

    asyncio.run(scenario())


def test_a_server_that_stops_answering_fails_the_reads_in_flight_then_is_left(
    server: tuple[str, Path],
) -> None:
    """One deadline a batch: an answered batch leaves no timer, an unanswered one fails its reads."""
    remote, rundir = server
    reads = TokenReads(remote, 0.5)
    pid = processes.read_pid(rundir / "ovsdb-server.pid") or 0

    async def scenario() -> None:
        assert [r is not None for r in await asyncio.gather(*(reads.read(t) for t in ("t1", "t2")))] == [
            True,
            True,
        ]
        assert reads._inflight == {}
        first = reads._writer
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(InjectDbError, match=r"did not answer in 0\.5 s"):
                await asyncio.gather(reads.read("t1"), reads.read("t2"))
            assert reads._writer is None and reads._inflight == {}
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await reads.read("t1") is not None  # on a new connection
        assert reads._writer is not first

    asyncio.run(scenario())


def test_only_unix_and_tcp_remotes_are_read_on_the_loop() -> None:
    assert TokenReads("unix:/x.sock", 1).usable
    assert TokenReads("tcp:127.0.0.1:6641,tcp:127.0.0.1:6642", 1).usable
    assert not TokenReads("ssl:127.0.0.1:6641", 1).usable
    assert not TokenReads("tcp:127.0.0.1:6641,ssl:127.0.0.1:6642", 1).usable
