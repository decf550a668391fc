"""The hook compiler as a pure function: scopes, chains, cursors, statuses."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_inject.core import compiler as c
from ovn_inject.core.diff import diff
from ovn_inject.core.hooks import DatapathKind, Pipeline, TargetKind
from ovn_inject.core.placement import Placement, StageInfo, Unusable, cursor_widths, place_hooks
from ovn_inject.core.reach import Write
from ovn_inject.core.status import AttachmentState, FlowState, Status
from ovn_inject.core.topology import Datapath, Port, PortGroup, Topology
from tests.unit.core.compiler_cases import PLACEMENTS, STAGES


@dataclass(frozen=True)
class Flow:
    uuid: str
    service: str
    priority: int
    match: str
    actions: str
    ports: frozenset[str] = frozenset()
    attachment: str | None = None
    writes: tuple[Write, ...] = ()

    def problem(self, pipeline: object) -> str | None:
        return None

    def render_match(self) -> str:
        return self.match

    def render_actions(self, continuation: str) -> str:
        return self.actions.replace("next;", continuation)


def topo() -> Topology:
    return Topology.build(
        [
            Datapath("ls-a", DatapathKind.SWITCH, "tenant-a", "dp-a"),
            Datapath("ls-b", DatapathKind.SWITCH, "tenant-b", "dp-b"),
            Datapath("ls-c", DatapathKind.SWITCH, "tenant-a", "dp-c"),
            Datapath("lr-a", DatapathKind.ROUTER, "tenant-a", "dp-r"),
        ],
        [
            Port("vm1", "ls-a", "tenant-a"),
            Port("vm2", "ls-a", "tenant-a"),
            Port("vm3", "ls-a", "tenant-a"),
            Port("vm4", "ls-b", "tenant-b"),
            Port("vm6", "ls-c", "tenant-a"),
            Port("lrp-a", "lr-a", "tenant-a"),
        ],
        [PortGroup("pg-a", "tenant-a", ("vm1", "vm6"))],
    )


IPS = c.ServiceSpec("s-ips", "ips", "tenant-a")
DPI = c.ServiceSpec("s-dpi", "dpi", "tenant-a")


def test_placement_gives_disjoint_cursors_per_pipeline_above_northd() -> None:
    ls = PLACEMENTS["ls-in-port"]
    lr = PLACEMENTS["lr-in-route"]
    assert not isinstance(ls, Unusable) and not isinstance(lr, Unusable)
    assert (ls.table_id, ls.base_priority, ls.cursor.field) == (4, 1000, "reg9[0..3]")
    assert min(lr.cursor.bits) >= 7  # 0..6 are used by 23.03's router ingress pipeline
    by_pipeline: dict[tuple[str, str], list[set[int]]] = {}
    for p in PLACEMENTS.values():
        assert not isinstance(p, Unusable)
        by_pipeline.setdefault((p.hook.datapath, p.hook.pipeline), []).append(set(p.cursor.bits))
    for key, bits in by_pipeline.items():
        assert len(bits) == 2 and not bits[0] & bits[1], key  # disjoint within a pipeline
    egress = PLACEMENTS["ls-out-port"]
    assert not isinstance(egress, Unusable) and egress.cursor.field == "reg9[0..3]"  # registers are zeroed


def test_placement_refuses_full_register_and_top_priority() -> None:
    stages = dict(STAGES, ls_in_pre_acl=StageInfo("ls_in_pre_acl", "ingress", 4, 65535))
    placed = place_hooks(
        stages,
        {(DatapathKind.SWITCH, Pipeline.INGRESS): {"reg9": frozenset(range(30))}},
        {DatapathKind.SWITCH: "reg9"},
    )
    port = placed["ls-in-port"]
    assert isinstance(port, Unusable) and "65535" in port.reason
    fwd = placed["ls-in-forward"]
    assert isinstance(fwd, Unusable) and "need 4, free 2" in fwd.reason and "reg9" in fwd.reason


def test_cursors_take_scattered_bits_and_other_registers() -> None:
    busy = frozenset(range(32)) - {3, 9, 10, 20}
    used = {(DatapathKind.SWITCH, Pipeline.INGRESS): {"reg9": busy, "reg8": frozenset(range(32))}}
    pinned = place_hooks(STAGES, used, {DatapathKind.SWITCH: "reg9"}, 2)
    port, fwd = pinned["ls-in-port"], pinned["ls-in-forward"]
    assert isinstance(port, Placement) and port.cursor.bits == (9, 10)
    assert isinstance(fwd, Placement) and fwd.cursor.bits == (3, 20)
    assert fwd.cursor.field == "reg9[3],reg9[20]" and fwd.cursor.capacity == 3
    assert fwd.cursor.match(2) == "reg9[3] == 0 && reg9[20] == 1"
    assert fwd.cursor.assign(3) == "reg9[3] = 1; reg9[20] = 1;"
    chosen = place_hooks(STAGES, used, None, 4)
    assert chosen["ls-in-port"].cursor.field == "reg9[3],reg9[9..10],reg9[20]"  # type: ignore[union-attr]
    assert chosen["ls-in-forward"].cursor.field == "reg7[0..3]"  # type: ignore[union-attr]  # reg9, reg8 full


def test_cursor_widths_follow_the_attachments() -> None:
    widths = cursor_widths(["ls-in-port"] * 5 + ["lr-out-snat"])
    assert widths["ls-in-port"] == 3 and widths["lr-out-snat"] == 2 and widths["ls-out-port"] == 2


def test_single_service_on_a_port() -> None:
    att = c.AttachmentSpec("a1", "s-ips", TargetKind.LSP, "vm1", "ls-in-port")
    flow = Flow("f1", "s-ips", 10, "ip4.src == 10.0.0.1", "drop;")
    out = c.compile_hooks(topo(), PLACEMENTS, [IPS], [att], [flow])
    rows = sorted(out.lflows.values(), key=lambda r: r.priority)
    assert [(r.priority, r.match, r.actions) for r in rows] == [
        (1000, 'reg9[0..3] == 0 && inport == "vm1"', "reg9[0..3] = 1; next(pipeline=ingress, table=4);"),
        (1011, 'reg9[0..3] == 0 && inport == "vm1" && (ip4.src == 10.0.0.1)', "drop;"),
    ]
    assert all(r.datapath == "dp-a" and dict(r.external_ids)["ovn-inject"] == "1" for r in rows)
    assert dict(rows[1].external_ids)["stage-name"] == "ls_in_hook_port"
    assert out.flow_status["f1"] == Status(FlowState.INSTALLED)
    assert out.attachment_status["a1"] == Status(AttachmentState.ACTIVE)


def test_chains_are_per_scope_in_attachment_order() -> None:
    atts = [
        c.AttachmentSpec("a-dpi", "s-dpi", TargetKind.LS, "ls-a", "ls-in-port", order=1),
        c.AttachmentSpec("a-ips", "s-ips", TargetKind.LSP, "vm1", "ls-in-port", order=2),
    ]
    flows = [Flow("f-dpi", "s-dpi", 0, "tcp", "ip.dscp = 46; next;")]
    out = c.compile_hooks(topo(), PLACEMENTS, [IPS, DPI], atts, flows)
    conts = sorted((r.match, r.actions) for r in out.lflows.values() if r.priority == 1000)
    assert conts == [
        ('reg9[0..3] == 0 && inport == "vm1"', "reg9[0..3] = 1; next(pipeline=ingress, table=4);"),
        ('reg9[0..3] == 0 && inport == {"vm2", "vm3"}', "reg9[0..3] = 1; next(pipeline=ingress, table=4);"),
        ('reg9[0..3] == 1 && inport == "vm1"', "reg9[0..3] = 2; next(pipeline=ingress, table=4);"),
    ]
    dpi_rows = sorted(r.actions for r in out.lflows.values() if r.priority == 1001)
    assert dpi_rows == ["ip.dscp = 46; reg9[0..3] = 1; next(pipeline=ingress, table=4);"] * 2


def test_tenant_and_kind_are_enforced() -> None:
    atts = [
        c.AttachmentSpec("a-foreign", "s-ips", TargetKind.LSP, "vm4", "ls-in-port"),
        c.AttachmentSpec("a-kind", "s-ips", TargetKind.LSP, "vm1", "lr-in-route"),
        c.AttachmentSpec("a-missing", "s-ips", TargetKind.LS, "ls-zz", "ls-in-port"),
    ]
    out = c.compile_hooks(topo(), PLACEMENTS, [IPS], atts, [])
    assert out.lflows == {}
    assert "tenant-b" in out.attachment_status["a-foreign"].reason
    assert "does not fit" in out.attachment_status["a-kind"].reason
    assert "does not exist" in out.attachment_status["a-missing"].reason


def test_flow_naming_a_foreign_port_is_invalid_and_compiles_to_nothing() -> None:
    att = c.AttachmentSpec("a1", "s-ips", TargetKind.LS, "ls-a", "ls-in-port")
    bad = Flow("bad", "s-ips", 5, 'outport == "vm4"', "drop;", ports=frozenset({"vm4"}))
    out = c.compile_hooks(topo(), PLACEMENTS, [IPS], [att], [bad])
    assert out.flow_status["bad"].state == FlowState.INVALID and "vm4" in out.flow_status["bad"].reason
    assert all("ovn-inject-flow" not in dict(r.external_ids) for r in out.lflows.values())


def test_port_group_spans_switches() -> None:
    att = c.AttachmentSpec("a1", "s-ips", TargetKind.PG, "pg-a", "ls-in-port")
    out = c.compile_hooks(topo(), PLACEMENTS, [IPS], [att], [Flow("f", "s-ips", 1, "udp", "drop;")])
    assert sorted({r.datapath for r in out.lflows.values()}) == ["dp-a", "dp-c"]


def test_uuids_are_stable_and_diff_is_minimal() -> None:
    att = c.AttachmentSpec("a1", "s-ips", TargetKind.LS, "ls-a", "ls-in-port")
    flows = [Flow("f1", "s-ips", 1, "udp", "drop;"), Flow("f2", "s-ips", 2, "tcp", "drop;")]
    first = c.compile_hooks(topo(), PLACEMENTS, [IPS], [att], flows)
    again = c.compile_hooks(topo(), PLACEMENTS, [IPS], [att], flows)
    assert first.lflows.keys() == again.lflows.keys()
    changed = c.compile_hooks(
        topo(), PLACEMENTS, [IPS], [att], [flows[0], Flow("f2", "s-ips", 3, "tcp", "drop;")]
    )
    delta = diff(changed.lflows, set(first.lflows))
    assert len(delta.insert) == 1 and len(delta.delete) == 1


_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(['"', "\\", "\x00", "é€😀"])
_ids = st.lists(st.tuples(_text, _text))


@settings(max_examples=300, deadline=None)
@given(_text, _text, st.integers(0, 1 << 40), st.integers(-5, 65535), _text, _text, _ids)
def test_a_rows_uuid_is_uuid5_of_its_json(
    datapath: str,
    pipeline: str,
    table: int,
    priority: int,
    match: str,
    actions: str,
    ids: list[tuple[str, str]],
) -> None:
    """The identity text must stay what it always was: json.dumps of the row's content."""
    row = c.LogicalFlow(datapath, pipeline, table, priority, match, actions, tuple(ids))
    content = [datapath, pipeline, table, priority, match, actions, tuple(ids)]
    assert row.uuid == uuid.uuid5(c.LFLOW_NAMESPACE, json.dumps(content, separators=(",", ":")))


def test_disabled_service_and_cursor_capacity() -> None:
    off = c.ServiceSpec("s-off", "off", "tenant-a", enabled=False)
    out = c.compile_hooks(
        topo(), PLACEMENTS, [off], [c.AttachmentSpec("a", "s-off", TargetKind.LSP, "vm1", "ls-in-port")], []
    )
    assert out.attachment_status["a"].state == AttachmentState.PENDING and not out.lflows
    many = [c.ServiceSpec(f"s{i}", f"svc{i}", "tenant-a") for i in range(16)]
    atts = [
        c.AttachmentSpec(f"a{i}", f"s{i}", TargetKind.LSP, "vm1", "ls-in-port", order=i) for i in range(16)
    ]
    out = c.compile_hooks(topo(), PLACEMENTS, many, atts, [])
    assert (
        out.attachment_status["a15"].state == AttachmentState.INVALID
        and "widen" in out.attachment_status["a15"].reason
    )
    assert out.attachment_status["a14"].state == AttachmentState.ACTIVE
