"""Walkers, register_bits and builders: what the policy layer and the compiler rely on."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ovn_inject.cli import main
from ovn_inject.lang import (
    LanguageError,
    action_kinds,
    check_actions,
    check_match,
    fields_read,
    fields_written,
    format_actions,
    format_match,
    parse_actions,
    parse_match,
    port_names,
    register_bits,
)
from ovn_inject.lang import build as B

ALL = frozenset(range(32))


def test_fields_read_and_port_names_of_a_match() -> None:
    tree = parse_match('inport == {"vm1", "vm2"} && (tcp.dst == 80 || ct.est) && is_chassis_resident("cr-x")')
    assert fields_read(tree) == {"inport", "tcp.dst", "ct.est"}
    assert port_names(tree) == {"vm1", "vm2", "cr-x"}


def test_fields_written_kinds_and_ports_of_actions() -> None:
    tree = parse_actions(
        'eth.src <-> eth.dst; ip.ttl--; clone { outport = "vm3"; output; }; '
        "ct_commit { ct_mark.blocked = 1; }; reg0[0] = check_in_port_sec(); next(pipeline=egress, table=1);"
    )
    assert fields_written(tree) == {"eth.src", "eth.dst", "ip.ttl", "outport", "ct_mark.blocked", "reg0"}
    assert fields_read(tree) == {"eth.src", "eth.dst", "ip.ttl"}
    assert action_kinds(tree) == {
        "exchange",
        "dec_ttl",
        "clone",
        "load",
        "output",
        "ct_commit",
        "check_in_port_sec",
        "next",
    }
    assert port_names(tree) == {"vm3"}
    assert action_kinds(parse_actions("drop;")) == {"drop"}
    assert action_kinds(parse_actions('log(name="x", verdict=drop); next;')) == {"log", "next"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reg9[0..3] == 2", {"reg9": frozenset({0, 1, 2, 3})}),
        ("reg0 == 1", {"reg0": ALL}),
        # xxreg0 = reg0 (bits 96..127) reg1 reg2 reg3 (bits 0..31)
        ("xxreg0[0..31] == 1", {"reg3": ALL}),
        ("xxreg0[96] == 1", {"reg0": frozenset({0})}),
        ("xxreg1[127] == 1", {"reg4": frozenset({31})}),
        # xreg0 = reg0 (high) + reg1 (low); xreg1 = reg2 + reg3; xreg4 = reg8 + reg9
        ("xreg0[0..1] == 1", {"reg1": frozenset({0, 1})}),
        ("xreg0[63] == 1", {"reg0": frozenset({31})}),
        ("xreg1[32] == 1", {"reg2": frozenset({0})}),
        ("xreg4[0] == 1 && xreg4[33] == 1", {"reg9": frozenset({0}), "reg8": frozenset({1})}),
        ("tcp && ip4.src == 10.0.0.1", {}),
    ],
)
def test_register_bits_of_matches(text: str, expected: dict[str, frozenset[int]]) -> None:
    assert register_bits(parse_match(text)) == expected


def test_register_bits_of_actions_resolves_overlays() -> None:
    tree = parse_actions(
        "xxreg1 = fe80::1; reg9[4..5] = 1; reg0[3] = lookup_arp(inport, arp.spa, arp.sha); next;"
    )
    bits = register_bits(tree)
    assert bits["reg4"] == bits["reg5"] == bits["reg6"] == bits["reg7"] == ALL
    assert bits["reg9"] == {4, 5}
    assert bits["reg0"] == {3}
    affinity = register_bits(parse_actions("reg9[6] = chk_lb_aff(); next;"))
    assert affinity["reg4"] == affinity["reg0"] == affinity["reg7"] == ALL
    assert affinity["reg8"] == frozenset(range(16)) and affinity["reg9"] == {6}
    assert register_bits(parse_actions("reg1[0..7] = reg2[8..15];")) == {
        "reg1": frozenset(range(8)),
        "reg2": frozenset(range(8, 16)),
    }


def test_build_and_print_hook_flows() -> None:
    app = parse_match("tcp.dst == 80 || udp")
    tree = B.match_and(B.eq(B.field("reg9", 0, 3), 2), B.eq("inport", "vm1"), app)
    check_match(tree)
    assert format_match(tree) == 'reg9[0..3] == 2 && inport == "vm1" && (tcp.dst == 80 || udp)'
    assert parse_match(format_match(tree)) == tree
    acts = B.actions(B.load(B.field("reg9", 0, 3), 3), B.next_table(5, "ingress"))
    check_actions(acts)
    assert format_actions(acts) == "reg9[0..3] = 3; next(pipeline=ingress, table=5);"
    assert parse_actions(format_actions(acts)) == acts
    steer = B.actions(B.load("outport", "vm2"), B.output())
    assert format_actions(steer) == 'outport = "vm2"; output;'
    assert B.eq("ip4.src", B.address("10.0.0.0/8"), B.address("192.168.0.1")) == parse_match(
        "ip4.src == {10.0.0.0/8, 192.168.0.1}"
    )


def test_built_trees_are_type_checked() -> None:
    with pytest.raises(LanguageError, match="does not fit in 4-bit subfield"):
        check_match(B.eq(B.field("reg9", 0, 3), 16))
    with pytest.raises(LanguageError, match="unknown port 'vm9'"):
        from ovn_inject.lang import Context

        check_actions(B.actions(B.load("outport", "vm9"), B.output()), Context(ports={"vm1"}))
    with pytest.raises(LanguageError, match="not modifiable"):
        check_actions(B.actions(B.load("ct_state", 1)))


def test_cli_prints_canonical_form_or_error() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["parse", "match", 'tcp.dst==80&&inport=="vm1"', "--port", "vm1"])
    assert ok.exit_code == 0 and ok.output == 'tcp.dst == 80 && inport == "vm1"\n'
    bad = runner.invoke(main, ["parse", "match", "ip4.dts == 1"])
    assert bad.exit_code == 1
    assert "unknown field 'ip4.dts' in OVN 23.03 at column 1; did you mean 'ip4.dst'?" in bad.output
    assert "^" in bad.output
    unknown = runner.invoke(main, ["parse", "actions", 'outport = "vm9"; output;', "--port", "vm1"])
    assert unknown.exit_code == 1 and "unknown port 'vm9'" in unknown.output
    acts = runner.invoke(main, ["parse", "actions", "next(table=3);"])
    assert acts.exit_code == 0 and acts.output == "next(3);\n"
    refs = runner.invoke(main, ["parse", "match", "ip4.src == $as2", "--address-set", "as1"])
    assert refs.exit_code == 1 and "unknown address set '$as2'" in refs.output
