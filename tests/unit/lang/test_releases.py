"""The per-release tables: detection from the SB schema, --release strings, register bits."""

from __future__ import annotations

import pytest

from ovn_inject.lang import Context, LanguageError, ReleaseError, parse_actions, parse_match, register_bits
from ovn_inject.lang.releases import DEFAULT, NEWEST, RELEASES, SUPPORTED, from_schema, parse_release

#: OVN_Southbound schema version at every x.y.0 tag (ovn-sb.ovsschema) and at the point
#: releases that changed it.
SCHEMAS = {
    "20.27.0": "23.03",
    "20.27.4": "23.09",
    "20.29.0": "23.09",  # 23.09.1
    "20.32.0": "23.09",  # 23.09.4
    "20.33.0": "24.03",
    "20.37.0": "24.09",
    "20.41.0": "25.03",
    "21.5.0": "25.09",
    "21.8.0": "26.03",
}


@pytest.mark.parametrize(("schema", "release"), SCHEMAS.items())
def test_schema_maps_to_release(schema: str, release: str) -> None:
    found = from_schema(schema)
    assert found.release.name == release and not found.newer and not found.older


def test_unknown_schemas_are_flagged() -> None:
    newer = from_schema("21.9.0")
    assert newer.release is NEWEST and newer.newer
    older = from_schema("20.21.0")
    assert older.release is DEFAULT and older.older
    with pytest.raises(ReleaseError):
        from_schema("banana")


def test_release_strings() -> None:
    assert parse_release("26.03").name == "26.03"
    assert parse_release("26.03.1").name == "26.03"
    assert parse_release("v25.03.0").name == "25.03"
    for bad in ("26", "26.3.x", "27.03", ""):
        with pytest.raises(ReleaseError):
            parse_release(bad)
    assert [r.name for r in SUPPORTED] == ["23.03", "24.03", "25.03", "26.03"]
    assert next(iter(RELEASES)) == "23.03" and NEWEST.name == "26.03"


def test_default_is_23_03() -> None:
    with pytest.raises(LanguageError, match=r"in OVN 23\.03"):
        parse_match("flags.tunnel_rx == 1")
    parse_match("ct_label.natted == 1")


def test_dropped_field_is_refused_with_the_release_named() -> None:
    with pytest.raises(LanguageError, match=r"unknown field 'ct_label.natted' in OVN 26.03"):
        parse_match("ct_label.natted == 1", Context(release="26.03"))


def test_register_bits_of_new_fields() -> None:
    obs = parse_actions("ct_commit { ct_label.obs_point_id = reg9; }; next;", Context(release="26.03"))
    assert register_bits(obs, "26.03") == {"reg9": frozenset(range(32))}
    remote = parse_match('remote_outport == "p1"', Context(release="26.03"))
    assert register_bits(remote, "26.03") == {"reg1": frozenset(range(32))}
    flags = parse_match("flags.tunnel_rx == 1 && ct_mark.allow_established == 1", Context(release="26.03"))
    assert register_bits(flags, "26.03") == {}  # flags are reg10, ct_mark is conntrack: no logical register


def test_implicit_writes_follow_the_release() -> None:
    aff = "reg9[6] = chk_lb_aff(); next;"
    old = register_bits(parse_actions(aff), "23.03")
    new = register_bits(parse_actions(aff, Context(release="26.03")), "26.03")
    assert set(old) == {"reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9"}
    assert new["reg2"] >= frozenset(range(16)) and new["reg8"] >= frozenset(range(16))
    save = parse_actions("reg0[0..7] = ct_state_save(); next;", Context(release="26.03"))
    assert register_bits(save, "26.03") == {"reg0": frozenset(range(8)), "reg4": frozenset(range(8))}
    scratch = parse_actions("reg0 = ct_nw_dst(); next;", Context(release="25.03"))
    assert register_bits(scratch, "25.03") == {"reg0": frozenset(range(32)), "reg1": frozenset(range(32))}


def test_next_table_bound_per_pipeline() -> None:
    egress = Context(release="26.03", pipeline="egress")
    with pytest.raises(LanguageError, match=r"beyond table 15 in OVN 26\.03"):
        parse_actions("next(20);", egress)
    parse_actions("next(20);", Context(release="26.03", pipeline="ingress"))
    parse_actions("next(pipeline=ingress, table=33);", egress)
