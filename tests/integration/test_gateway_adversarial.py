"""Attempts to escape a service's scope through the gateway: each is refused, or compiles harmless.

The service belongs to tenant-a and is attached to vm1's ingress only. A
refusal must come with the right status and a message naming the problem;
an accepted flow must compile to ``cursor && inport == "vm1" && (...)``, and
packets show that tenant-b (vm4 <-> vm5) and tenant-a's other ports see
exactly what they saw before.
"""

from __future__ import annotations

from typing import Any

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO
from tests.integration.gatewayutil import client, make_service, stored_flows, wait_hooks_ready

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4, vm5 = (DEMO.vm(f"vm{n}") for n in range(1, 6))
HUGE_SET = "ip4.src == {" + ", ".join(f"10.9.{i // 250}.{i % 250}" for i in range(400)) + "}"
PORTS_THEN_VM4 = "inport == {" + ", ".join(['"vm1"'] * 300) + ', "vm4"}'

#: (match, actions, status, words the message must hold)
REFUSED: list[tuple[str, str, int, str]] = [
    ('1 || inport == "vm4"', "drop;", 403, "vm4"),
    ('inport == {"vm1", "vm4"}', "drop;", 403, "vm4"),
    ('inport == {"vm1", "vm5"}', "drop;", 403, "vm5"),
    ('outport == "vm5"', "drop;", 403, "vm5"),
    ('inport != "vm4"', "drop;", 400, "equality"),
    ('!(inport == "vm1")', "drop;", 400, "equality"),
    ('tcp.dst == 80 && (inport == "vm1" || outport == "vm4")', "drop;", 403, "vm4"),
    ('ct.est && inport == "vm4"', "drop;", 403, "vm4"),
    (PORTS_THEN_VM4, "drop;", 403, "vm4"),
    ('inport == "lrp-a-ls-a"', "drop;", 403, "lrp-a-ls-a"),
    ('inport == "vm1\\" || 1 || \\"vm4"', "drop;", 403, "is not a port"),
    ('inport == "vm1\\\\" || inport == "vm4"', "drop;", 403, "is not a port"),
    ('inport == "vm\uff14"', "drop;", 403, "is not a port"),
    ("1", 'outport = "vm4"; output;', 403, "vm4"),
    ("1", 'ip4.dst = 10.0.2.15; outport = "vm5"; output;', 403, "vm5"),
    ("1", 'drop; outport = "vm4"; output;', 400, "cannot be combined"),
    ("1", 'outport = "vm4"; output; drop;', 400, "cannot be combined"),
    ("1", 'clone { outport = "vm4"; output; };', 403, "vm4"),
    ("1", "clone { next; };", 403, "clone"),
    ("1", "next(pipeline=egress, table=0);", 403, "next(...)"),
    ("1", "next(pipeline=ingress, table=4);", 403, "next(...)"),
    ("1", "next(table=10);", 403, "next(...)"),
    ("1", "output;", 403, "outport"),
    ("1", "reg0 = 1; next;", 403, "reg0"),
    ("1", "reg9[0..3] = 15; next;", 403, "reg9"),
    ("1", "reg9 = 0; next;", 403, "reg9"),
    ("1", "flags.loopback = 1; next;", 403, "flags.loopback"),
    ("1", 'inport = "vm4"; next;', 403, "inport"),
    ("1", "outport = inport; output;", 403, "outport"),
    ("1", "inport <-> outport; next;", 403, "inport"),
    ("1", "ct_commit { };", 403, "ct_commit"),
    ("1", "ct_dnat(10.0.2.14);", 403, "ct_dnat"),
    ("1", "log(verdict=allow);", 403, "log"),
    ("1", "put_arp(inport, arp.spa, arp.sha);", 403, "put_arp"),
    ("1", "set_queue(1);", 403, "set_queue"),
    ("icmp4", "icmp4 { eth.dst <-> eth.src; ip4.dst <-> ip4.src; output; };", 403, "icmp4"),
    ("reg9[0..3] == 0", "drop;", 403, "reg9"),
    ("flags.loopback == 1", "drop;", 403, "flags.loopback"),
    ("ct_mark == 1", "drop;", 403, "ct_mark"),
    ("ip4.src == $as_b", "drop;", 403, "address sets"),
    ("inport == @pg_b", "drop;", 403, "port groups"),
    ('is_chassis_resident("vm4")', "drop;", 403, "is_chassis_resident"),
    ("ip.ttl == 0x1/0x1", "drop;", 400, "ip.ttl"),
    ("eth.src == 10.0.0.1", "drop;", 400, "eth.src"),
    ("ip.dscp == 10", "drop;", 400, "ip.dscp"),
    ("1 ) || ( 1", "drop;", 400, "column"),
    ('inport == "vm1"\n|| 1', "drop;", 400, "control character"),
    ('inport == "vm1"\x00', "drop;", 400, "control character"),
    (HUGE_SET, "drop;", 400, "characters long"),
    ("1", "ct.est = 1; next;", 400, "ct.est"),
    ("1", "drop", 400, "column"),
    # rewrites toward another tenant, or of addresses from the packet (docs/application.md)
    ("tcp", "eth.src <-> eth.dst; next;", 403, "exchanged"),
    ("udp", f"ip4.dst = {vm5.ip}; next;", 403, "ip4.dst"),
    ("icmp4.type == 13", f"eth.dst = {vm5.mac}; next;", 403, "eth.dst"),
]
#: Entries whose refusal is not about match/actions: (changes to a plain flow, status, words).
REFUSED_FIELDS: list[tuple[dict[str, Any], int, str]] = [
    ({"priority": 65535}, 400, "priority"),
    ({"priority": -1}, 400, "priority"),
    ({"attachment": "ls:ls-b"}, 400, "no attachment"),
    ({"attachment": "00000000"}, 400, "no attachment"),
    ({"hard_timeout": 1 << 40}, 400, "hard_timeout"),
]
#: Accepted: valid and within policy, and confined by the compiled scope.
ACCEPTED: list[tuple[str, str]] = [
    ("1 || 1", "next;"),
    (f"ip4.src == {vm4.ip}", "drop;"),
    (f"ip4.dst == {vm5.ip} && icmp4", "drop;"),
    ('tcp.dst == 26 /* "vm4" */', "drop;"),
    ("tcp", f"eth.src = {vm3.mac}; next;"),
    ("udp", f"ip4.dst = {vm3.ip}; next;"),
    ("icmp4.type == 13", f"eth.dst = {vm2.mac}; next;"),
    ("tcp.dst == 23", 'outport = "vm3"; output;'),
    ("tcp.dst == 24", 'clone { outport = "vm3"; output; }; next;'),
    ("ip4 && ip.ttl == 9", "ip.ttl = 1; next;"),
    ('inport == "vm1" && tcp.dst == 25', "drop;"),
    ("1", "drop;"),  # last: the highest priority, so that every packet of vm1 stops
]
assert len(REFUSED) + len(REFUSED_FIELDS) + len(ACCEPTED) >= 40


