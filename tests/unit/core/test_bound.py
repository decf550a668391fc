"""The expansion bound at validation: explosive flows are refused (403) and the budget holds (429)."""

from __future__ import annotations

import pytest

from ovn_inject.core import bound
from ovn_inject.core.appflows import FlowCache
from ovn_inject.core.status import FlowState, Status
from ovn_inject.core.validate import (
    AttachmentView,
    FlowRequest,
    FlowValidationError,
    OpenFlowBudgetError,
    QuotaExceededError,
    ServiceView,
    validate_flow,
    validate_flows,
)
from ovn_inject.lang import parse_release

PORT = AttachmentView("11111111-0000-0000-0000-000000000000", "lsp", "vm1", "ls-in-port")
SWITCH = AttachmentView("22222222-0000-0000-0000-000000000000", "ls", "ls-a", "ls-out-deliver")
SERVICE = ServiceView(
    "ips",
    "tenant-a",
    None,
    (PORT, SWITCH),
    0,
    {PORT.uuid: frozenset({"vm1"}), SWITCH.uuid: frozenset({"vm1", "vm2", "vm3"})},
)
EIGHT = ", ".join(f"10.9.0.{i}" for i in range(1, 9))
EXPLOSIVE = [
    f"ip4.src != {{{EIGHT}}}",
    "ip6.src != {::1, ::2, ::3}",
    "!(ip4.src == {10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4})",
    "tcp.dst != {1, 2, 3, 4, 5, 6}",
    "ip4.src != {10.0.0.1, 10.0.0.2, 10.0.0.3} && tcp",
    "eth.src != {00:00:00:00:00:01, 00:00:00:00:00:02}",
    "ip4.src != {10.0.0.1, 10.0.0.2} && ip4.dst != {10.0.0.3, 10.0.0.4}",
]


@pytest.mark.parametrize("match", EXPLOSIVE)
def test_explosive_flow_is_forbidden_naming_the_term(match: str) -> None:
    with pytest.raises(FlowValidationError) as info:
        validate_flow(FlowRequest(10, match, "drop;"), SERVICE)
    assert info.value.forbidden and info.value.column == "match"
    assert "OpenFlow flows on a chassis (limit 1,000)" in str(info.value)
    assert "the costly term is `" in str(info.value)


@pytest.mark.parametrize(
    ("match", "most"),
    [("tcp.dst == 80", 10), ("ip4.src == {10.0.0.1, 10.0.0.2, 10.0.0.3} && tcp.dst == {80, 443}", 30)],
)
def test_common_flows_pass_with_their_cost(match: str, most: int) -> None:
    flow = validate_flow(FlowRequest(10, match, "drop;"), SERVICE)
    assert 0 < flow.openflow_flows <= most


def test_the_scope_multiplies_by_attachment() -> None:
    alone = validate_flow(FlowRequest(1, "tcp.dst == 80", "drop;", attachment=PORT.uuid), SERVICE)
    both = validate_flow(FlowRequest(1, "tcp.dst == 80", "drop;"), SERVICE)
    assert both.openflow_flows > alone.openflow_flows


def test_newer_releases_price_lower() -> None:
    match = "ip4.src != {10.0.0.1, 10.0.0.2}"
    with pytest.raises(FlowValidationError):
        validate_flow(FlowRequest(1, match, "drop;"), SERVICE)  # 23.03: 587 per scope
    newer = SERVICE.__class__(**{**SERVICE.__dict__, "release": parse_release("26.03")})
    assert validate_flow(FlowRequest(1, match, "drop;"), newer).openflow_flows < 200


def test_budget_is_a_quota() -> None:
    tight = ServiceView(**{**SERVICE.__dict__, "max_openflow_flows": 50, "openflow_flows": 40})
    with pytest.raises(OpenFlowBudgetError) as info:
        validate_flows([FlowRequest(1, "tcp.dst == 80", "drop;")] * 2, tight)
    assert isinstance(info.value, QuotaExceededError)
    assert "max_openflow_flows" in str(info.value)
    validate_flows([FlowRequest(1, "tcp.dst == 80", "drop;")], tight, replacing=True)


