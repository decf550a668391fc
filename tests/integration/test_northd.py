"""The compiler daemon on a 2-chassis sandbox, proven with packets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4, vm5 = (DEMO.vm(f"vm{n}") for n in range(1, 6))
ROUTER = DEMO.switches[0].router_port
assert ROUTER is not None


def cli(box: Sandbox, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **box.env())
    proc = subprocess.run(
        [sys.executable, "-m", "ovn_inject", *args], env=env, capture_output=True, text=True, timeout=60
    )
    if check:
        assert proc.returncode == 0, f"ovn-inject {' '.join(args)}: {proc.stderr}"
    return proc


def our_rows(box: Sandbox) -> list[str]:
    out = box.sbctl("--bare", "--columns=_uuid", "find", "Logical_Flow", 'external_ids:ovn-inject="1"')
    return out.split()


def our_matches(box: Sandbox) -> list[str]:
    out = box.sbctl("--bare", "--columns=match", "find", "Logical_Flow", 'external_ids:ovn-inject="1"')
    return [line for line in out.splitlines() if line.strip()]


def attach(box: Sandbox, service: str, target: str, hook: str, *options: str) -> None:
    """A new service of tenant-a, attached to ``target`` at ``hook``."""
    cli(box, "service-add", service, "--tenant", "tenant-a")
    cli(box, "attach-add", service, target, "--hook", hook, *options)


def add_flow(box: Sandbox, service: str, match: str, actions: str, priority: int = 1, *options: str) -> None:
    """``flow-add`` that returns once the flow is installed on every chassis."""
    cli(
        box,
        "--wait=hv",
        "flow-add",
        service,
        "--priority",
        str(priority),
        "--match",
        match,
        "--actions",
        actions,
        *options,
    )


def flows(box: Sandbox, service: str) -> list[dict[str, object]]:
    return json.loads(cli(box, "flow-list", service, "--format", "json").stdout)


def delivered(box: Sandbox, src: str, frame: bytes, dst: str) -> list[pk.Summary]:
    got = send_and_capture(box, src, frame, watch=[dst], expect=dst, timeout=1.0, settle=0.1)
    return [pk.summarize(f) for f in got[dst]]


def icmp(a: object, b: object) -> bytes:
    return pk.icmp_echo(a.mac, b.mac, a.ip, b.ip)  # type: ignore[attr-defined]


@pytest.fixture
def stack(demo: Sandbox) -> Iterator[Sandbox]:
    """The demo topology with no service left over from another test."""
    for row in json.loads(cli(demo, "service-list", "--format", "json").stdout):
        cli(demo, "service-del", str(row["name"]))
    cli(demo, "--wait=sb", "sync", check=False)
    yield demo


def test_ips_quarantine_stops_vm1_everywhere_and_only_vm1(stack: Sandbox) -> None:
    box = stack
    box.nbctl("acl-add", "ls-a", "from-lport", "1000", "ip4", "allow-related")
    box.nbctl("--wait=hv", "sync")
    syn = pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 40000, 22, flags="S")
    synack = pk.tcp_segment(vm2.mac, vm1.mac, vm2.ip, vm1.ip, 22, 40000, flags="SA", seq=5000, ack=1001)
    data = pk.tcp_segment(
        vm1.mac, vm2.mac, vm1.ip, vm2.ip, 40000, 22, flags="PA", seq=1001, ack=5001, payload=b"ls -l"
    )
    assert delivered(box, "vm1", syn, "vm2")
    assert delivered(box, "vm2", synack, "vm1")
    assert delivered(box, "vm1", data, "vm2"), "the connection is established before the quarantine"

    attach(box, "ips", "ls:ls-a", "ls-in-port")
    add_flow(box, "ips", 'inport == "vm1"', "drop;", 10)

    assert not delivered(box, "vm1", data, "vm2"), "established TCP from vm1 must stop"
    assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2")
    assert not delivered(box, "vm1", pk.icmp_echo(vm1.mac, ROUTER.mac, vm1.ip, ROUTER.ip), "vm1")
    assert delivered(box, "vm3", icmp(vm3, vm2), "vm2"), "vm3 is not quarantined"
    assert delivered(box, "vm4", icmp(vm4, vm5), "vm5"), "tenant-b is untouched"
    trace = box.ovn_trace(
        "ls-a",
        f'inport == "vm1" && eth.src == {vm1.mac} && eth.dst == {vm2.mac} && '
        f"ip4.src == {vm1.ip} && ip4.dst == {vm2.ip} && ip.ttl == 64",
    )
    assert "ls_in_hook_port" in trace and "drop" in trace
    assert [f["status"] for f in flows(box, "ips")] == ["installed"]


def test_dpi_marks_only_the_classified_flow(stack: Sandbox) -> None:
    box = stack
    attach(box, "dpi", "lsp:vm1", "ls-in-port")
    add_flow(
        box,
        "dpi",
        f"ip4.src == {vm1.ip} && ip4.dst == {vm2.ip} && tcp.src == 1234 && tcp.dst == 443",
        "ip.dscp = 46; next;",
        5,
    )
    marked = delivered(box, "vm1", pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 1234, 443), "vm2")
    other = delivered(box, "vm1", pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 1234, 80), "vm2")
    assert [s.dscp for s in marked] == [46]
    assert [s.dscp for s in other] == [0]


def test_two_services_run_in_attachment_order(stack: Sandbox) -> None:
    box = stack
    attach(box, "dpi", "lsp:vm1", "ls-in-port", "--order", "1")
    attach(box, "ips", "lsp:vm1", "ls-in-port", "--order", "2")
    cli(
        box,
        "flow-add",
        "dpi",
        "--priority",
        "1",
        "--match",
        "tcp.dst == 80",
        "--actions",
        "ip.dscp = 46; next;",
    )
    cli(
        box,
        "flow-add",
        "dpi",
        "--priority",
        "1",
        "--match",
        "tcp.dst == 2323",
        "--actions",
        "tcp.dst = 23; next;",
    )
    # --all-attachments: the IPS's flow follows the service wherever it is attached.
    add_flow(box, "ips", "tcp.dst == 23", "drop;", 1, "--all-attachments")

    def tcp(dport: int) -> list[pk.Summary]:
        return delivered(box, "vm1", pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 5555, dport), "vm2")

    assert [s.dscp for s in tcp(80)] == [46], "DPI marks web traffic"
    assert tcp(23) == [], "the IPS drops telnet"
    assert tcp(2323) == [], "DPI first: the IPS sees the rewritten port and drops it"
    cli(box, "attach-del", "ips", "lsp:vm1", "--hook", "ls-in-port")
    cli(box, "attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port", "--order", "0")
    # The IPS's flow is at all its attachments, so it acts at the new one too.
    assert [s.dport for s in tcp(2323)] == [23], "IPS first: it sees 2323, then DPI rewrites it"
    assert tcp(23) == []


def test_egress_and_router_hooks_act_on_their_packets_only(stack: Sandbox) -> None:
    box = stack
    attach(box, "fw", "lsp:vm2", "ls-out-deliver")
    att = json.loads(cli(box, "attach-list", "fw", "--format", "json").stdout)[0]
    add_flow(box, "fw", "udp.dst == 53", "drop;", 1, "--attachment", str(att["_uuid"]))
    dns = pk.udp_datagram(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 999, 53)
    assert not delivered(box, "vm1", dns, "vm2")
    assert delivered(box, "vm1", pk.udp_datagram(vm1.mac, vm3.mac, vm1.ip, vm3.ip, 999, 53), "vm3")

    ping_router = pk.icmp_echo(vm1.mac, ROUTER.mac, vm1.ip, ROUTER.ip)
    assert delivered(box, "vm1", ping_router, "vm1")
    attach(box, "rt", "lr:lr-a", "lr-out-deliver")
    add_flow(box, "rt", "icmp4.type == 0", "drop;")
    assert not delivered(box, "vm1", ping_router, "vm1"), "the router's echo reply stops at lr-out-deliver"
    cli(box, "service-del", "rt")
    attach(box, "rt2", "lr:lr-a", "lr-in-route")
    add_flow(box, "rt2", f"ip4.src == {vm3.ip}", "drop;")
    assert delivered(box, "vm1", ping_router, "vm1"), "vm1 is not matched by lr-in-route's flow"


def test_port_group_attachment_spans_two_switches(stack: Sandbox) -> None:
    box = stack
    tenancy = 'external_ids:"neutron:project_id"="tenant-a"'
    box.nbctl(
        "ls-add",
        "ls-a2",
        "--",
        "set",
        "logical_switch",
        "ls-a2",
        tenancy,
        "--",
        "lsp-add",
        "ls-a2",
        "vm6",
        "--",
        "lsp-set-addresses",
        "vm6",
        "02:00:00:00:03:06 10.0.3.16",
        "--",
        "set",
        "logical_switch_port",
        "vm6",
        tenancy,
        "--",
        "lsp-add",
        "ls-a2",
        "vm7",
        "--",
        "lsp-set-addresses",
        "vm7",
        "02:00:00:00:03:07 10.0.3.17",
        "--",
        "set",
        "logical_switch_port",
        "vm7",
        tenancy,
        "--",
        "pg-add",
        "pg-web",
        "vm1",
        "vm6",
        "--",
        "set",
        "port_group",
        "pg-web",
        tenancy,
    )
    box.bind_port("vm6", "hv1")
    box.bind_port("vm7", "hv2")
    box.wait_ports_up(["vm6", "vm7"])
    attach(box, "ips", "pg:pg-web", "ls-in-port")
    cli(box, "--wait=hv", "flow-add", "ips", "--priority", "1", "--match", "icmp4", "--actions", "drop;")
    assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2")
    vm6 = pk.icmp_echo("02:00:00:00:03:06", "02:00:00:00:03:07", "10.0.3.16", "10.0.3.17")
    assert not delivered(box, "vm6", vm6, "vm7")
    assert delivered(box, "vm3", icmp(vm3, vm2), "vm2")


def test_flow_naming_another_tenants_port_is_invalid_and_compiles_to_nothing(stack: Sandbox) -> None:
    box = stack
    attach(box, "ips", "ls:ls-a", "ls-in-port")
    cli(
        box,
        "--wait=sb",
        "flow-add",
        "ips",
        "--priority",
        "1",
        "--match",
        'inport == "vm1"',
        "--actions",
        "drop;",
    )
    before = set(our_rows(box))
    # vm3 moves to tenant-b: the flow naming it becomes invalid and its rows go away.
    cli(box, "flow-add", "ips", "--priority", "2", "--match", 'inport == "vm3"', "--actions", "drop;")
    box.nbctl("set", "logical_switch_port", "vm3", 'external_ids:"neutron:project_id"="tenant-b"')
    cli(box, "--wait=sb", "sync")
    states = {f["match"]: (f["status"], f["reason"]) for f in flows(box, "ips")}
    assert states['inport == "vm3"'][0] == "invalid" and "vm3" in str(states['inport == "vm3"'][1])
    assert before and not any('"vm3"' in match for match in our_matches(box)), "vm3's flow left SB"
    assert delivered(box, "vm3", icmp(vm3, vm2), "vm2")


def test_survives_restarts_without_duplicates(stack: Sandbox) -> None:
    box = stack
    attach(box, "ips", "ls:ls-a", "ls-in-port")
    add_flow(box, "ips", 'inport == "vm1"', "drop;", 10)
    rows = sorted(our_rows(box))
    assert rows

    def still_dropping() -> None:
        assert sorted(our_rows(box)) == rows
        assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2")
        assert delivered(box, "vm3", icmp(vm3, vm2), "vm2")

    box.northd_appctl("inc-engine/recompute")
    still_dropping()
    box.restart("northd")
    box.nbctl("--wait=hv", "sync")
    still_dropping()
    box.kill("inject-northd")
    box.restart("inject-northd")
    cli(box, "--wait=hv", "sync")
    still_dropping()
    for name in ("nb", "sb"):
        box.restart(name)
        cli(box, "--wait=hv", "sync")
        still_dropping()


def test_standby_takes_over(stack: Sandbox) -> None:
    box = stack
    box.start_inject_northd(name="inject-northd-2")

    def role(name: str) -> str:
        return box.inject_appctl("status", name=name).splitlines()[0]

    assert role("inject-northd") == "Status: active"
    wait_until(lambda: role("inject-northd-2") == "Status: standby", "the second daemon reports standby")
    attach(box, "ips", "lsp:vm1", "ls-in-port")
    box.stop("inject-northd")
    wait_until(lambda: role("inject-northd-2") == "Status: active", "the standby takes the SB lock")
    try:
        cli(box, "--wait=hv", "flow-add", "ips", "--priority", "1", "--match", "icmp4", "--actions", "drop;")
        assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2")
    finally:
        box.stop("inject-northd-2")
        box.start_inject_northd()
