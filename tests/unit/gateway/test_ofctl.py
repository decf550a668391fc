"""Ryu ofctl_rest flows -> OVN text: every value is re-printed, bad ones are refused by field."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_inject.core.hooks import Pipeline
from ovn_inject.core.policy import PolicyError, check_flow
from ovn_inject.gateway.ofctl import OfctlError, translate_actions, translate_match
from ovn_inject.lang import LanguageError


@pytest.mark.parametrize(
    ("match", "text"),
    [
        ({}, "1"),
        (
            {"eth_type": 2048, "ipv4_src": "10.0.0.5", "tcp_dst": 80},
            "eth.type == 0x800 && ip4.src == 10.0.0.5 && tcp.dst == 80",
        ),
        ({"in_port": "vm1"}, 'inport == "vm1"'),
        ({"in_port": 'a"b\\c'}, 'inport == "a\\"b\\\\c"'),
        ({"ipv4_dst": "10.0.0.7/255.255.255.0"}, "ip4.dst == 10.0.0.0/24"),
        ({"ipv6_src": "FE80::0:1"}, "ip6.src == fe80::1"),
        (
            {"eth_src": "02:00:00:00:00:0A/ff:ff:ff:00:00:00"},
            "eth.src == 02:00:00:00:00:0a/ff:ff:ff:00:00:00",
        ),
        ({"tcp_dst": "0x50/0xfff0"}, "tcp.dst == 0x50/0xfff0"),
        ({"dl_type": "0x86dd", "nw_proto": 58}, "eth.type == 0x86dd && ip.proto == 58"),
        ({"icmpv4_type": 8, "arp_op": 1, "vlan_vid": 7}, "icmp4.type == 8 && arp.op == 1 && vlan.vid == 7"),
    ],
)
def test_match_translation(match: dict[str, Any], text: str) -> None:
    assert translate_match(match) == text


@pytest.mark.parametrize(
    ("actions", "text"),
    [
        ([], "drop;"),
        ([{"type": "DROP"}], "drop;"),
        ([{"type": "OUTPUT", "port": "NORMAL"}], "next;"),
        ([{"type": "output", "port": "ids1"}], 'outport = "ids1"; output;'),
        (
            [{"type": "SET_FIELD", "field": "ip_dscp", "value": 46}, {"type": "OUTPUT", "port": "TABLE"}],
            "ip.dscp = 46; next;",
        ),
        (
            [{"type": "SET_FIELD", "field": "eth_dst", "value": "02:00:00:00:00:09"}],
            "eth.dst = 02:00:00:00:00:09;",
        ),
        ([{"type": "SET_FIELD", "field": "nw_dst", "value": "10.0.0.9"}], "ip4.dst = 10.0.0.9;"),
        ([{"type": "DEC_NW_TTL"}, {"type": "OUTPUT", "port": "NORMAL"}], "ip.ttl--; next;"),
    ],
)
def test_actions_translation(actions: list[dict[str, Any]], text: str) -> None:
    assert translate_actions(actions) == text


@pytest.mark.parametrize(
    ("match", "field"),
    [
        ({"metadata": 1}, "match.metadata"),
        ({"reg0": 1}, "match.reg0"),
        ({"tcp_dst": 70000}, "match.tcp_dst"),
        ({"tcp_dst": True}, "match.tcp_dst"),
        ({"tcp_dst": "80; drop"}, "match.tcp_dst"),
        ({"ipv4_src": "10.0.0.1 || 1"}, "match.ipv4_src"),
        ({"ipv4_src": "fe80::1"}, "match.ipv4_src"),
        ({"eth_src": "02:00:00:00:00:01 || 1"}, "match.eth_src"),
        ({"in_port": 1}, "match.in_port"),
        ({"in_port": ""}, "match.in_port"),
        ({"eth_type": 2048, "dl_type": 2048}, "match.dl_type"),
    ],
)
def test_bad_matches_name_their_field(match: dict[str, Any], field: str) -> None:
    with pytest.raises(OfctlError) as caught:
        translate_match(match)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ([{"type": "GROUP", "group_id": 1}], "actions[0].type"),
        (["drop"], "actions[0]"),
        ([{"type": "SET_FIELD", "field": "reg0", "value": 1}], "actions[0].field"),
        ([{"type": "SET_FIELD", "field": "metadata", "value": 1}], "actions[0].field"),
        ([{"type": "SET_FIELD", "field": "ipv4_dst", "value": "10.0.0.0/8"}], "actions[0].value"),
        ([{"type": "SET_FIELD", "field": "ip_dscp"}], "actions[0].value"),
        ([{"type": "OUTPUT", "port": 2}], "actions[0].port"),
        ([{"type": "DROP", "extra": 1}], "actions[0]"),
    ],
)
def test_bad_actions_name_their_field(actions: list[Any], field: str) -> None:
    with pytest.raises(OfctlError) as caught:
        translate_actions(actions)
    assert caught.value.field == field


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_fields = st.sampled_from(
    ["in_port", "eth_src", "eth_type", "ipv4_src", "ipv6_dst", "tcp_dst", "arp_op", "x", "nw_tos"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(_fields, _values, max_size=4),
    st.lists(
        st.dictionaries(st.sampled_from(["type", "port", "field", "value"]), _values, max_size=4), max_size=3
    ),
)
def test_any_input_translates_to_policed_ovn_or_is_refused_by_name(
    match: dict[str, Any], actions: list[Any]
) -> None:
    """Whatever the JSON, the result is refused with a field, or is text our parser reads back."""
    try:
        match_text, actions_text = translate_match(match), translate_actions(actions)
    except OfctlError as exc:
        assert exc.field.startswith(("match", "actions"))
        return
    # e.g. ip.dscp matches are refused downstream: never a crash
    with contextlib.suppress(LanguageError, PolicyError):
        check_flow(match_text, actions_text, [Pipeline.INGRESS])
