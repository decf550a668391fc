"""The sandbox is a real OVN: packets cross tunnels, routers answer, port security drops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4 = (DEMO.vm(n) for n in ("vm1", "vm2", "vm3", "vm4"))
ROUTER = DEMO.switches[0].router_port
assert ROUTER is not None


def test_demo_ports_bound_across_chassis(demo: Sandbox) -> None:
    assert demo.chassis_of("vm1") == "hv1"
    assert demo.chassis_of("vm2") == "hv2"
    assert demo.chassis_of("vm3") == "hv1"
    show = demo.sbctl("show")
    assert "Chassis hv1" in show and "Chassis hv2" in show


def test_icmp_crosses_the_geneve_tunnel(demo: Sandbox) -> None:
    frame = pk.icmp_echo(vm1.mac, vm2.mac, vm1.ip, vm2.ip)
    got = send_and_capture(demo, "vm1", frame, watch=["vm3"], expect="vm2")
    assert len(got["vm2"]) == 1
    seen = pk.summarize(got["vm2"][0])
    assert (seen.ip_src, seen.ip_dst, seen.icmp_type) == (vm1.ip, vm2.ip, 8)
    assert got["vm3"] == []
    trace = demo.ofproto_trace(
        "hv1",
        f"in_port=vm1,icmp,dl_src={vm1.mac},dl_dst={vm2.mac},nw_src={vm1.ip},nw_dst={vm2.ip},nw_ttl=64",
    )
    assert "tnl_push" in trace and "geneve" in trace


def test_vm_pings_its_router(demo: Sandbox) -> None:
    frame = pk.icmp_echo(vm1.mac, ROUTER.mac, vm1.ip, ROUTER.ip)
    got = send_and_capture(demo, "vm1", frame, watch=[], expect="vm1")
    replies = [pk.summarize(f) for f in got["vm1"]]
    assert any(r.icmp_type == 0 and r.ip_src == ROUTER.ip and r.ip_dst == vm1.ip for r in replies), replies


def test_port_security_drops_spoofed_source_mac(demo: Sandbox) -> None:
    spoofed = pk.icmp_echo("02:00:00:00:01:99", vm3.mac, vm1.ip, vm3.ip)
    got = send_and_capture(demo, "vm1", spoofed, watch=["vm2", "vm3"])
    assert got == {"vm2": [], "vm3": []}
    genuine = pk.icmp_echo(vm1.mac, vm3.mac, vm1.ip, vm3.ip)
    assert len(send_and_capture(demo, "vm1", genuine, watch=[], expect="vm3")["vm3"]) == 1


def test_tenants_are_not_connected(demo: Sandbox) -> None:
    via_router = pk.icmp_echo(vm1.mac, ROUTER.mac, vm1.ip, vm4.ip)
    direct = pk.icmp_echo(vm1.mac, vm4.mac, vm1.ip, vm4.ip)
    for frame in (via_router, direct):
        assert send_and_capture(demo, "vm1", frame, watch=["vm4", "vm5"]) == {"vm4": [], "vm5": []}
    trace = demo.ovn_trace(
        "ls-a",
        f'inport=="vm1" && eth.src=={vm1.mac} && eth.dst=={ROUTER.mac} && '
        f"ip4.src=={vm1.ip} && ip4.dst=={vm4.ip} && ip.ttl==64",
    )
    assert "No route to host" in trace or "drop" in trace


def test_an_appliance_port_sends_and_captures_from_the_cli(demo: Sandbox) -> None:
    """sandbox port-add, send and capture (issue #18): what the guides use to play the VMs."""

    def sandbox(command: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ovn_inject", "sandbox", command, "--dir", str(demo.root), *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = sandbox("port-add", "ls-a", "tap1", "--tenant", "tenant-a", "--chassis", "hv2")
    assert added.returncode == 0 and "bound on hv2" in added.stdout, added.stderr
    try:
        tenant = demo.nbctl("get", "logical_switch_port", "tap1", 'external_ids:"neutron:project_id"')
        assert tenant.strip().strip('"') == "tenant-a"
        assert (
            sandbox("port-add", "ls-a", "tap1", "--tenant", "t", "--chassis", "hv2", "--may-exist").returncode
            == 0
        )
        early = sandbox("capture", "tap1", "--expect", "1", "--timeout", "0")  # nothing was sent to it
        assert early.returncode == 1 and "tap1 received 0 packets" in early.stderr, early
        assert sandbox("capture", "tap1").stdout == ""
        before = len(sandbox("capture", "vm2").stdout.splitlines())  # what earlier tests sent it
        sent = sandbox("send", "vm1", f"udp dst={vm2.mac}/{vm2.ip} sport=4000 dport=53 dscp=46")
        assert sent.returncode == 0 and sent.stdout.startswith("sent by vm1: "), sent.stderr
        got = sandbox("capture", "vm2", "--expect", str(before + 1))
        assert got.returncode == 0, got.stderr
        new = got.stdout.splitlines()[before:]
        assert any(f"udp {vm1.ip}:4000 > {vm2.ip}:53" in line and "dscp 46" in line for line in new), new
        pcap = Path(sandbox("capture", "vm2", "--path").stdout.strip())
        assert pcap.is_file() and pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
    finally:
        assert sandbox("port-del", "tap1").returncode == 0
    assert demo.nbctl("--if-exists", "get", "logical_switch_port", "tap1", "name").strip() == ""


def test_cli_up_status_env_down(tmp_path: Path) -> None:
    directory = tmp_path / "cli"
    cli = [sys.executable, "-m", "ovn_inject", "sandbox"]
    up = subprocess.run(
        [*cli, "up", "--dir", str(directory), "--chassis", "2"], capture_output=True, text=True
    )
    try:
        assert up.returncode == 0, up.stderr  # how fast it comes up: bench/bench_sandbox.py
        again = subprocess.run([*cli, "up", "--dir", str(directory)], capture_output=True, text=True)
        assert again.returncode == 1 and "already up" in again.stderr
        status = subprocess.run([*cli, "status", "--dir", str(directory)], capture_output=True, text=True)
        assert "hv2/ovn-controller" in status.stdout and "stopped" not in status.stdout
        assert "sbgate" in status.stdout and "sbgate.sock" in status.stdout
        env = subprocess.run([*cli, "env", "--dir", str(directory)], capture_output=True, text=True).stdout
        script = (
            env + "\novn-nbctl ls-list && ovs-vsctl br-exists br-int && ovn-appctl -t ovn-northd status"
            " && ovn-appctl -t ovn-controller connection-status && ovs-ofctl dump-flows br-int | wc -l"
        )
        shell = subprocess.run(["bash", "-ec", script], capture_output=True, text=True)
        assert shell.returncode == 0, shell.stderr
        assert "ls-a" in shell.stdout and "Status: active" in shell.stdout and "connected" in shell.stdout
        assert status.returncode == 0
        [victim] = [pid for name, pid, _ in Sandbox(directory).status() if name == "hv2/ovn-controller"]
        os.kill(victim, signal.SIGKILL)

        def status_fails() -> bool:
            done = subprocess.run([*cli, "status", "--dir", str(directory)], capture_output=True, text=True)
            return done.returncode == 1 and "stopped: hv2/ovn-controller" in done.stderr

        wait_until(status_fails, "sandbox status to fail on a stopped ovn-controller")
    finally:
        down = subprocess.run([*cli, "down", "--dir", str(directory)], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    box = Sandbox(directory)
    assert box.processes_alive() == []
    assert all(not alive for _, _, alive in box.status())
