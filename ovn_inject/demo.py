"""What ``make run`` shows: the whole stack on a 2-chassis sandbox, and an IPS at work.

Every step sends a real packet into a VM's port and reports where it arrived.
First plain OVN (tunnels, router, port security, tenant isolation), then an
IPS application, talking only HTTP to the gateway, quarantines vm1: the
packet that arrived before is dropped on vm1's own chassis afterwards, while
everyone else is untouched. Then tenant-b registers its own IPS itself,
through the gateway's tenant API, with one credential from the operator.
"""

from __future__ import annotations

import json
import shlex
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ovn_inject.sandbox import Sandbox, apps
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.probe import send_and_capture

DEMO = topologies.DEMO
VM1, VM2, VM3, VM4, VM5 = (DEMO.vm(f"vm{n}") for n in range(1, 6))
ROUTER = DEMO.switches[0].router_port or topologies.RouterPort("", "", "")

Step = tuple[str, Callable[[Sandbox], bool]]


def _delivered(box: Sandbox, src: str, frame: bytes, dst: str, expect: bool) -> bool:
    got = send_and_capture(box, src, frame, watch=[dst], expect=dst if expect else None)
    return bool(got[dst]) == expect


def _ping(a: topologies.Vm, b: topologies.Vm) -> bytes:
    return pk.icmp_echo(a.mac, b.mac, a.ip, b.ip)


def _router_replies(box: Sandbox) -> bool:
    got = send_and_capture(box, "vm1", pk.icmp_echo(VM1.mac, ROUTER.mac, VM1.ip, ROUTER.ip), [], "vm1")
    return any(pk.summarize(f).icmp_type == 0 for f in got["vm1"])


def plain_ovn_steps() -> list[Step]:
    spoofed = pk.icmp_echo("02:00:00:00:01:99", VM3.mac, VM1.ip, VM3.ip)
    to_vm4 = pk.icmp_echo(VM1.mac, ROUTER.mac, VM1.ip, VM4.ip)
    return [
        ("vm1 (hv1) pings vm2 (hv2): the packet crosses the geneve tunnel and arrives",
         lambda box: _delivered(box, "vm1", _ping(VM1, VM2), "vm2", True)),
        ("vm1 pings its router lr-a (10.0.1.1): the router answers", _router_replies),
        ("vm1 forges its source MAC: port security drops the packet",
         lambda box: _delivered(box, "vm1", spoofed, "vm3", False)),
        ("vm1 (tenant-a) tries to reach vm4 (tenant-b): no route, nothing arrives",
         lambda box: _delivered(box, "vm1", to_vm4, "vm4", False)),
    ]  # fmt: skip


def _inject(box: Sandbox, *args: str, show: bool = True) -> str:
    if show:
        click.echo(f"  $ ovn-inject {shlex.join(args)}")
    return apps.inject(box, *args)


def _app(box: Sandbox, token: str, script: str, *args: str) -> dict[str, object]:
    """Run an example application unchanged: it knows only the gateway's URL and its token."""
    click.echo(f"  $ python examples/{script} {shlex.join(args)}")
    answer = apps.run_example(box, token, script, *args)
    click.echo(f"    {json.dumps(answer)}")
    return answer


def _report(passed: bool, text: str) -> bool:
    click.echo(f"  [{'ok' if passed else 'FAILED'}] {text}")
    return passed


