"""Each service as an OpenFlow 1.3 switch: unmodified ovs-ofctl on a passive endpoint, proven with packets."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

from ovn_inject.ofswitch import wire
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox.processes import free_tcp_port
from ovn_inject.sandbox.topology import DEMO
from tests.integration.pki import make_pki
from tests.integration.test_northd import cli, delivered, icmp
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3 = (DEMO.vm(f"vm{n}") for n in range(1, 4))


def ofctl(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ovs-ofctl -O OpenFlow13 [--OPTIONS] COMMAND TARGET [ARGS]`` from (options, command, rest)."""
    options = [a for a in args if a.startswith("-")]
    command, *rest = [a for a in args if not a.startswith("-")]
    return subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", *options, command, target, *rest],
        capture_output=True,
        text=True,
        timeout=30,
    )


def flows(box: Sandbox, service: str) -> list[dict[str, object]]:
    return json.loads(cli(box, "flow-list", service, "--format", "json").stdout)


def switch(box: Sandbox, service: str, hook: str = "ls-in-port", *options: str) -> str:
    """A service of tenant-a on ls-a, served on a fresh loopback port; its ovs-ofctl target."""
    port = free_tcp_port()
    cli(box, "service-add", service, "--tenant", "tenant-a")
    cli(box, "attach-add", service, "ls:ls-a", "--hook", hook)
    cli(box, "service-set-openflow", service, f"ptcp:{port}", *options)
    target = f"tcp:127.0.0.1:{port}"
    wait_until(lambda: ofctl(target, "show").returncode == 0, f"{service}'s switch answers on {target}")
    return target


@pytest.fixture
def stack(demo: Sandbox) -> Iterator[Sandbox]:
    for row in json.loads(cli(demo, "service-list", "--format", "json").stdout):
        cli(demo, "service-del", str(row["name"]))
    yield demo


def test_quarantine_written_with_ovs_ofctl_stops_vm1(stack: Sandbox) -> None:
    box = stack
    target = switch(box, "ips", "ls-in-port", "--barrier-wait", "hv")
    shown = ofctl(target, "show").stdout
    assert "(vm1)" in shown and "(vm2)" in shown and "(vm4)" not in shown, shown
    assert delivered(box, "vm1", icmp(vm1, vm2), "vm2")

    added = ofctl(target, "add-flow", "priority=10,ip,nw_src=10.0.1.11,actions=drop")
    assert added.returncode == 0, added.stderr  # ovs-ofctl's barrier: answered once on every chassis
    assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2"), "vm1 is quarantined"
    assert delivered(box, "vm3", icmp(vm3, vm2), "vm2"), "vm3 is not"
    assert "priority=10,ip,nw_src=10.0.1.11 actions=drop" in ofctl(target, "dump-flows").stdout
    [stored] = flows(box, "ips")
    assert stored["match"] == "eth.type == 0x800 && ip4.src == 10.0.1.11" and stored["actions"] == "drop;"

    assert ofctl(target, "del-flows").returncode == 0
    assert delivered(box, "vm1", icmp(vm1, vm2), "vm2"), "the quarantine is lifted"


