"""Steer, spoof and scope on a shared switch, proven with packets (docs/design.md, "What a flow may do").

Tenant-b's vm6 sits on tenant-a's switch ls-a (on the other chassis than
vm1), and tenant-a's router lr-a serves ls-a and tenant-b's ls-b. A service
of tenant-a tries to make a packet reach, or claim to come from, a port of
tenant-b: every attempt is refused by the gateway (and, written straight
into OVN_Inject, reported invalid by the daemon), or compiles to a scope
that leaves tenant-b's traffic alone. Each case comes with its packet check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ovn_inject.core.validate import ValidFlow
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import SHARED, RouterPort, Vm
from tests.integration.gatewayutil import client, inject_api, make_service, stored_flows, wait_hooks_ready
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4, vm5, vm6 = (SHARED.vm(f"vm{n}") for n in range(1, 7))
LRP_A = SHARED.switches[0].router_port
LRP_B = SHARED.switches[1].router_port
assert LRP_A is not None and LRP_B is not None
BROADCAST = "ff:ff:ff:ff:ff:ff"


def gateway_of(vm: Vm) -> RouterPort:
    return LRP_A if SHARED.switch_of(vm.name).name == "ls-a" else LRP_B  # type: ignore[return-value]


def tcp(a: Vm, b: Vm, dport: int) -> bytes:
    return pk.tcp_segment(a.mac, b.mac, a.ip, b.ip, 4000, dport)


def routed(a: Vm, b: Vm) -> bytes:
    """An echo request from ``a`` to ``b`` through lr-a."""
    return pk.icmp_echo(a.mac, gateway_of(a).mac, a.ip, b.ip)


def to_router(a: Vm) -> bytes:
    """An echo request to lr-a's own address: its reply comes back to ``a``."""
    router = gateway_of(a)
    return pk.icmp_echo(a.mac, router.mac, a.ip, router.ip)


@dataclass(frozen=True)
class Probe:
    """Send ``frame`` from ``src``: ``dst`` gets it (or not, ``delivered=False``); ``never`` get nothing."""

    src: str
    frame: bytes
    dst: str
    delivered: bool = True
    never: tuple[str, ...] = ()


def check(box: Sandbox, probe: Probe) -> list[pk.Summary]:
    watch = [probe.dst, *probe.never]
    got = send_and_capture(
        box, probe.src, probe.frame, watch=watch, expect=probe.dst, timeout=1.0, settle=0.1
    )
    for port in probe.never:
        assert not got[port], f"{port} must receive nothing from {probe.src}: {got[port]}"
    summaries = [pk.summarize(f) for f in got[probe.dst]]
    assert bool(summaries) == probe.delivered, (probe, summaries)
    return summaries


@dataclass(frozen=True)
class Case:
    """One attempt: a flow at ``kind:target``/``hook``, and what must become of it."""

    name: str
    target: str  # KIND:NAME
    hook: str
    match: Any
    actions: Any
    refused: str | None  # a word of the 403 message; None: accepted and confined
    probes: tuple[Probe, ...] = field(default=())


def _to_vm2_not_vm6(port: int) -> tuple[Probe, ...]:
    return (Probe("vm1", tcp(vm1, vm2, port), "vm2", never=("vm6",)),)


#: vm1's reply from the router comes back to vm1, never to vm6
SPOOF_PROBE = (Probe("vm1", to_router(vm1), "vm1", never=("vm6",)),)
#: the router's replies reach their own VM only
ROUTER_PROBES = (
    Probe("vm1", to_router(vm1), "vm1", never=("vm6",)),
    Probe("vm6", to_router(vm6), "vm6", never=("vm1", "vm2", "vm3")),
)
#: tenant-b's own traffic on the shared switch and through tenant-a's router
TENANT_B = (
    Probe("vm4", routed(vm4, vm6), "vm6", never=("vm1",)),
    Probe("vm6", routed(vm6, vm4), "vm4"),
    Probe("vm6", to_router(vm6), "vm6", never=("vm1",)),
)