def ips_scenario(box: Sandbox) -> tuple[bool, str]:
    """The operator registers an IPS; the IPS application quarantines vm1. Returns (ok, token)."""
    click.echo("The operator registers tenant-a's IPS and attaches it to switch ls-a, before conntrack:")
    _inject(box, "service-add", "ips", "--tenant", "tenant-a", "--description", "quarantines VMs on alert")
    _inject(box, "attach-add", "ips", "ls:ls-a", "--hook", "ls-in-port")
    token = _inject(box, "token-create", "ips", "--description", "make run demo", show=False)
    click.echo("  $ ovn-inject token-create ips      # the IPS application's token\n")

    ok = _report(
        _delivered(box, "vm1", _ping(VM1, VM2), "vm2", True), "before: vm1 (hv1) -> vm2 (hv2) arrives on hv2"
    )
    click.echo("\nThe IPS raises an alert on vm1 and asks the gateway (HTTP + token) to quarantine it:")
    _app(box, token, "ips_quarantine.py", "quarantine", "vm1", VM1.ip)
    click.echo("")
    ok &= _report(
        _delivered(box, "vm1", _ping(VM1, VM2), "vm2", False),
        "after: vm1 (hv1) -> vm2 (hv2) no longer arrives",
    )
    trace = box.ofproto_trace(
        "hv1", f"in_port=vm1,icmp,dl_src={VM1.mac},dl_dst={VM2.mac},nw_src={VM1.ip},nw_dst={VM2.ip},nw_ttl=64"
    )
    ok &= _report(
        "Datapath actions: drop" in trace,
        "hv1, vm1's own chassis, drops it (ofproto/trace: 'Datapath actions: drop'): it never "
        "reaches the tunnel",
    )
    ok &= _report(
        _delivered(box, "vm2", _ping(VM2, VM1), "vm1", False), "vm2 -> vm1: nothing reaches vm1 either"
    )
    ok &= _report(
        _delivered(box, "vm3", _ping(VM3, VM2), "vm2", True), "vm3 -> vm2: not quarantined, arrives"
    )
    ok &= _report(_delivered(box, "vm4", _ping(VM4, VM5), "vm5", True), "vm4 -> vm5 (tenant-b): untouched")
    rows = box.sbctl(
        "--bare", "--columns=_uuid", "find", "Logical_Flow", 'external_ids:ovn-inject="1"'
    ).split()
    microflow = (
        f'inport == "vm1" && eth.src == {VM1.mac} && eth.dst == {VM2.mac} && '
        f"ip4.src == {VM1.ip} && ip4.dst == {VM2.ip} && ip.ttl == 64"
    )
    hook_lines = [
        line.strip() for line in box.ovn_trace("ls-a", microflow).splitlines() if "ls_in_hook" in line
    ]
    click.echo(
        f"\nSB holds {len(rows)} hook flows of ovn-inject; ovn-northd never sees them (the northd gate"
    )
    click.echo("hides them) and ovn-controller installs them like its own. ovn-trace shows the hook:")
    click.echo(f"  $ ovn-trace ls-a '{microflow}'")
    for line in hook_lines[:2]:
        click.echo(f"    {line}")
    return ok, token


def _tenant_call(
    box: Sandbox, credential: str, method: str, path: str, body: dict[str, object] | None
) -> Any:
    """One request of the tenant's installer to the gateway, shown as the curl command that does the same."""
    data = f" -d '{json.dumps(body)}'" if body is not None else ""
    click.echo(
        f'  $ curl -X {method} -H "Authorization: Bearer $TENANT_TOKEN" $OVN_INJECT_GATEWAY{path}{data}'
    )
    request = urllib.request.Request(
        box.gateway_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30.0) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        status, answer = refused.code, json.loads(refused.read())
    shown = {k: v for k, v in answer.items() if k != "token"} if isinstance(answer, dict) else answer
    click.echo(f"    {status} {json.dumps(shown)[:150]}")
    return answer


