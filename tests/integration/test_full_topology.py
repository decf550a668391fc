"""The ``full`` topology on the installed OVN: every optional northd feature the release has is really on.

"Really on" means northd computed it: each feature's proof (a flow of a named
stage, or a Southbound row) is found. Which features a release has is learnt
from its NB schema; here it is checked against the release that introduced
each one, so that a feature silently skipped on a release that has it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovn_inject.sandbox import Sandbox, features, register_use, release
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.release import Release

pytestmark = pytest.mark.integration

#: The first release whose NB schema has each feature that not every supported release has.
INTRODUCED = {
    "acl-tier": Release(23, 9),
    "acl-sample": Release(24, 9),
    "router-policy-chain": Release(25, 3),
    "mirror-lport": Release(25, 9),
    "network-function": Release(26, 3),
}


@pytest.fixture(scope="module")
def full(sandbox: Sandbox) -> Iterator[Sandbox]:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.FULL)
    yield sandbox
    topologies.clear(sandbox)


def _has_row(box: Sandbox, proof: features.RowProof) -> bool:
    column = proof.column or "_uuid"
    return bool(box.sbctl("--bare", f"--columns={column}", "list", proof.table).strip())


def test_northd_computed_every_feature(full: Sandbox) -> None:
    flows = register_use.northd_flows(full)
    on, _ = features.supported(release.nb_schema())
    assert full.state.extra["features"] == [feature.name for feature in on]
    missing = [
        gap for feature in on for gap in features.unproven(feature, flows, lambda p: _has_row(full, p))
    ]
    assert not missing, f"on OVN {release.installed()}: " + "; ".join(missing)


def test_a_release_skips_only_the_features_it_lacks(full: Sandbox) -> None:
    installed = release.installed()
    expected_off = sorted(name for name, first in INTRODUCED.items() if installed < first)
    assert sorted(full.state.extra["features_skipped"]) == expected_off, f"on OVN {installed}"  # type: ignore[arg-type]


def test_register_use_reads_every_pipeline(full: Sandbox) -> None:
    use = register_use.measure(register_use.northd_flows(full))
    for pipeline, entry in use.items():
        assert entry.flows > 10, f"{pipeline}: only {entry.flows} flows"
    # Features known to keep registers: the router's ECMP group id (reg8[0..15]) and next hop (reg0).
    assert set(range(16)) <= use["router ingress"].used("reg8")
    assert use["router ingress"].used("reg0") == set(range(32))


def test_clear_leaves_no_feature_rows(full: Sandbox) -> None:
    topologies.clear(full)
    schema = release.nb_schema()
    for table in (*features.ROOT_TABLES, "Load_Balancer", "Port_Group", "Mirror", "Logical_Router"):
        if release.schema_has(schema, table):
            assert not full.nbctl("--bare", "--columns=_uuid", "list", table).strip(), table
    topologies.build(full, topologies.FULL)