STEER_SPOOF: list[Case] = [
    Case("eth.dst to vm6", "lsp:vm1", "ls-in-port", "tcp.dst == 1001", f"eth.dst = {vm6.mac}; next;",
         "eth.dst", _to_vm2_not_vm6(1001)),
    Case("eth.dst broadcast", "lsp:vm1", "ls-in-port", "tcp.dst == 1002", f"eth.dst = {BROADCAST}; next;",
         "eth.dst", _to_vm2_not_vm6(1002)),
    Case("eth.dst multicast", "lsp:vm1", "ls-in-port", "tcp", "eth.dst = 01:00:5e:00:00:01; next;",
         "eth.dst", _to_vm2_not_vm6(1003)),
    Case("eth.dst to the router", "lsp:vm1", "ls-in-port", "tcp", f"eth.dst = {LRP_A.mac}; next;",
         "eth.dst", _to_vm2_not_vm6(1004)),
    Case("eth.dst to vm6 at forward", "lsp:vm1", "ls-in-forward", "tcp", f"eth.dst = {vm6.mac}; next;",
         "eth.dst", _to_vm2_not_vm6(1005)),
    Case("eth.dst broadcast in clone", "lsp:vm1", "ls-in-port", "tcp",
         f'clone {{ eth.dst = {BROADCAST}; outport = "vm2"; output; }}; next;', "eth.dst",
         _to_vm2_not_vm6(1006)),
    Case("eth.dst to vm6 at switch egress", "lsp:vm2", "ls-out-port", "tcp", f"eth.dst = {vm6.mac}; next;",
         "eth.dst", _to_vm2_not_vm6(1007)),
    Case("eth.dst broadcast at deliver", "ls:ls-a", "ls-out-deliver", "tcp", f"eth.dst = {BROADCAST}; next;",
         "eth.dst", _to_vm2_not_vm6(1008)),
    Case("ofctl eth_dst broadcast, OUTPUT NORMAL", "lsp:vm1", "ls-in-port", {"tcp_dst": 1009, "ip_proto": 6,
         "eth_type": 2048}, [{"type": "SET_FIELD", "field": "eth_dst", "value": BROADCAST},
         {"type": "OUTPUT", "port": "NORMAL"}], "eth.dst", _to_vm2_not_vm6(1009)),
    Case("ofctl eth_dst vm6, OUTPUT NORMAL", "lsp:vm1", "ls-in-port", {"eth_type": 2048},
         [{"type": "SET_FIELD", "field": "eth_dst", "value": vm6.mac}, {"type": "OUTPUT", "port": "NORMAL"}],
         "eth.dst", _to_vm2_not_vm6(1010)),
    Case("eth.src and ip4.src of vm6", "lsp:vm1", "ls-in-port", "icmp4",
         f"eth.src = {vm6.mac}; ip4.src = {vm6.ip}; next;", "eth.src", SPOOF_PROBE),
    Case("ip4.src of vm6", "lsp:vm1", "ls-in-port", "icmp4", f"ip4.src = {vm6.ip}; next;", "ip4.src",
         SPOOF_PROBE),
    Case("eth.src of vm6", "lsp:vm1", "ls-in-port", "icmp4", f"eth.src = {vm6.mac}; next;", "eth.src",
         SPOOF_PROBE),
    Case("ofctl ipv4_src of vm6", "lsp:vm1", "ls-in-port", {"eth_type": 2048},
         [{"type": "SET_FIELD", "field": "ipv4_src", "value": vm6.ip}, {"type": "OUTPUT", "port": "NORMAL"}],
         "ip4.src", SPOOF_PROBE),
    Case("ip4.src of vm6 toward vm1", "lsp:vm1", "ls-out-port", "tcp", f"ip4.src = {vm6.ip}; next;",
         "ip4.src", (Probe("vm2", tcp(vm2, vm1, 1011), "vm1", never=("vm6",)),)),
    Case("ip4.dst of vm6", "lsp:vm1", "ls-in-port", "tcp", f"ip4.dst = {vm6.ip}; next;", "ip4.dst",
         _to_vm2_not_vm6(1012)),
    Case("ip4.dst of vm4 behind the router", "lsp:vm1", "ls-in-port", "icmp4", f"ip4.dst = {vm4.ip}; next;",
         "ip4.dst", (Probe("vm1", to_router(vm1), "vm1", never=("vm4", "vm6")),)),
    Case("ip6.src", "lsp:vm1", "ls-in-port", "ip6", "ip6.src = fd00::16; next;", "ip6.src",
         _to_vm2_not_vm6(1013)),
    Case("ip6.dst", "lsp:vm1", "ls-in-port", "ip6", "ip6.dst = ff02::1; next;", "ip6.dst",
         _to_vm2_not_vm6(1014)),
    Case("arp.tha", "lsp:vm1", "ls-in-port", "arp", f"arp.tha = {vm6.mac}; next;", "arp.tha",
         _to_vm2_not_vm6(1015)),
    Case("arp.spa", "lsp:vm1", "ls-in-port", "arp", f"arp.spa = {vm6.ip}; next;", "arp.spa",
         _to_vm2_not_vm6(1016)),
    Case("eth exchange", "lsp:vm1", "ls-in-port", "tcp", "eth.src <-> eth.dst; next;", "exchanged",
         _to_vm2_not_vm6(1017)),
    Case("ip4 exchange", "lsp:vm1", "ls-in-port", "tcp", "ip4.src <-> ip4.dst; next;", "exchanged",
         _to_vm2_not_vm6(1018)),
    Case("multicast bit", "lsp:vm1", "ls-in-port", "tcp", "eth.dst[40] = 1; next;", "whole address",
         _to_vm2_not_vm6(1019)),
    Case("eth.dst copied", "lsp:vm1", "ls-in-port", "tcp", "eth.dst = eth.src; next;", "copied",
         _to_vm2_not_vm6(1020)),
    Case("router floods its replies", "lr:lr-a", "lr-out-snat", "1", f"eth.dst = {BROADCAST}; next;",
         "eth.dst", ROUTER_PROBES),
    Case("router claims vm1's MAC", "lr:lr-a", "lr-in-forward", "1", f"eth.src = {vm1.mac}; next;",
         "eth.src", ROUTER_PROBES),
    Case("router SNAT to vm6", "lr:lr-a", "lr-out-snat", "ip4", f"ip4.src = {vm6.ip}; next;", "ip4.src",
         ROUTER_PROBES),
    Case("router steers to vm6", "lr:lr-a", "lr-in-route", "ip4", f"ip4.dst = {vm6.ip}; next;", "ip4.dst",
         (Probe("vm1", routed(vm1, vm4), "vm4", never=("vm6",)),)),
]  # fmt: skip

