"""What ``make run`` shows: a sandbox OVN with the demo topology, working.

Each step sends a real packet into a VM's port and reports where it arrived,
so a newcomer sees the pieces (chassis, tunnels, router, port security,
tenant isolation) before ovn-inject adds its hooks to them.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.probe import send_and_capture

Step = tuple[str, Callable[[Sandbox], bool]]


def _delivered(box: Sandbox, src: str, frame: bytes, dst: str, expect: bool) -> bool:
    got = send_and_capture(box, src, frame, watch=[dst], expect=dst if expect else None)
    return bool(got[dst]) == expect


def steps() -> list[Step]:
    demo = topologies.DEMO
    vm1, vm2, vm3, vm4 = (demo.vm(n) for n in ("vm1", "vm2", "vm3", "vm4"))
    router = demo.switches[0].router_port
    assert router is not None

    def router_replies(box: Sandbox) -> bool:
        got = send_and_capture(box, "vm1", pk.icmp_echo(vm1.mac, router.mac, vm1.ip, router.ip), [], "vm1")
        return any(pk.summarize(f).icmp_type == 0 for f in got["vm1"])

    return [
        (
            "vm1 (hv1) pings vm2 (hv2): the packet crosses the geneve tunnel and arrives",
            lambda box: _delivered(box, "vm1", pk.icmp_echo(vm1.mac, vm2.mac, vm1.ip, vm2.ip), "vm2", True),
        ),
        ("vm1 pings its router lr-a (10.0.1.1): the router answers", router_replies),
        (
            "vm1 forges its source MAC: port security drops the packet",
            lambda box: _delivered(
                box, "vm1", pk.icmp_echo("02:00:00:00:01:99", vm3.mac, vm1.ip, vm3.ip), "vm3", False
            ),
        ),
        (
            "vm1 (tenant-a) tries to reach vm4 (tenant-b): no route, nothing arrives",
            lambda box: _delivered(
                box, "vm1", pk.icmp_echo(vm1.mac, router.mac, vm1.ip, vm4.ip), "vm4", False
            ),
        ),
    ]


IPS_COMMANDS = [
    ["service-add", "ips", "--tenant", "tenant-a", "--description", "quarantines VMs on alert"],
    ["attach-add", "ips", "ls:ls-a", "--hook", "ls-in-port"],
    ["--wait=hv", "flow-add", "ips", "--priority", "10", "--match", 'inport == "vm1"', "--actions", "drop;"],
]


def ips_scenario(box: Sandbox) -> bool:
    """An IPS of tenant-a quarantines vm1 through ovn-inject; show it with packets."""
    demo = topologies.DEMO
    vm1, vm2, vm3, vm4, vm5 = (demo.vm(f"vm{n}") for n in range(1, 6))
    env = dict(os.environ, **box.env())
    for command in IPS_COMMANDS:
        click.echo(f"  $ ovn-inject {shlex.join(command)}")
        done = subprocess.run(
            [sys.executable, "-m", "ovn_inject", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            click.echo(f"    failed: {done.stderr.strip()}")
            return False
    click.echo("")
    checks = [
        (
            "vm1 (hv1) -> vm2 (hv2): dropped on hv1 at ls-in-port, before it reaches the tunnel",
            "vm1",
            pk.icmp_echo(vm1.mac, vm2.mac, vm1.ip, vm2.ip),
            "vm2",
            False,
        ),
        (
            "vm3 (hv1) -> vm2 (hv2): not quarantined, arrives",
            "vm3",
            pk.icmp_echo(vm3.mac, vm2.mac, vm3.ip, vm2.ip),
            "vm2",
            True,
        ),
        (
            "vm4 -> vm5 (tenant-b): untouched, arrives",
            "vm4",
            pk.icmp_echo(vm4.mac, vm5.mac, vm4.ip, vm5.ip),
            "vm5",
            True,
        ),
    ]
    ok = True
    for text, src, frame, dst, expect in checks:
        passed = _delivered(box, src, frame, dst, expect)
        ok = ok and passed
        click.echo(f"  [{'ok' if passed else 'FAILED'}] {text}")
    rows = box.sbctl(
        "--bare", "--columns=_uuid", "find", "Logical_Flow", 'external_ids:ovn-inject="1"'
    ).split()
    click.echo(
        f"\n  SB now holds {len(rows)} hook flows of ovn-inject (ovn-northd never sees them: the gate hides"
    )
    click.echo("  them); ovn-trace shows the hook as stage 'ls_in_hook_port':")
    click.echo(f"    ovn-trace ls-a 'inport == \"vm1\" && eth.src == {vm1.mac} && eth.dst == {vm2.mac}'")
    return ok


def run(directory: Path, chassis: int, once: bool) -> bool:
    """Bring the sandbox up, show it working; keep it up until Ctrl-C unless ``once``."""
    box = Sandbox(directory)
    started = time.monotonic()
    click.echo(f"Starting a userspace OVN with {chassis} chassis in {box.root} ...")
    box.up(chassis=chassis)
    try:
        topologies.build(box, topologies.DEMO)
        click.echo(f"OVN is up, demo topology built, all ports up ({time.monotonic() - started:.2f} s):")
        click.echo("  tenant-a: switch ls-a with vm1 (hv1), vm2 (hv2), vm3 (hv1), router lr-a")
        click.echo("  tenant-b: switch ls-b with vm4 (hv1), vm5 (hv2)\n")
        ok = True
        for text, check in steps():
            passed = check(box)
            ok = ok and passed
            click.echo(f"  [{'ok' if passed else 'FAILED'}] {text}")
        click.echo("\nNow an IPS of tenant-a quarantines vm1 through ovn-inject:")
        ok = ips_scenario(box) and ok
        click.echo("")
        if once:
            return ok
        click.echo("The sandbox keeps running. In another shell:")
        click.echo(f'  eval "$(ovn-inject sandbox env --dir {shlex.quote(str(directory))})"')
        click.echo("  ovn-nbctl show; ovn-sbctl lflow-list ls-a; ovn-trace ls-a 'inport == \"vm1\" && ...'")
        click.echo("Press Ctrl-C to stop everything.")
        _wait_for_interrupt()
        return ok
    finally:
        box.down()
        click.echo("sandbox stopped")


def _wait_for_interrupt() -> None:
    stop = False

    def handler(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
