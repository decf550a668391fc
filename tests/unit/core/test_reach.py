"""Rewrite containment and transit scope as pure functions: addresses from NB, rules per hook."""

from __future__ import annotations

import pytest

from ovn_inject.core.hooks import HOOK_POINTS, HOOKS_BY_NAME, DatapathKind, Pipeline, TargetKind
from ovn_inject.core.policy import PolicyError, check_flow
from ovn_inject.core.reach import REWRITES, TIES, Values, Write, rewrite_problem, scope_match
from ovn_inject.core.topology import (
    NbDatapath,
    NbPort,
    Reach,
    build_topology,
    ip_text,
    ip_text_by_ipaddress,
    mac_text,
    port_addresses,
)
from ovn_inject.core.validate import (
    AttachmentView,
    FlowRequest,
    FlowValidationError,
    ServiceView,
    validate_flow,
)

KEY = "neutron:project_id"
A = {KEY: "tenant-a"}
B = {KEY: "tenant-b"}


def shared_topology():  # type: ignore[no-untyped-def]
    return build_topology(
        [
            NbDatapath(
                "ls-a",
                DatapathKind.SWITCH,
                "u-ls-a",
                A,
                (
                    NbPort("vm1", {}, addresses=("02:00:00:00:01:0B 10.0.1.11 fd00::b",)),
                    NbPort(
                        "vm2", {}, addresses=("dynamic",), dynamic_addresses="02:00:00:00:01:0c 10.0.1.12"
                    ),
                    NbPort("vm6", B, addresses=("02:00:00:00:01:10 10.0.1.16",)),
                    NbPort("vm9", {}, addresses=("unknown",)),
                    NbPort(
                        "ls-a-lr-a",
                        {},
                        type="router",
                        addresses=("router",),
                        options={"router-port": "lrp-a"},
                    ),
                    NbPort("ln", {}, type="localnet", addresses=("unknown",)),
                ),
            ),
            NbDatapath(
                "lr-a",
                DatapathKind.ROUTER,
                "u-lr-a",
                A,
                (NbPort("lrp-a", {}, mac="02:00:00:00:01:ff", networks=("10.0.1.1/24", "fd00::1/64")),),
            ),
        ],
        [],
        KEY,
    )


IP_TEXTS = [
    "10.0.1.1", "10.0.1.1/24", "10.0.1.1/024", "10.0.1.1/32", "10.0.1.1/33", "10.0.1.1/",
    "10.0.1.1/255.255.255.0", "10.0.1.1/0.0.0.255", "10.0.1.1/24/1", "010.0.1.1", "10.0.1", "10.0.1.1.1",
    "10..1.1", "256.0.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "239.255.255.255", "223.255.255.255",
    "240.0.0.1", "127.0.0.1", "1.2.3.4 ", ".1.2.3", "1.2.3.", "", "/24", "fd00::1", "fd00::1/64",
    "::ffff:1.2.3.4", "fe80::1%eth0", "ff02::1", "::", "\u0661.2.3.4", "1.2.3.4/\u0662\u0664", "dynamic",
]  # fmt: skip


@pytest.mark.parametrize("text", IP_TEXTS)
def test_an_address_is_read_as_ipaddress_reads_it(text: str) -> None:
    assert ip_text(text) == ip_text_by_ipaddress(text)