def test_ovs_ofctl_add_flows_mod_flows_del_flows(stack: Sandbox, tmp_path: Path) -> None:
    box = stack
    target = switch(box, "dpi")
    batch = tmp_path / "flows.txt"
    batch.write_text(
        "priority=20,cookie=0x11,ip,nw_dst=10.0.1.12,actions=drop\n"
        "priority=21,cookie=0x12,ip,nw_dst=10.0.1.13,actions=drop\n"
        "priority=22,cookie=0x21,tcp,in_port=vm1,tp_dst=443,actions=set_field:46->ip_dscp,output:vm2\n"
    )
    result = ofctl(target, "add-flows", str(batch))
    assert result.returncode == 0, result.stderr
    assert len(flows(box, "dpi")) == 3
    assert ofctl(target, "mod-flows", "ip,nw_dst=10.0.1.12,actions=normal").returncode == 0
    dumped = ofctl(target, "--names", "dump-flows").stdout
    assert "priority=20,ip,nw_dst=10.0.1.12 actions=NORMAL" in dumped
    assert "in_port=vm1" in dumped and "output:vm2" in dumped, dumped
    by_priority = {f["priority"]: f for f in flows(box, "dpi")}
    assert by_priority[20]["actions"] == "next;"
    assert by_priority[22]["actions"] == 'ip.dscp = 46; outport = "vm2"; output;'

    assert ofctl(target, "del-flows", "cookie=0x10/0xf0").returncode == 0  # 0x11 and 0x12
    assert sorted(f["priority"] for f in flows(box, "dpi")) == [22]
    assert ofctl(target, "--strict", "del-flows", "priority=21,tcp").returncode == 0  # no such flow
    assert len(flows(box, "dpi")) == 1
    strict = ofctl(target, "--strict", "del-flows", "priority=22,tcp,in_port=vm1,tp_dst=443")
    assert strict.returncode == 0, strict.stderr
    assert flows(box, "dpi") == []


@pytest.mark.parametrize(
    ("flow", "error"),
    [
        ("priority=10,in_port=999,actions=drop", "OFPBMC_BAD_VALUE"),
        ("priority=10,ip,actions=output:999", "OFPBAC_BAD_OUT_PORT"),
        ("ip,actions=drop", "OFPFMFC_EPERM"),  # ovs-ofctl's default priority 32768 is above 999
        ("priority=10,ip,actions=mod_nw_ttl:3", "OFPBAC_BAD_TYPE"),
        ("priority=10,ip,actions=output:vm2", "OFPFMFC_EPERM"),  # the policy: no output in egress hooks
    ],
)
def test_refusals_are_openflow_errors_and_store_nothing(stack: Sandbox, flow: str, error: str) -> None:
    box = stack
    target = switch(box, "app", hook="ls-out-port")
    result = ofctl(target, "--names", "add-flow", flow)
    assert result.returncode != 0 and error in result.stderr, result.stderr
    assert flows(box, "app") == []


def test_quota_is_table_full(stack: Sandbox) -> None:
    box = stack
    target = switch(box, "small")
    cli(box, "service-set", "small", "--max-flows", "1")
    assert ofctl(target, "add-flow", "priority=1,ip,nw_src=10.0.1.11,actions=drop").returncode == 0
    result = ofctl(target, "add-flow", "priority=2,ip,nw_src=10.0.1.13,actions=drop")
    assert "OFPFMFC_TABLE_FULL" in result.stderr
    assert len(flows(box, "small")) == 1


# ---- fuzz ---------------------------------------------------------------------------------


def _recv_message(sock: socket.socket) -> bytes:
    header = b""
    while len(header) < 8:
        chunk = sock.recv(8 - len(header))
        assert chunk, "the switch closed the connection"
        header += chunk
    length = struct.unpack_from("!H", header, 2)[0]
    body = b""
    while len(body) < length - 8:
        chunk = sock.recv(length - 8 - len(body))
        assert chunk
        body += chunk
    return header + body


def _connect(target: str) -> socket.socket:
    _, host, port = target.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(wire.hello())
    assert _recv_message(sock)[1] == 0  # HELLO
    return sock


def _echo(sock: socket.socket, xid: int) -> bool:
    sock.sendall(struct.pack("!BBHI", 4, 2, 8, xid))
    while True:
        reply = _recv_message(sock)
        if reply[1] == 3 and struct.unpack_from("!I", reply, 4)[0] == xid:
            return True  # replies to the fuzzer's own echo requests are skipped