def test_budget_option() -> None:
    assert bound.budget({}) == bound.DEFAULT_SERVICE_BUDGET
    assert bound.budget({bound.BUDGET_OPTION: "77"}) == 77
    assert bound.budget({bound.BUDGET_OPTION: "lots"}) == bound.DEFAULT_SERVICE_BUDGET


def test_releases_map_to_their_normaliser() -> None:
    assert not bound.expansion_release(None).drop_supersets
    assert bound.expansion_release("23.09").drop_supersets
    assert not bound.expansion_release("25.09").ne_prefixes
    assert bound.expansion_release("26.09").ne_prefixes


class _Row:
    def __init__(self, priority: int) -> None:
        import uuid

        self.uuid = uuid.uuid4()
        self.service = [type("S", (), {"uuid": uuid.uuid4()})()]
        self.attachment: list[object] = []
        self.priority = priority
        self.match = "tcp.dst == 80"
        self.actions = "drop;"
        self.hard_timeout = 0
        self.created = 0


@pytest.mark.parametrize("priority", [1000, 65535])
def test_daemon_refuses_a_priority_above_the_band(priority: int) -> None:
    row = _Row(priority)
    flows, errors, _ = FlowCache().load({row.uuid: row}, 0.0)
    assert flows == []
    assert errors[str(row.uuid)] == Status(FlowState.INVALID, f"priority: {priority} is outside 0..999")


def _two_switches():  # type: ignore[no-untyped-def]
    from ovn_inject.core.hooks import DatapathKind
    from ovn_inject.core.topology import Datapath, Port, PortGroup, Topology

    return Topology.build(
        [
            Datapath("ls-a", DatapathKind.SWITCH, "tenant-a", "dp-a"),
            Datapath("ls-c", DatapathKind.SWITCH, "tenant-a", "dp-c"),
        ],
        [Port("vm1", "ls-a", "tenant-a"), Port("vm2", "ls-a", "tenant-a"), Port("vm7", "ls-c", "tenant-a")],
        [PortGroup("pg-a", "tenant-a", ("vm1", "vm2", "vm7"))],
    )


def test_a_flow_is_priced_per_datapath_of_its_attachment() -> None:
    from ovn_inject.lang import expansion as ex
    from ovn_inject.lang import parse_match

    group = AttachmentView("33333333-0000-0000-0000-000000000000", "pg", "pg-a", "ls-in-port")
    ports = frozenset({"vm1", "vm2", "vm7"})
    union = ServiceView("ips", "tenant-a", None, (group,), 0, {group.uuid: ports})
    scopes = bound.compiled_scopes(_two_switches(), [(group.uuid, "pg", "pg-a", "ls-in-port")], "tenant-a")
    split = ServiceView(**{**union.__dict__, "scopes": scopes})
    match = "ip4.src == {10.0.0.1, 10.0.0.2, 10.0.0.3} && tcp"
    tree = parse_match(match)
    per_datapath = sum(ex.compiled_cost(tree, n).flows for n in (2, 1))
    assert validate_flow(FlowRequest(1, match, "drop;"), split).openflow_flows == per_datapath
    assert (
        validate_flow(FlowRequest(1, match, "drop;"), union).openflow_flows == ex.compiled_cost(tree, 3).flows
    )
    assert per_datapath > ex.compiled_cost(tree, 3).flows  # two lflows pay the app's clause twice


def test_compiled_scopes_are_the_compilers() -> None:
    from ovn_inject.lang.printer import format_match

    scopes = bound.compiled_scopes(
        _two_switches(),
        [
            ("g", "pg", "pg-a", "ls-in-port"),
            ("s", "ls", "ls-a", "ls-out-deliver"),
            ("x", "lsp", "nope", "ls-in-port"),
        ],
        "tenant-a",
    )
    assert [format_match(e) for e in scopes["g"]] == ['inport == {"vm1", "vm2"}', 'inport == "vm7"']
    assert [format_match(e) for e in scopes["s"]] == ['outport == {"vm1", "vm2"}']
    assert scopes["x"] == ()