def _mac_text_by_regex(text: str) -> str | None:
    """mac_text as it was, with a regex."""
    import re

    if not re.match(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$", text):
        return None
    octets = [int(part, 16) for part in text.split(":")]
    return None if octets[0] & 1 else ":".join(f"{o:02x}" for o in octets)


MAC_TEXTS = [
    "02:00:00:00:01:0B", "2:0:0:0:1:b", "02:00:00:00:01:0b\n", "02:00:00:00:01:0b\n\n", "02:00:00:00:01",
    "02:00:00:00:01:0b:0c", "02:00:00:00:01:", ":00:00:00:01:0b", "002:00:00:00:01:0b", "02:00:00:00:01:0g",
    "02-00-00-00-01-0b", " 02:00:00:00:01:0b", "\u0660\u0662:00:00:00:01:0b", "ff:ff:ff:ff:ff:ff", "",
]  # fmt: skip


@pytest.mark.parametrize("text", MAC_TEXTS)
def test_a_mac_is_read_as_the_regex_read_it(text: str) -> None:
    assert mac_text(text) == _mac_text_by_regex(text)


def test_addresses_are_read_from_nb_and_printed_canonically() -> None:
    assert mac_text("02:00:00:00:01:0B") == "02:00:00:00:01:0b"
    assert mac_text("ff:ff:ff:ff:ff:ff") is None and mac_text("01:00:5e:00:00:01") is None
    assert ip_text("10.0.1.1/24") == "10.0.1.1" and ip_text("224.0.0.1") is None
    assert port_addresses(NbPort("p", {}, addresses=("router",))) == (frozenset(), frozenset())
    assert port_addresses(NbPort("p", {}, addresses=("02:00:00:00:00:01 10.0.0.1 bad",))) == (
        frozenset({"02:00:00:00:00:01"}),
        frozenset({"10.0.0.1"}),
    )
    topology = shared_topology()
    vm2 = topology.port("vm2")
    assert vm2 is not None and vm2.macs == {"02:00:00:00:01:0c"}
    assert topology.peer_switch("lrp-a") == "ls-a"


def test_reach_is_the_tenants_own_endpoints() -> None:
    topology = shared_topology()
    reach = topology.reach("ls-a", "tenant-a")
    assert reach.macs == {"02:00:00:00:01:0b", "02:00:00:00:01:0c"}
    assert reach.ips == {"10.0.1.11", "fd00::b", "10.0.1.12"}
    router = topology.reach("lr-a", "tenant-a")
    assert router.macs == reach.macs and router.router_ips == {"10.0.1.1", "fd00::1"}
    assert topology.reach("ls-a", "tenant-b").macs == {"02:00:00:00:01:10"}


def test_every_hook_has_its_rules() -> None:
    assert set(TIES) == set(REWRITES) == {h.name for h in HOOK_POINTS}
    for hook in HOOK_POINTS:
        assert set(REWRITES[hook.name]) == {"eth.src", "eth.dst", "ip4.src", "ip4.dst", "ip6.src", "ip6.dst"}
        if hook.datapath is DatapathKind.ROUTER:
            assert REWRITES[hook.name]["eth.dst"] is Values.NONE


@pytest.mark.parametrize(
    ("hook", "write", "ok"),
    [
        ("ls-in-port", Write("eth.dst", "02:00:00:00:01:0c"), True),
        ("ls-in-port", Write("eth.dst", "02:00:00:00:01:10"), False),
        ("ls-in-port", Write("eth.dst", "ff:ff:ff:ff:ff:ff"), False),
        ("ls-out-deliver", Write("eth.src", "02:00:00:00:01:10"), False),
        ("ls-in-forward", Write("ip6.src", "fd00::b"), True),
        ("lr-out-snat", Write("ip4.src", "10.0.1.1"), True),
        ("lr-out-snat", Write("eth.dst", "02:00:00:00:01:0b"), False),
        ("lr-in-route", Write("ip4.dst", "10.0.1.16"), False),
        ("ls-out-port", Write("ip4.dst", "10.0.1.1"), False),
    ],
)
def test_rewrite_values_per_hook(hook: str, write: Write, ok: bool) -> None:
    topology = shared_topology()
    dp = "lr-a" if hook.startswith("lr") else "ls-a"
    problem = rewrite_problem([write], HOOKS_BY_NAME[hook], topology.reach(dp, "tenant-a"), dp)
    assert (problem is None) == ok, problem


def test_transit_ports_are_tied_to_own_endpoints() -> None:
    topology = shared_topology()
    ports = topology.scope(TargetKind.LS, "ls-a", "tenant-a")["ls-a"]
    ingress = scope_match(topology, HOOKS_BY_NAME["ls-in-port"], "ls-a", ports, "tenant-a")
    assert ingress == (
        '(inport == {"vm1", "vm2", "vm9"} || (inport == {"ln", "ls-a-lr-a"} && '
        "eth.dst == {02:00:00:00:01:0b, 02:00:00:00:01:0c}))"
    )
    egress = scope_match(topology, HOOKS_BY_NAME["ls-out-port"], "ls-a", {"ls-a-lr-a"}, "tenant-a")
    assert egress == 'outport == "ls-a-lr-a" && inport == {"vm1", "vm2", "vm9"}'
    forward = scope_match(topology, HOOKS_BY_NAME["lr-in-forward"], "lr-a", {"lrp-a"}, "tenant-a")
    assert forward == 'inport == "lrp-a" && (ip4.src == {10.0.1.11, 10.0.1.12} || ip6.src == fd00::b)'
    assert scope_match(topology, HOOKS_BY_NAME["lr-out-snat"], "lr-a", {"lrp-a"}, "tenant-c") is None


@pytest.mark.parametrize(
    ("actions", "words"),
    [
        ("eth.src <-> eth.dst; next;", "exchanged"),
        ("ip4.dst = ip4.src; next;", "copied"),
        ("eth.dst[40] = 1; next;", "whole address"),
        ("ip6.src[0..7] = 1; next;", "whole address"),
    ],
)
def test_addresses_take_constants_only(actions: str, words: str) -> None:
    with pytest.raises(PolicyError, match=words):
        check_flow("1", actions, [Pipeline.INGRESS])


def test_validation_refuses_a_foreign_address_with_403() -> None:
    topology = shared_topology()
    view = ServiceView(
        "ips",
        "tenant-a",
        None,
        (AttachmentView("att-1", "lsp", "vm1", "ls-in-port"),),
        0,
        reach={"att-1": topology.target_reach(TargetKind.LSP, "vm1", "tenant-a")},
    )
    ok = validate_flow(FlowRequest(1, "tcp", "eth.dst = 02:00:00:00:01:0C; next;"), view)
    assert ok.actions == "eth.dst = 02:00:00:00:01:0c; next;"
    with pytest.raises(FlowValidationError, match=r"eth\.dst") as caught:
        validate_flow(FlowRequest(1, "tcp", "eth.dst = 02:00:00:00:01:10; next;"), view)
    assert caught.value.forbidden
    assert Reach(frozenset({"a"})) & Reach(frozenset({"b"})) == Reach()