SCOPE: list[Case] = [
    Case("whole shared switch drops", "ls:ls-a", "ls-in-port", "1", "drop;", None,
         (*TENANT_B, Probe("vm1", tcp(vm1, vm2, 2001), "vm2", delivered=False))),
    Case("router-type port drops", "lsp:ls-a-lr-a", "ls-in-port", "1", "drop;", None,
         (*TENANT_B, Probe("vm1", to_router(vm1), "vm1", delivered=False))),
    Case("router-type port at forward", "lsp:ls-a-lr-a", "ls-in-forward", "1", "drop;", None,
         (*TENANT_B, Probe("vm4", routed(vm4, vm1), "vm1", delivered=False))),
    Case("localnet port drops", "lsp:ln-a", "ls-in-port", "1", "drop;", None, TENANT_B),
    Case("router egress drops", "lr:lr-a", "lr-out-snat", "1", "drop;", None,
         (*TENANT_B, Probe("vm1", to_router(vm1), "vm1", delivered=False))),
    Case("router delivery drops", "lr:lr-a", "lr-out-deliver", "1", "drop;", None,
         (*TENANT_B, Probe("vm4", routed(vm4, vm1), "vm1", delivered=False))),
    Case("router ingress drops", "lr:lr-a", "lr-in-route", "1", "drop;", None,
         (*TENANT_B, Probe("vm1", routed(vm1, vm4), "vm4", delivered=False))),
    Case("router forward drops", "lr:lr-a", "lr-in-forward", "1", "drop;", None,
         (*TENANT_B, Probe("vm1", routed(vm1, vm4), "vm4", delivered=False))),
    Case("router port drops", "lrp:lrp-a-ls-a", "lr-out-snat", "1", "drop;", None,
         (*TENANT_B, Probe("vm4", routed(vm4, vm1), "vm1", delivered=False))),
    Case("switch egress drops", "ls:ls-a", "ls-out-port", "1", "drop;", None,
         (*TENANT_B, Probe("vm4", routed(vm4, vm1), "vm1", delivered=False))),
    Case("egress to the router-type port", "lsp:ls-a-lr-a", "ls-out-deliver", "1", "drop;", None,
         (*TENANT_B, Probe("vm1", routed(vm1, vm4), "vm4", delivered=False))),
    Case("ofctl drop-all on the switch", "ls:ls-a", "ls-in-forward", {}, [], None,
         (*TENANT_B, Probe("vm1", tcp(vm1, vm3, 2002), "vm3", delivered=False))),
    Case("steer within the tenant", "lsp:vm1", "ls-in-port", "tcp.dst == 2003",
         f"eth.dst = {vm3.mac}; ip4.dst = {vm3.ip}; next;", None,
         (Probe("vm1", tcp(vm1, vm2, 2003), "vm3", never=("vm2", "vm6")), *TENANT_B)),
]  # fmt: skip
assert len(STEER_SPOOF) + len(SCOPE) >= 25


def _entry(case: Case, priority: int = 5) -> dict[str, Any]:
    return {"priority": priority, "match": case.match, "actions": case.actions}


@pytest.fixture(scope="module")
def shared(sandbox: Sandbox) -> Iterator[Sandbox]:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.SHARED)
    wait_hooks_ready(sandbox)
    yield sandbox