@pytest.fixture(scope="module")
def attacker(sandbox: Sandbox) -> tuple[Sandbox, str]:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    sandbox.nbctl(
        "--", "create", "address_set", "name=as_b", 'addresses="10.0.2.14"', "--", "pg-add", "pg_b", "vm4"
    )
    wait_hooks_ready(sandbox)
    return sandbox, make_service(sandbox, "evil", "tenant-a", [("lsp", "vm1", "ls-in-port")])


@pytest.mark.parametrize(("match", "actions", "status", "words"), REFUSED, ids=range(len(REFUSED)))
def test_escape_is_refused(
    attacker: tuple[Sandbox, str], match: str, actions: str, status: int, words: str
) -> None:
    box, token = attacker
    with client(box, token) as http:
        for path in ("/v1/flows", "/v1/flows/validate", "/v1/flows/replace"):
            response = http.post(path, json={"priority": 5, "match": match, "actions": actions})
            assert response.status_code == status, (path, response.text)
            assert words in response.json()["error"]["message"], response.text
    assert stored_flows(box, "evil") == []


@pytest.mark.parametrize(("change", "status", "words"), REFUSED_FIELDS, ids=range(len(REFUSED_FIELDS)))
def test_escape_through_other_fields_is_refused(
    attacker: tuple[Sandbox, str], change: dict[str, Any], status: int, words: str
) -> None:
    box, token = attacker
    with client(box, token) as http:
        response = http.post("/v1/flows", json={"priority": 5, "match": "1", "actions": "drop;", **change})
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    assert stored_flows(box, "evil") == []


def _frames() -> list[tuple[str, str, bytes]]:
    """Traffic of tenant-b, and of tenant-a's ports outside the attachment: (from, to, frame)."""
    return [
        ("vm4", "vm5", pk.icmp_echo(vm4.mac, vm5.mac, vm4.ip, vm5.ip)),
        ("vm5", "vm4", pk.tcp_segment(vm5.mac, vm4.mac, vm5.ip, vm4.ip, 4000, 23)),
        ("vm4", "vm5", pk.udp_datagram(vm4.mac, vm5.mac, vm4.ip, vm5.ip, 53, 53)),
        ("vm3", "vm2", pk.tcp_segment(vm3.mac, vm2.mac, vm3.ip, vm2.ip, 4000, 24)),
        ("vm2", "vm3", pk.icmp_echo(vm2.mac, vm3.mac, vm2.ip, vm3.ip)),
    ]


def _observe(box: Sandbox) -> list[list[bytes]]:
    """What each frame of :func:`_frames` delivers to its destination."""
    return [
        send_and_capture(box, src, frame, watch=[dst], expect=dst, timeout=1.0, settle=0.1)[dst]
        for src, dst, frame in _frames()
    ]


def test_accepted_flows_are_confined_to_the_attachment(attacker: tuple[Sandbox, str]) -> None:
    box, token = attacker
    before = _observe(box)
    assert before == [[frame] for _, _, frame in _frames()], "the demo delivers each frame once, unchanged"
    entries = [{"priority": 100 + i, "match": m, "actions": a} for i, (m, a) in enumerate(ACCEPTED)]
    with client(box, token) as http:
        dry = http.post("/v1/flows/validate", json=entries)
        assert dry.status_code == 200, dry.text
        for flow in dry.json()["flows"]:
            assert flow["lflows"], flow
            for lflow in flow["lflows"]:
                assert lflow["datapath"] == "ls-a"
                assert (
                    lflow["match"].startswith("reg9[")
                    and f'&& inport == "vm1" && ({flow["match"]})' in lflow["match"]
                )
        added = http.post("/v1/flows", params={"wait": "hv"}, json=entries)
        assert added.status_code == 201, added.text
        assert {f["status"] for f in http.get("/v1/flows").json()["flows"]} == {"installed"}
    try:
        assert _observe(box) == before
        assert not send_and_capture(
            box, "vm1", pk.icmp_echo(vm1.mac, vm2.mac, vm1.ip, vm2.ip), watch=["vm2"], settle=0.2
        )["vm2"], "the accepted 'drop everything' does act on vm1"
    finally:
        with client(box, token) as http:
            http.post("/v1/flows/replace", params={"wait": "hv"}, json=[])
