"""The pure parts of the OpenFlow switch: matches, translation, table semantics, targets, framing."""

from __future__ import annotations

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from ovn_inject.core.validate import FlowRequest, ValidFlow
from ovn_inject.ofswitch import oxm, table, wire
from ovn_inject.ofswitch.errors import OfError
from ovn_inject.ofswitch.identity import port_numbers
from ovn_inject.ofswitch.targets import TargetSyntaxError, parse_target
from ovn_inject.ofswitch.translate import translate_instructions, translate_match

IP4, SRC = ofp.OFPXMT_OFB_ETH_TYPE, ofp.OFPXMT_OFB_IPV4_SRC


def _match(**fields: object) -> dict[int, tuple[int, int]]:
    match = parser.OFPMatch(**fields)
    buf = bytearray()
    match.serialize(buf, 0)
    return oxm.parse_match(bytes(buf))[0]


def test_match_translation_prints_values_again() -> None:
    match = _match(in_port=7, eth_type=0x800, ipv4_src=("10.0.0.0", "255.255.0.0"), ip_proto=6, tcp_dst=22)
    text = translate_match(match, {7: "vm1"})
    assert (
        text
        == 'inport == "vm1" && eth.type == 0x0800 && ip.proto == 6 && ip4.src == 10.0.0.0/16 && tcp.dst == 22'
    )
    with pytest.raises(OfError) as refused:
        translate_match(match, {})
    assert refused.value.code == ofp.OFPBMC_BAD_VALUE


def test_prerequisites_and_bad_wildcards_are_refused() -> None:
    with pytest.raises(OfError) as missing:
        _match(ipv4_src="10.0.0.1")
    assert missing.value.code == ofp.OFPBMC_BAD_PREREQ


def test_instructions() -> None:
    out = parser.OFPActionOutput
    apply = ofp.OFPIT_APPLY_ACTIONS
    ports = {2: "vm2"}
    assert translate_instructions([], ports).text == "drop;"
    got = translate_instructions(
        [parser.OFPInstructionActions(apply, [parser.OFPActionSetField(ip_dscp=46), out(2)])], ports
    )
    assert got.text == 'ip.dscp = 46; outport = "vm2"; output;' and got.output == 2
    assert translate_instructions([parser.OFPInstructionGotoTable(1)], ports).text == "next;"
    assert translate_instructions(
        [parser.OFPInstructionActions(apply, [out(ofp.OFPP_NORMAL)])], ports
    ).text == ("next;")
    with pytest.raises(OfError) as bad:
        translate_instructions([parser.OFPInstructionActions(apply, [out(9)])], ports)
    assert bad.value.code == ofp.OFPBAC_BAD_OUT_PORT


def test_covers_and_overlaps() -> None:
    wide, narrow = _match(eth_type=0x800), _match(eth_type=0x800, ipv4_src="10.0.0.1")
    assert oxm.covers(wide, narrow) and not oxm.covers(narrow, wide)
    assert oxm.overlaps(wide, narrow)
    assert not oxm.overlaps(narrow, _match(eth_type=0x800, ipv4_src="10.0.0.2"))


def _mod(command: int, match: oxm.Match, priority: int = 10, cookie: int = 0, mask: int = 0) -> table.FlowMod:
    valid = ValidFlow(priority, f"m{sorted(match.items())}", "drop;", cookie, None, 0)
    return table.FlowMod(
        1,
        b"",
        command,
        cookie,
        mask,
        priority,
        0,
        0,
        0,
        ofp.OFPP_ANY,
        match,
        b"",
        valid=valid,
        actions="next;",
    )


def _validate(request: FlowRequest) -> ValidFlow:
    return ValidFlow(request.priority, request.match, request.actions, request.cookie, None, 0)


def test_add_replaces_the_same_flow_and_delete_selects_by_cookie() -> None:
    m = _match(eth_type=0x800)
    results, changes = table.apply([], [_mod(table.ADD, m), _mod(table.ADD, m, cookie=5)], None, _validate)
    assert results == [None, None] and [f.cookie for f in changes.inserts] == [5]
    stored = [table.StoredFlow("a", 10, 5, "x", "drop;", match=m, from_openflow=True)]
    _, changes = table.apply(stored, [_mod(table.DELETE, {}, cookie=4, mask=0xFF)], None, _validate)
    assert changes.deletes == []
    _, changes = table.apply(stored, [_mod(table.DELETE, {}, cookie=5, mask=0xFF)], None, _validate)
    assert [f.id for f in changes.deletes] == ["a"]
    results, _ = table.apply(stored, [_mod(table.ADD, _match(eth_type=0x806))], 1, _validate)
    assert results[0] is not None and results[0].code == ofp.OFPFMFC_TABLE_FULL


def test_targets() -> None:
    assert parse_target("ptcp:6653").endpoint == ("127.0.0.1", 6653)
    assert parse_target("tcp:[::1]:6633").endpoint == ("::1", 6633)
    for bad in ("tcp:6653", "punix:/x", "ptcp:x"):
        with pytest.raises(TargetSyntaxError):
            parse_target(bad)


def test_port_numbers_are_stable_and_distinct() -> None:
    numbers = port_numbers(["vm1", "vm2", "vm3"])
    assert len(set(numbers.values())) == 3 and all(1 <= n <= 0xFEFF for n in numbers.values())
    assert port_numbers(["vm1"])["vm1"] == numbers["vm1"]


def test_framer_cuts_messages_and_refuses_short_lengths() -> None:
    framer = wire.Framer()
    data = wire.hello() + wire.barrier_reply(3)
    assert list(framer.feed(data[:5])) == []
    assert [m[1] for m in framer.feed(data[5:])] == [ofp.OFPT_HELLO, ofp.OFPT_BARRIER_REPLY]
    with pytest.raises(wire.FramingError):
        list(framer.feed(b"\x04\x00\x00\x04\x00\x00\x00\x00"))
