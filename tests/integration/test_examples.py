"""The example applications, run unchanged against the sandbox's gateway, proven with packets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox.apps import inject, run_example
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4, vm5 = (DEMO.vm(f"vm{n}") for n in range(1, 6))
ROUTER = DEMO.switches[0].router_port
assert ROUTER is not None


def service(box: Sandbox, name: str, *attachments: tuple[str, str]) -> str:
    """A service of tenant-a with its attachments; returns a fresh token for it."""
    inject(box, "service-del", "--if-exists", name)
    inject(box, "service-add", name, "--tenant", "tenant-a")
    for target, hook in attachments:
        inject(box, "attach-add", name, target, "--hook", hook)
    return inject(box, "token-create", name).strip()


def delivered(box: Sandbox, src: str, frame: bytes, dst: str) -> list[pk.Summary]:
    got = send_and_capture(box, src, frame, watch=[dst], expect=dst, timeout=1.0, settle=0.1)
    return [pk.summarize(f) for f in got[dst]]


@pytest.fixture
def stack(demo: Sandbox) -> Iterator[Sandbox]:
    yield demo


def test_ips_quarantine_stops_an_established_session_and_releases_it(stack: Sandbox) -> None:
    box = stack
    box.nbctl("acl-add", "ls-a", "from-lport", "1000", "ip4", "allow-related")
    box.nbctl("--wait=hv", "sync")
    token = service(box, "ips", ("ls:ls-a", "ls-in-port"))
    syn = pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 41000, 22, flags="S")
    synack = pk.tcp_segment(vm2.mac, vm1.mac, vm2.ip, vm1.ip, 22, 41000, flags="SA", seq=7000, ack=1001)
    data = pk.tcp_segment(
        vm1.mac, vm2.mac, vm1.ip, vm2.ip, 41000, 22, flags="PA", seq=1001, ack=7001, payload=b"whoami"
    )
    reply = pk.tcp_segment(
        vm2.mac, vm1.mac, vm2.ip, vm1.ip, 22, 41000, flags="PA", seq=7001, ack=1007, payload=b"root"
    )
    assert delivered(box, "vm1", syn, "vm2") and delivered(box, "vm2", synack, "vm1")
    assert delivered(box, "vm1", data, "vm2"), "the session is established"

    result = run_example(box, token, "ips_quarantine.py", "quarantine", "vm1", vm1.ip)
    assert result["quarantined"] == "vm1" and len(result["flows"]) == 2  # type: ignore[arg-type]
    again = run_example(box, token, "ips_quarantine.py", "quarantine", "vm1", vm1.ip)
    assert again == {**result, "already": True} and result["already"] is False, "a second alert is no error"
    assert not delivered(box, "vm1", data, "vm2"), "vm1's established session stops"
    assert not delivered(box, "vm2", reply, "vm1"), "and nothing reaches vm1 either"
    assert not delivered(box, "vm1", pk.icmp_echo(vm1.mac, ROUTER.mac, vm1.ip, ROUTER.ip), "vm1")
    assert delivered(box, "vm3", pk.icmp_echo(vm3.mac, vm2.mac, vm3.ip, vm2.ip), "vm2"), "vm3 still talks"
    assert delivered(box, "vm4", pk.icmp_echo(vm4.mac, vm5.mac, vm4.ip, vm5.ip), "vm5"), "tenant-b untouched"

    assert run_example(box, token, "ips_quarantine.py", "release", "vm1")["flows_removed"] == 2
    assert delivered(box, "vm1", data, "vm2"), "released: the session goes on"


def test_dpi_marks_only_the_classified_flow(stack: Sandbox) -> None:
    box = stack
    token = service(box, "dpi", ("lsp:vm1", "ls-in-port"))
    result = run_example(box, token, "dpi_qos.py", "mark", f"{vm1.ip}:5004", f"{vm2.ip}:443", "tcp", "46")
    assert result["status"] in ("pending", "installed")
    video = pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 5004, 443)
    other_port = pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 5005, 443)
    other_host = pk.tcp_segment(vm1.mac, vm3.mac, vm1.ip, vm3.ip, 5004, 443)
    assert [s.dscp for s in delivered(box, "vm1", video, "vm2")] == [46]
    assert [s.dscp for s in delivered(box, "vm1", other_port, "vm2")] == [0]
    assert [s.dscp for s in delivered(box, "vm1", other_host, "vm3")] == [0]
    assert run_example(box, token, "dpi_qos.py", "clear")["cleared"] == 1
    assert [s.dscp for s in delivered(box, "vm1", video, "vm2")] == [0]


def function_port(box: Sandbox, name: str, addresses: str, chassis: str) -> None:
    """A port of tenant-a on ls-a for a network function, as the docs make one."""
    where = ["--dir", str(box.root)]
    options = ["--tenant", "tenant-a", "--chassis", chassis, "--addresses", addresses]
    inject(box, "sandbox", "port-add", *where, "ls-a", name, *options)
    box.state = Sandbox(box.root).state  # the command bound it: take its record of the binding
    assert box.state.bindings[name] == chassis


def test_ids_gets_a_copy_and_blocks_only_the_offending_flow(stack: Sandbox) -> None:
    box = stack
    function_port(box, "ids", "unknown", "hv2")
    token = service(box, "ids", ("lsp:vm1", "ls-in-port"))
    run_example(box, token, "ids_tap.py", "tap", "ids")
    bad = pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 40001, 80, flags="PA", payload=b"GET /etc/passwd")
    good = pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 40002, 80, flags="PA", payload=b"GET /index.html")
    for frame in (bad, good):
        got = send_and_capture(box, "vm1", frame, watch=["ids"], expect="vm2", timeout=1.0, settle=0.2)
        assert len(got["vm2"]) == 1 and len(got["ids"]) == 1, "the original arrives, the IDS gets a copy"
    result = run_example(
        box,
        token,
        "ids_tap.py",
        "watch",
        "--pcap",
        str(box.tx_pcap("ids")),
        "--pattern",
        "/etc/passwd",
        "--once",
    )
    assert result["blocked"] == [
        f"ip4.src == {vm1.ip} && ip4.dst == {vm2.ip} && tcp.src == 40001 && tcp.dst == 80"
    ]
    assert not delivered(box, "vm1", bad, "vm2"), "the offending connection is blocked"
    assert len(delivered(box, "vm1", good, "vm2")) == 1, "the other connection goes on"


def test_distributed_lb_wires_connections_past_the_lb(stack: Sandbox) -> None:
    box = stack
    vip, vip_mac = "10.0.1.100", "02:00:00:00:01:64"
    function_port(box, "lb", f"{vip_mac} {vip}", "hv2")
    token = service(box, "lb", ("ls:ls-a", "ls-in-port"))
    run_example(box, token, "distributed_lb.py", "steer", "lb", vip, "80")
    syn = pk.tcp_segment(vm1.mac, vip_mac, vm1.ip, vip, 43000, 80, flags="S")
    first = send_and_capture(box, "vm1", syn, watch=["vm2", "vm3"], expect="lb", timeout=1.0, settle=0.2)
    assert len(first["lb"]) == 1 and first["vm2"] == first["vm3"] == [], "the first packet goes to the LB"

    wired = run_example(
        box,
        token,
        "distributed_lb.py",
        "serve",
        "--pcap",
        str(box.tx_pcap("lb")),
        "--vip",
        f"{vip}:80",
        "--vip-mac",
        vip_mac,
        "--backend",
        f"{vm2.ip}/{vm2.mac}",
        "--once",
    )
    assert wired["wired"] == [{"client": f"{vm1.ip}:43000", "backend": vm2.ip}]

    data = pk.tcp_segment(vm1.mac, vip_mac, vm1.ip, vip, 43000, 80, flags="PA", payload=b"GET /")
    got = send_and_capture(box, "vm1", data, watch=["lb"], expect="vm2", timeout=1.0, settle=0.2)
    assert got["lb"] == [], "a wired connection no longer reaches the LB"
    [at_backend] = [pk.summarize(f) for f in got["vm2"]]
    assert (at_backend.eth_dst, at_backend.ip_dst, at_backend.dport) == (vm2.mac, vm2.ip, 80)
    answer = pk.tcp_segment(vm2.mac, vm1.mac, vm2.ip, vm1.ip, 80, 43000, flags="PA", payload=b"200 OK")
    got = send_and_capture(box, "vm2", answer, watch=["lb"], expect="vm1", timeout=1.0, settle=0.2)
    [at_client] = [pk.summarize(f) for f in got["vm1"]]
    assert (at_client.eth_src, at_client.ip_src, at_client.sport) == (vip_mac, vip, 80), (
        "it comes from the VIP"
    )
    other = pk.tcp_segment(vm3.mac, vip_mac, vm3.ip, vip, 43001, 80, flags="S")
    assert len(send_and_capture(box, "vm3", other, watch=[], expect="lb", timeout=1.0)["lb"]) == 1