def sync(box: Sandbox) -> None:
    """Until the daemon's rows of every OVN_Inject change so far are on every chassis."""
    env = dict(os.environ, **box.env())
    subprocess.run(
        [sys.executable, "-m", "ovn_inject", "--wait=hv", "sync"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def box(shared: Sandbox) -> Sandbox:
    """The shared topology with no service of an earlier case, every frame of tenant-b delivered."""
    with inject_api(shared) as api:
        api.commit(api.service_del("evil", if_exists=True))  # type: ignore[attr-defined]
    sync(shared)
    for probe in TENANT_B:
        check(shared, probe)
    return shared


def _service(box: Sandbox, case: Case) -> str:
    kind, _, target = case.target.partition(":")
    return make_service(box, "evil", "tenant-a", [(kind, target, case.hook)])


@pytest.mark.parametrize("case", STEER_SPOOF, ids=[c.name for c in STEER_SPOOF])
def test_steer_and_spoof_are_refused(box: Sandbox, case: Case) -> None:
    token = _service(box, case)
    with client(box, token) as http:
        for path in ("/v1/flows/validate", "/v1/flows"):
            response = http.post(path, json=_entry(case))
            assert response.status_code == 403, (path, response.text)
            assert case.refused in response.json()["error"]["message"], response.text
    assert stored_flows(box, "evil") == []
    for probe in case.probes:
        check(box, probe)


#: Refusals that depend on the topology: written into OVN_Inject by hand, the daemon refuses them too.
BY_HAND = [
    c
    for c in STEER_SPOOF
    if isinstance(c.match, str) and c.refused in {"eth.dst", "eth.src", "ip4.src", "ip4.dst"}
]


@pytest.mark.parametrize("case", BY_HAND, ids=[c.name for c in BY_HAND])
def test_daemon_marks_a_hand_written_rewrite_invalid(box: Sandbox, case: Case) -> None:
    token = _service(box, case)
    with inject_api(box) as api:
        api.commit(api.flow_add("evil", [ValidFlow(5, case.match, case.actions, 0, None, 0)]))  # type: ignore[attr-defined]
    with client(box, token) as http:

        def reason() -> str:
            [flow] = http.get("/v1/flows").json()["flows"]
            return str(flow["reason"]) if flow["status"] == "invalid" else ""

        words = str(case.refused)
        wait_until(lambda: words in reason(), f"the daemon marks '{case.name}' invalid")
    for probe in case.probes:
        check(box, probe)


@pytest.mark.parametrize("case", SCOPE, ids=[c.name for c in SCOPE])
def test_scope_leaves_other_tenants_alone(box: Sandbox, case: Case) -> None:
    token = _service(box, case)
    with client(box, token) as http:
        response = http.post("/v1/flows", params={"wait": "hv"}, json=_entry(case))
        assert response.status_code == 201, response.text
        [flow] = http.get("/v1/flows").json()["flows"]
        assert flow["status"] == "installed", flow
    for probe in case.probes:
        check(box, probe)


def test_a_flow_whose_mac_leaves_the_tenant_stops_steering(box: Sandbox) -> None:
    token = make_service(box, "evil", "tenant-a", [("lsp", "vm1", "ls-in-port")])
    steer = {
        "priority": 5,
        "match": "tcp.dst == 3001",
        "actions": f"eth.dst = {vm3.mac}; ip4.dst = {vm3.ip}; next;",
    }
    with client(box, token) as http:
        assert http.post("/v1/flows", params={"wait": "hv"}, json=steer).status_code == 201
    check(box, Probe("vm1", tcp(vm1, vm2, 3001), "vm3", never=("vm2",)))
    box.nbctl("set", "logical_switch_port", "vm3", 'external_ids:"neutron:project_id"="tenant-b"')
    try:
        with client(box, token) as http:

            def status() -> str:
                [flow] = http.get("/v1/flows").json()["flows"]
                return f"{flow['status']} {flow['reason']}"

            wait_until(
                lambda: status().startswith("invalid") and vm3.mac in status(), "the flow turns invalid"
            )
        box.nbctl("--wait=hv", "sync")
        check(box, Probe("vm1", tcp(vm1, vm2, 3001), "vm2", never=("vm3",)))
    finally:
        box.nbctl("set", "logical_switch_port", "vm3", 'external_ids:"neutron:project_id"="tenant-a"')
        box.nbctl("--wait=hv", "sync")


def test_compiled_scope_of_a_router_type_port(box: Sandbox) -> None:
    token = make_service(box, "evil", "tenant-a", [("lsp", "ls-a-lr-a", "ls-in-port")])
    with client(box, token) as http:
        dry = http.post("/v1/flows/validate", json={"priority": 5, "match": "1", "actions": "drop;"})
        assert dry.status_code == 200, dry.text
        [lflow] = dry.json()["flows"][0]["lflows"]
    macs = ", ".join(sorted(v.mac for v in (vm1, vm2, vm3)))
    assert f'inport == "ls-a-lr-a" && eth.dst == {{{macs}}} && (1)' in lflow["match"]
    assert vm6.mac not in lflow["match"]
