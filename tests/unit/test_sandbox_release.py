"""The pure parts of release detection, feature selection and the register-use measure."""

from __future__ import annotations

import pytest

from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import features
from ovn_inject.sandbox.register_use import measure, ranges, textual_bits, without_resets
from ovn_inject.sandbox.release import Release, parse_version, schema_has

SCHEMA = {
    "tables": {
        "ACL": {
            "columns": {
                "tier": {"type": "integer"},
                "action": {"type": {"key": {"type": "string", "enum": ["set", ["allow", "pass"]]}}},
            }
        },
        "Sampling_App": {"columns": {}},
        "Logical_Router_Policy": {
            "columns": {"action": {"type": {"key": {"type": "string", "enum": ["set", ["allow", "drop"]]}}}}
        },
    }
}


def test_parse_version_reads_nbctl() -> None:
    assert parse_version("ovn-nbctl 26.03.1\nOpen vSwitch Library 3.7.1\n") == Release(26, 3, 1)
    assert str(Release(25, 3, 0)) == "25.03.0"
    assert Release(23, 3, 1) < Release(23, 9) < Release(26, 3)
    with pytest.raises(SandboxError, match="cannot read an OVN release"):
        parse_version("ovs-vsctl (Open vSwitch) 3.1.0")


@pytest.mark.parametrize(
    ("need", "has"),
    [
        ("ACL", True),
        ("Network_Function", False),
        ("ACL.tier", True),
        ("ACL.sample_new", False),
        ("ACL.action=pass", True),
        ("Logical_Router_Policy.action=jump", False),
        ("ACL.tier=1", False),  # not an enum
    ],
)
def test_schema_has(need: str, has: bool) -> None:
    assert schema_has(SCHEMA, need) is has


def test_features_skip_what_the_schema_lacks() -> None:
    on, off = features.supported(SCHEMA)
    names_off = {feature.name for feature in off}
    assert {"router-policy-chain", "network-function", "mirror-lport", "acl-sample"} <= names_off
    assert "acl-tier" in {feature.name for feature in on}


def test_unproven_names_the_missing_proof() -> None:
    feature = features.Feature(
        "x", (), (features.FlowProof(r"ls_in_acl(_eval)?", "log("), features.RowProof("Service_Monitor"))
    )
    flows = [("ls_in_acl_eval", "ip4", 'log(name="a"); next;')]
    assert features.unproven(feature, flows, lambda proof: True) == []
    assert features.unproven(feature, [], lambda proof: False) == [
        "x: no flow in stage ls_in_acl(_eval)? with 'log('",
        "x: no SB Service_Monitor row",
    ]


def test_textual_bits_resolve_overlays() -> None:
    assert textual_bits("reg0[1] == 1 && reg8[16..18] == 0") == {"reg0": {1}, "reg8": {16, 17, 18}}
    assert textual_bits("ct_label.obs_point_id = reg9;") == {"reg9": set(range(32))}
    # xxreg0[0..31] is the least significant word: reg3. xreg4 is reg8 (high) and reg9 (low).
    assert textual_bits("xxreg0[0..31] = 0") == {"reg3": set(range(32))}
    assert textual_bits("xreg4[32..33] = 0") == {"reg8": {0, 1}}
    assert textual_bits("reg10[0] == 1") == {}


def test_resets_can_be_ignored() -> None:
    actions = "reg0 = 0; reg1 = 0; reject { outport <-> inport; next(pipeline=ingress,table=30); };"
    assert without_resets(actions) == "reject { outport <-> inport; next(pipeline=ingress,table=30); };"
    flows = [("ls_out_acl_eval", "reg0[9] == 1", "reg0 = 0; reg8[17] = 1; next;")]
    assert measure(flows)["switch egress"].used("reg0") == set(range(32))
    lenient = measure(flows, ignore_resets=True)["switch egress"]
    assert lenient.used("reg0") == {9}
    assert lenient.used("reg8") == {17}


def test_ranges() -> None:
    assert ranges([0, 1, 2, 5, 7, 8]) == "0..2,5,7..8"
    assert ranges([]) == "-"
