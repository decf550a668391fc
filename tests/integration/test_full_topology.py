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


def test_hook_list_reads_every_northd_flow_and_cursors_avoid_their_bits(full: Sandbox) -> None:
    """With every feature on: no northd flow the language cannot read, and no cursor on a busy bit.

    Busy bits are recounted here from every northd flow of the hook's pipeline (what it reads, and
    what it sets to anything but zero) and from ovn-controller's own use, by release.
    """
    from ovn_inject.core.discovery import CONTROLLER_BITS, datapath_kind
    from ovn_inject.core.hooks import Pipeline
    from ovn_inject.core.placement import Placement, cursor_widths
    from ovn_inject.db.discovery import discover, fetch_northd_flows
    from ovn_inject.lang import Context, parse_actions, parse_match, parse_release, register_bits

    found = discover(full.sb_remote, width=cursor_widths([]))  # sized as the daemon sizes them
    assert found.release.name == release.installed().series
    unread = {str(key): [u.text for u in flows[:3]] for key, flows in found.unreadable.items()}
    assert not unread, f"on OVN {release.installed()}: flows the language cannot read: {unread}"
    language = found.release
    context = Context(release=language)
    busy: dict[tuple[object, object], dict[str, set[int]]] = {}
    for row in fetch_northd_flows(full.sb_remote):
        kind = datapath_kind(row["external_ids"].get("stage-name", ""))
        if kind is None:
            continue
        where = busy.setdefault((kind, Pipeline(row["pipeline"])), {})
        for tree in (parse_match(row["match"], context), parse_actions(row["actions"], context)):
            for register, bits in register_bits(tree, language, ignore_clears=True).items():
                where.setdefault(register, set()).update(bits)
    placed = [p for p in found.placements.values() if isinstance(p, Placement)]
    # A hook may be unusable only where northd leaves no priority above its own (26.03's lport
    # mirror puts a 65535 flow in ls_out_pre_acl); never for want of bits or of a readable flow.
    refused = {p.hook.name: p.reason for p in found.placements.values() if not isinstance(p, Placement)}
    assert all("priority 65535" in reason for reason in refused.values()), refused
    for placement in placed:
        hook, cursor = placement.hook, placement.cursor
        taken = set(busy.get((hook.datapath, hook.pipeline), {}).get(cursor.register, set()))
        for since, register, bits in CONTROLLER_BITS:
            if register == cursor.register and language.schema >= parse_release(since).schema:
                taken |= bits
        assert not taken & set(cursor.bits), f"{hook.name}: cursor {cursor.field} on bits in use"