def _fuzz_messages(rng: random.Random) -> Iterator[bytes]:
    datapath = ProtocolDesc(ofp.OFP_VERSION)
    mod = parser.OFPFlowMod(datapath, priority=10, match=parser.OFPMatch(eth_type=0x800), instructions=[])
    mod.serialize()
    valid = bytes(mod.buf)
    for _ in range(400):
        kind = rng.choice(["truncate", "flip", "type", "huge", "length"])
        if kind == "truncate":
            cut = valid[: rng.randrange(8, len(valid))]
            yield struct.pack("!BBHI", 4, 14, len(cut), 1) + cut[8:]
        elif kind == "flip":
            data = bytearray(valid)
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(8, len(data))] = rng.randrange(256)
            yield bytes(data)
        elif kind == "type":
            body = rng.randbytes(rng.randrange(0, 64))
            yield struct.pack("!BBHI", 4, rng.randrange(256), 8 + len(body), 2) + body
        elif kind == "huge":
            body = rng.randbytes(0xFFFF - 8)
            yield struct.pack("!BBHI", 4, rng.choice([14, 18, 0, 2]), 0xFFFF, 3) + body
        else:
            inner = rng.randbytes(rng.randrange(8, 200))
            yield struct.pack("!BBHI", 4, rng.choice([14, 18]), 8 + len(inner), 4) + inner


def test_fuzz_never_crashes_the_daemon_nor_another_connection(stack: Sandbox) -> None:
    box = stack
    target = switch(box, "victim")
    other = _connect(switch(box, "bystander"))
    rng = random.Random(16)
    sock = _connect(target)
    for index, message in enumerate(_fuzz_messages(rng)):
        sock.sendall(message)
        if index % 50 == 0:
            assert _echo(sock, index), "the fuzzed connection still answers"
            assert _echo(other, index), "another service's connection still answers"
    # A length below the header's own cannot be framed: that connection (only) closes.
    sock.sendall(struct.pack("!BBHI", 4, 2, 4, 9))
    sock.settimeout(10)
    while sock.recv(65536):
        pass
    assert _echo(other, 99999)
    assert ofctl(target, "show").returncode == 0
    pid = box.state.pids["ofswitch"]
    os.kill(pid, 0)
    assert flows(box, "bystander") == []


# ---- an unmodified os-ken application through an active endpoint ----------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "osken_quarantine.py"


def _osken(port: int, log: Path) -> subprocess.Popen[bytes]:
    manager = Path(sys.executable).parent / "osken-manager"
    argv = [str(manager), "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", str(port), str(EXAMPLE)]
    return subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_osken_app_on_an_active_endpoint_survives_restarts(stack: Sandbox, tmp_path: Path) -> None:
    box = stack
    port = free_tcp_port()
    cli(box, "service-add", "ryu", "--tenant", "tenant-a")
    cli(box, "attach-add", "ryu", "ls:ls-a", "--hook", "ls-in-port")
    cli(box, "service-set-openflow", "ryu", f"tcp:127.0.0.1:{port}")
    log = tmp_path / "osken.log"
    for round_ in range(2):  # the second run: the app restarted, its flow neither lost nor doubled
        app = _osken(port, log)
        try:
            wait_until(
                lambda r=round_: log.read_text().count("dropped on switch") > r, "the app sees the switch"
            )
            wait_until(lambda: len(flows(box, "ryu")) == 1, "the app's flow is stored once")
            cli(box, "--wait=hv", "sync")
            assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2"), "the app's drop acts on packets"
            assert delivered(box, "vm3", icmp(vm3, vm2), "vm2")
            if round_ == 1:
                cli(box, "flow-del", "ryu", "--cookie", "0x51")
                wait_until(
                    lambda: "flow removed: cookie=0x51" in log.read_text(), "FLOW_REMOVED reaches the app"
                )
        finally:
            app.terminate()
            app.wait(timeout=10)


