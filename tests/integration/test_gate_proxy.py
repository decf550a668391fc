"""The gate process on its own, in front of a real SB ovsdb-server: sessions fail alone."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.sandbox import processes
from ovn_inject.sandbox.processes import find_schema

pytestmark = pytest.mark.integration


def start_sb(tmp_path: Path) -> tuple[Path, list[int]]:
    """A standalone SB ovsdb-server: its socket, and its pid in a list for the gate's to join."""
    db, sb_sock = tmp_path / "sb.db", tmp_path / "sb.sock"
    processes.run(["ovsdb-tool", "create", str(db), str(find_schema("ovn-sb.ovsschema"))])
    argv = ["ovsdb-server", f"--unixctl={tmp_path / 'sb.ctl'}", f"--remote=punix:{sb_sock}", str(db)]
    return sb_sock, [processes.start_daemon(argv, tmp_path, "sb")]


@pytest.fixture
def sb_and_gate(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A standalone SB ovsdb-server and a detached gate in front of it; yields both sockets."""
    gate_sock = tmp_path / "gate.sock"
    sb_sock, pids = start_sb(tmp_path)
    try:
        gate = [sys.executable, "-m", "ovn_inject", "sbgate", f"--listen=punix:{gate_sock}"]
        gate += ["--sb-db", f"unix:{tmp_path / 'nowhere.sock'},unix:{sb_sock}", "--detach"]
        gate += [f"--pidfile={tmp_path / 'gate.pid'}", f"--log-file={tmp_path / 'gate.log'}"]
        subprocess.run(gate, check=True, timeout=20)
        pid = processes.read_pid(tmp_path / "gate.pid")
        assert pid is not None
        pids.append(pid)
        yield sb_sock, gate_sock
    finally:
        assert not processes.stop_pids(pids)


def send(gate_sock: Path, payload: bytes, first: bytes = b"") -> bytes:
    """Send ``first`` and read its reply, then ``payload``; return all that came back until close (2 s)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(gate_sock))
        conn.settimeout(2.0)
        received = b""
        if first:
            conn.sendall(first)
            received = conn.recv(65536)
        conn.sendall(payload)
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except TimeoutError:
            pass
        return received


def ovsdb_client(gate_sock: Path, *args: str) -> str:
    return processes.run(["ovsdb-client", "--timeout=10", *args[:1], f"unix:{gate_sock}", *args[1:]]).stdout


def test_bad_sessions_close_alone_and_the_gate_keeps_serving(sb_and_gate: tuple[Path, Path]) -> None:
    _, gate_sock = sb_and_gate
    assert "OVN_Southbound" in ovsdb_client(gate_sock, "list-dbs")
    # send() returns once the gate closes the session that broke the protocol (after its answer).
    assert send(gate_sock, b"[not an object]", first=b'{"id":1,"method":"echo","params":[]}') == (
        b'{"id":1,"result":[],"error":null}'
    )
    send(gate_sock, b'{"id":2,"method":"echo","params":[}')
    assert "Logical_Flow" in ovsdb_client(gate_sock, "list-tables", "OVN_Southbound")
    log = (gate_sock.parent / "gate.log").read_text()
    assert log.count("broke the protocol") >= 2, log


def test_cli_refuses_bad_addresses(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "ovn_inject", "sbgate"]
    bad_listen = subprocess.run(
        [*cli, "--listen", "tcp:6642", "--sb-db", "unix:x"], capture_output=True, text=True
    )
    assert bad_listen.returncode == 1 and "punix:PATH or ptcp:PORT" in bad_listen.stderr
    bad_remote = subprocess.run(
        # --remote: the old spelling of --sb-db, still accepted.
        [*cli, "--listen", f"punix:{tmp_path / 'g.sock'}", "--remote", "ssl:1.2.3.4:6642"],
        capture_output=True,
        text=True,
    )
    assert bad_remote.returncode == 1 and "needs SSL: give --private-key" in bad_remote.stderr


def test_a_gate_on_port_0_logs_the_port_it_got_and_serves_there(tmp_path: Path) -> None:
    """The sandbox's SSL gate binds port 0 and reads its port back from this line (no port race)."""
    sb_sock, pids = start_sb(tmp_path)
    try:
        gate = [sys.executable, "-m", "ovn_inject", "sbgate", "--listen=ptcp:0:127.0.0.1"]
        gate += ["--sb-db", f"unix:{sb_sock}", "--detach", f"--unixctl={tmp_path / 'gate.ctl'}"]
        gate += [f"--pidfile={tmp_path / 'gate.pid'}", f"--log-file={tmp_path / 'gate.log'}"]
        subprocess.run(gate, check=True, timeout=20)
        pid = processes.read_pid(tmp_path / "gate.pid")
        assert pid is not None
        pids.append(pid)
        log = (tmp_path / "gate.log").read_text()
        found = re.findall(r"listening on tcp:127\.0\.0\.1:(\d+)", log)
        assert found and int(found[0]) != 0, log
        remote = f"tcp:127.0.0.1:{found[0]}"
        listed = processes.run(["ovsdb-client", "--timeout=10", "list-dbs", remote]).stdout
        assert "OVN_Southbound" in listed
        status = processes.run(["ovs-appctl", "-t", str(tmp_path / "gate.ctl"), "status"]).stdout
        assert f"listening: {remote}" in status
    finally:
        assert not processes.stop_pids(pids)