def self_service_scenario(box: Sandbox) -> bool:
    """Tenant-b registers its own IPS through the gateway, with no ticket to the operator in between."""
    click.echo("Self-service: the operator gives tenant-b one credential; tenant-b does the rest over HTTP.")
    credential = _inject(box, "tenant-token-create", "tenant-b", "--max-services", "5", show=False)
    click.echo("  $ ovn-inject tenant-token-create tenant-b --max-services 5   # -> $TENANT_TOKEN\n")
    click.echo(
        "tenant-b's installer registers its IPS (the name 'ips' is tenant-b's own: tenant-a has one too):"
    )
    elements = _tenant_call(box, credential, "GET", "/v1/tenant/elements", None)
    ok = _report(
        [s["name"] for s in elements["switches"]] == ["ls-b"],
        "tenant-b sees its own switch ls-b, nothing of tenant-a's",
    )
    _tenant_call(
        box, credential, "POST", "/v1/tenant/services", {"name": "ips", "description": "intrusion prevention"}
    )
    _tenant_call(
        box,
        credential,
        "POST",
        "/v1/tenant/services/ips/attachments",
        {"target": "ls:ls-b", "hook": "ls-in-port"},
    )
    refused = _tenant_call(
        box,
        credential,
        "POST",
        "/v1/tenant/services/ips/attachments",
        {"target": "ls:ls-a", "hook": "ls-in-port"},
    )
    ok &= _report(
        refused.get("error", {}).get("code") == "not_found", "tenant-a's ls-a is not tenant-b's to attach to"
    )
    token = _tenant_call(box, credential, "POST", "/v1/tenant/services/ips/tokens", {"description": "IPS"})[
        "token"
    ]
    click.echo("    (the answer's 'token' is the IPS application's token, shown this once)\n")
    ok &= _report(
        _delivered(box, "vm4", _ping(VM4, VM5), "vm5", True), "before: vm4 (hv1) -> vm5 (hv2) arrives"
    )
    click.echo("tenant-b's IPS raises an alert on vm4 and quarantines it, with the token it just got:")
    _app(box, token, "ips_quarantine.py", "quarantine", "vm4", VM4.ip)
    ok &= _report(
        _delivered(box, "vm4", _ping(VM4, VM5), "vm5", False), "after: vm4 -> vm5 no longer arrives"
    )
    ok &= _report(_delivered(box, "vm3", _ping(VM3, VM2), "vm2", True), "vm3 -> vm2 (tenant-a): untouched")
    listed = _inject(box, "service-list", show=True)
    for line in listed.splitlines():
        click.echo(f"    {line}")
    return ok


def run(directory: Path, chassis: int, once: bool) -> bool:
    """Bring the stack up, show it working; keep it up until Ctrl-C unless ``once``."""
    box = Sandbox(directory)
    started = time.monotonic()
    click.echo(f"Starting OVN and ovn-inject with {chassis} chassis in {box.root} ...")
    box.up(chassis=chassis)
    try:
        topologies.build(box, DEMO)
        click.echo(
            f"Up in {time.monotonic() - started:.1f} s: NB and SB, ovn-northd (through the northd gate),"
        )
        click.echo(
            "ovn-inject's compiler daemon and gateway, and a chassis per hypervisor, all in userspace."
        )
        click.echo("  tenant-a: switch ls-a with vm1 (hv1), vm2 (hv2), vm3 (hv1), router lr-a")
        click.echo("  tenant-b: switch ls-b with vm4 (hv1), vm5 (hv2)\n")
        ok = True
        for text, check in plain_ovn_steps():
            ok &= _report(check(box), text)
        click.echo("")
        passed, token = ips_scenario(box)
        ok &= passed
        click.echo("")
        ok &= self_service_scenario(box)
        click.echo("")
        if once:
            click.echo("All steps passed." if ok else "Some steps FAILED.")
            return ok
        click.echo("The stack keeps running. In another shell:")
        click.echo(f'  eval "$(ovn-inject sandbox env --dir {shlex.quote(str(directory))})"')
        click.echo("  ovn-inject flow-list; ovn-sbctl lflow-list ls-a; ovn-inject hook-list")
        click.echo(f"  gateway: {box.gateway_url}  (API at /docs)")
        click.echo(f"  export TOKEN={token}   # the IPS application's token")
        click.echo('  curl -H "Authorization: Bearer $TOKEN" $OVN_INJECT_GATEWAY/v1/flows')
        click.echo("Press Ctrl-C to stop everything.")
        _wait_for_interrupt()
        return ok
    finally:
        box.down()
        click.echo("stack stopped")


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