def test_check_overlap_and_a_hard_timeout_that_sends_flow_removed(stack: Sandbox) -> None:
    box = stack
    target = switch(box, "timer")
    assert ofctl(target, "add-flow", "priority=5,ip,actions=drop").returncode == 0
    overlap = ofctl(target, "add-flow", "check_overlap,priority=5,ip,nw_src=10.0.1.13,actions=drop")
    assert "OFPFMFC_OVERLAP" in overlap.stderr, overlap.stderr
    assert ofctl(target, "del-flows").returncode == 0

    sock = _connect(target)
    datapath = ProtocolDesc(ofp.OFP_VERSION)
    mod = parser.OFPFlowMod(
        datapath,
        cookie=0x77,
        priority=5,
        hard_timeout=1,
        flags=ofp.OFPFF_SEND_FLOW_REM,
        match=parser.OFPMatch(eth_type=0x800, ipv4_src="10.0.1.11"),
        instructions=[],
    )
    mod.serialize()
    sock.sendall(bytes(mod.buf) + struct.pack("!BBHI", 4, ofp.OFPT_BARRIER_REQUEST, 8, 5))
    removed: list[bytes] = []

    def flow_removed() -> bool:
        message = _recv_message(sock)
        assert message[1] != ofp.OFPT_ERROR, message.hex()
        if message[1] == ofp.OFPT_ECHO_REQUEST:
            sock.sendall(wire.echo_reply(message))
        if message[1] == ofp.OFPT_FLOW_REMOVED:
            removed.append(message)
        return bool(removed)

    sock.settimeout(60)
    wait_until(flow_removed, "FLOW_REMOVED once the compiler daemon expires the flow")
    cookie, _, reason = struct.unpack_from("!QHB", removed[0], 8)
    assert (cookie, reason) == (0x77, ofp.OFPRR_HARD_TIMEOUT)
    assert flows(box, "timer") == []


# ---- pssl: the client certificate names the service ------------------------------------------


def _pki(directory: Path) -> dict[str, tuple[Path, Path]]:
    """A CA and certificates for the daemon and two clients: {name: (key, cert)}."""
    return make_pki(directory, {"ofswitch": "ofswitch", "secure": "secure", "intruder": "intruder"})


def test_pssl_accepts_only_the_service_certificate(stack: Sandbox, tmp_path: Path) -> None:
    box = stack
    pki = _pki(tmp_path)
    pidfile = tmp_path / "ofswitch-ssl.pid"
    key, cert = pki["ofswitch"]
    subprocess.run(
        [sys.executable, "-m", "ovn_inject", "ofswitch", f"--inject-db={box.inject_remote}",
         f"--nb={box.nb_remote}", f"--private-key={key}", f"--certificate={cert}",
         f"--ca-cert={pki['ca'][1]}", "--detach", f"--pidfile={pidfile}",
         f"--log-file={tmp_path / 'ofswitch-ssl.log'}"],
        check=True,
        timeout=60,
    )  # fmt: skip
    pid = int(pidfile.read_text())
    try:
        port = free_tcp_port()
        cli(box, "service-add", "secure", "--tenant", "tenant-a")
        cli(box, "attach-add", "secure", "ls:ls-a", "--hook", "ls-in-port")
        cli(box, "service-set-openflow", "secure", f"pssl:{port}")

        def session(who: str) -> bytes:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.load_verify_locations(pki["ca"][1])
            context.load_cert_chain(pki[who][1], pki[who][0])
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                context.wrap_socket(raw) as sock,
            ):
                sock.sendall(wire.hello() + struct.pack("!BBHI", 4, ofp.OFPT_FEATURES_REQUEST, 8, 3))
                data = b""
                while len(data) < 8 + 32:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data

        def answers() -> bool:
            try:
                return len(session("secure")) >= 8 + 32
            except OSError:
                return False

        wait_until(answers, "the pssl endpoint answers the service's certificate")
        try:
            refused = session("intruder")
        except OSError:
            refused = b""
        assert len(refused) < 8 + 32, "another certificate gets no switch"
    finally:
        os.kill(pid, signal.SIGTERM)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, "the SSL ofswitch daemon stops")
