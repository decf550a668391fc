"""The output contract: every golden row passes it, and broken rows are held back with the reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ovn_inject.constants import OWNER_KEY
from ovn_inject.core import compiler as c
from ovn_inject.core.contract import Contract, check_row, row_match
from ovn_inject.core.placement import Placement
from ovn_inject.core.status import AttachmentState, FlowState
from ovn_inject.lang import LanguageError, parse_match
from tests.unit.core.compiler_cases import PLACEMENTS, read_cases
from tests.unit.core.test_compiler_golden import ALL_CASES, FILES

EXPLOSIVE = "ip4.src != {10.9.0.1, 10.9.0.2, 10.9.0.3, 10.9.0.4, 10.9.0.5, 10.9.0.6, 10.9.0.7, 10.9.0.8}"


#: "one service on one port: continuation and its flow above it"
FIRST = next(i for i, case in enumerate(ALL_CASES) if case.title.startswith("one service on one port"))


def _compiled(case_index: int = FIRST) -> tuple[c.Compiled, tuple]:  # type: ignore[type-arg]
    topology, services, attachments, flows = ALL_CASES[case_index].inputs()
    return c.compile_hooks(topology, PLACEMENTS, services, attachments, flows), (topology, services)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_golden_row_passes(path) -> None:  # type: ignore[no-untyped-def]
    for case in read_cases(path):
        topology, services, attachments, flows = case.inputs()
        compiled = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows)
        before = dict(compiled.lflows)
        for lflow in before.values():
            assert check_row(lflow, PLACEMENTS).problem is None, (case.title, lflow)
        contract = Contract()
        contract.apply(compiled, PLACEMENTS, topology, services, attachments)
        assert compiled.lflows == before, case.title
        assert contract.refused == 0


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_services_rows_are_decided_together_and_are_what_is_kept(path) -> None:  # type: ignore[no-untyped-def]
    for case in read_cases(path):
        topology, services, attachments, flows = case.inputs()
        service_of = {a.uuid: a.service for a in attachments}
        compiled = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows)
        calls: list[list[c.LogicalFlow]] = []
        Contract().apply(compiled, PLACEMENTS, topology, services, attachments, decided=calls.append)
        owners = [{service_of[dict(r.external_ids)["ovn-inject-attachment"]] for r in rows} for rows in calls]
        assert all(len(o) == 1 for o in owners), case.title  # one service per call, each called once
        assert len({next(iter(o)) for o in owners}) == len(calls), case.title
        decided = [r for rows in calls for r in rows]
        assert sorted(r.uuid for r in decided) == sorted(compiled.lflows), case.title


def _one() -> tuple[c.Compiled, c.LogicalFlow, c.LogicalFlow]:
    compiled, _ = _compiled()  # one service on one port: a continuation and one flow row
    rows = sorted(compiled.lflows.values(), key=lambda r: r.priority)
    return compiled, rows[0], rows[1]


def _placement(row: c.LogicalFlow) -> Placement:
    placement = PLACEMENTS[dict(row.external_ids)["ovn-inject-hook"]]
    assert isinstance(placement, Placement)
    return placement


def _ids(row: c.LogicalFlow, **changes: str | None) -> tuple[tuple[str, str], ...]:
    ids = dict(row.external_ids)
    for name, value in changes.items():
        key = name if name == OWNER_KEY else name.replace("_", "-")
        if value is None:
            ids.pop(key, None)
        else:
            ids[key] = value
    return tuple(ids.items())


def _broken_rows() -> list[tuple[str, c.LogicalFlow, str]]:
    _, cont, flow = _one()
    p = _placement(flow)
    low, high = p.band
    cursor = p.cursor.field
    app = flow.match.split(" && ", 2)[2]
    r = dataclasses.replace
    return [
        ("no owner", r(flow, external_ids=_ids(flow, **{OWNER_KEY: None})), "owner mark"),
        ("no attachment id", r(flow, external_ids=_ids(flow, ovn_inject_attachment=None)), "lack"),
        ("unknown hook", r(flow, external_ids=_ids(flow, ovn_inject_hook="nowhere")), "no placement"),
        ("wrong stage", r(flow, external_ids=_ids(flow, stage_name="ls_in_acl")), "stage-name"),
        ("wrong table", r(flow, table_id=flow.table_id + 1), "table"),
        ("wrong pipeline", r(flow, pipeline="egress"), "table"),
        ("priority above the band", r(flow, priority=high + 1), "band"),
        ("priority 1000 of an app at the base", r(flow, priority=low), "band"),
        ("continuation off its base", r(cont, priority=low + 5), "band"),
        ("no cursor", r(flow, match=flow.match.split(" && ", 1)[1]), "cursor"),
        (
            "cursor beyond capacity",
            r(flow, match=flow.match.replace(f"{cursor} == 0", f"{cursor} == 15")),
            "capacity",
        ),
        ("no scope", r(flow, match=f"{cursor} == 0 && {app}"), "scope"),
        (
            "scope on a header",
            r(flow, match=f"{cursor} == 0 && eth.src == 00:00:00:00:00:01 && {app}"),
            "scope",
        ),
        ("app reads a register", r(flow, match=flow.match.replace(app, "(reg0 == 1)")), "register"),
        (
            "next to another table",
            r(flow, actions=f"{cursor} = 1; next(pipeline=ingress, table={p.table_id + 1});"),
            "next may only",
        ),
        (
            "next to another pipeline",
            r(flow, actions=f"{cursor} = 1; next(pipeline=egress, table={p.table_id});"),
            "next may only",
        ),
        ("plain next", r(flow, actions="next;"), "next may only"),
        ("next without advancing", r(flow, actions=f"next(pipeline=ingress, table={p.table_id});"), "loop"),
        (
            "cursor advanced too far",
            r(flow, actions=f"{cursor} = 3; next(pipeline=ingress, table={p.table_id});"),
            "register",
        ),
        ("another register written", r(flow, actions="reg0 = 1;"), "register"),
        ("a non-writable field", r(flow, actions="eth.src <-> eth.dst; vlan.tci = 0;"), "written"),
        ("ct_commit", r(flow, actions="ct_commit;"), "allowed set"),
        ("not OVN", r(flow, actions="frobnicate;"), "not valid OVN"),
        ("continuation that drops", r(cont, actions="drop;"), "continuation"),
        (
            "continuation to another table",
            r(cont, actions=f"{cursor} = 1; next(pipeline=ingress, table=0);"),
            "next may only",
        ),
    ]


BROKEN = _broken_rows()


@pytest.mark.parametrize(("title", "row", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_row(title: str, row: c.LogicalFlow, words: str) -> None:
    problem = check_row(row, PLACEMENTS).problem
    assert problem is not None and words in problem, (title, problem)


def test_a_broken_flow_row_is_held_back_and_its_flow_is_invalid() -> None:
    compiled, cont, flow = _one()
    topology, services, attachments, _ = ALL_CASES[FIRST].inputs()
    bad = dataclasses.replace(flow, priority=_placement(flow).band[1] + 1)
    del compiled.lflows[flow.uuid]
    compiled.lflows[bad.uuid] = bad
    Contract().apply(compiled, PLACEMENTS, topology, services, attachments)
    assert set(compiled.lflows) == {cont.uuid}
    status = compiled.flow_status["f1"]
    assert status.state == FlowState.INVALID and "output contract: priority" in status.reason


def test_a_services_refused_rows_are_not_decided_kept() -> None:
    compiled, cont, flow = _one()
    topology, services, attachments, _ = ALL_CASES[FIRST].inputs()
    bad = dataclasses.replace(flow, priority=_placement(flow).band[1] + 1)
    del compiled.lflows[flow.uuid]
    compiled.lflows[bad.uuid] = bad
    calls: list[list[c.LogicalFlow]] = []
    Contract().apply(compiled, PLACEMENTS, topology, services, attachments, decided=calls.append)
    assert calls == [[cont]]


def test_a_broken_continuation_invalidates_its_attachment_and_rows() -> None:
    compiled, cont, _ = _one()
    topology, services, attachments, _ = ALL_CASES[FIRST].inputs()
    bad = dataclasses.replace(cont, actions="drop;")
    del compiled.lflows[cont.uuid]
    compiled.lflows[bad.uuid] = bad
    Contract().apply(compiled, PLACEMENTS, topology, services, attachments)
    assert compiled.lflows == {}
    assert compiled.attachment_status["a1"].state == AttachmentState.INVALID
    assert compiled.flow_status["f1"].state == FlowState.INVALID


def test_another_tenants_port_in_the_scope_is_refused() -> None:
    compiled, _, _ = _one()
    topology, services, attachments, _ = ALL_CASES[FIRST].inputs()
    other = [dataclasses.replace(s, tenant="tenant-b") for s in services]
    Contract().apply(compiled, PLACEMENTS, topology, other, attachments)
    assert "not a port of tenant 'tenant-b'" in compiled.flow_status["f1"].reason
    assert compiled.lflows == {}


def test_an_explosive_flow_written_by_hand_is_invalid_and_kept_out() -> None:
    from ovn_inject.core.appflows import FlowCache, ServiceFlow

    topology, services, attachments, _ = ALL_CASES[FIRST].inputs()
    cache = FlowCache()
    flows = [
        ServiceFlow("boom", services[0].uuid, None, 10, cache.check(EXPLOSIVE, "drop;")),
        ServiceFlow("fine", services[0].uuid, None, 11, cache.check("tcp.dst == 22", "drop;")),
    ]
    compiled = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows)
    Contract().apply(compiled, PLACEMENTS, topology, services, attachments)
    status = compiled.flow_status["boom"]
    assert status.state == FlowState.INVALID and "OpenFlow flows" in status.reason
    assert "ip4.src != {" in status.reason
    assert compiled.flow_status["fine"].state == FlowState.INSTALLED
    assert not any(dict(r.external_ids).get("ovn-inject-flow") == "boom" for r in compiled.lflows.values())


def test_verdicts_are_remembered_by_row() -> None:
    topology, services, attachments, flows = ALL_CASES[FIRST].inputs()
    contract = Contract()
    for expected in (2, 0):
        compiled = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows)
        contract.apply(compiled, PLACEMENTS, topology, services, attachments)
        assert contract.checked == expected


def _scattered() -> dict:  # type: ignore[type-arg]
    """Placements where reg9's free bits in the switch ingress pipeline come in runs of two."""
    from ovn_inject.core.hooks import DatapathKind, Pipeline
    from ovn_inject.core.placement import place_hooks
    from tests.unit.core.compiler_cases import STAGES, USED

    busy = frozenset(range(2, 32, 3))
    return place_hooks(STAGES, {**USED, (DatapathKind.SWITCH, Pipeline.INGRESS): {"reg9": busy}})


def test_a_scattered_cursor_passes_run_by_run_and_each_run_is_checked() -> None:
    placements = _scattered()
    placement = placements["ls-in-port"]
    assert isinstance(placement, Placement) and len(placement.cursor.runs) == 2
    topology, services, attachments, flows = ALL_CASES[FIRST].inputs()
    compiled = c.compile_hooks(topology, placements, services, attachments, flows)
    rows = sorted(compiled.lflows.values(), key=lambda r: r.priority)
    assert [check_row(r, placements).problem for r in rows] == [None, None]
    cont, flow = rows
    _, second = (placement.cursor._ref(low, high) for low, high in placement.cursor.runs)
    wrong_match = dataclasses.replace(flow, match=flow.match.replace(f"{second} == 0", f"{second} == 1"))
    assert check_row(wrong_match, placements).problem is None  # j = 4: another service's turn, in band
    no_second = dataclasses.replace(flow, match=flow.match.replace(f" && {second} == 0", ""))
    assert "cursor" in (check_row(no_second, placements).problem or "")
    half_advance = dataclasses.replace(cont, actions=cont.actions.replace(f" {second} = 0;", ""))
    assert "without advancing the cursor" in (check_row(half_advance, placements).problem or "")
    wrong_part = dataclasses.replace(cont, actions=cont.actions.replace(f"{second} = 0;", f"{second} = 1;"))
    assert "register is written" in (check_row(wrong_part, placements).problem or "")
    contract = Contract()
    contract.apply(compiled, placements, topology, services, attachments)
    assert contract.refused == 0


def test_flows_past_their_services_budget_are_invalid_cheapest_kept() -> None:
    from ovn_inject.core.appflows import FlowCache, ServiceFlow

    topology, services, attachments, _ = ALL_CASES[FIRST].inputs()
    cache = FlowCache()
    matches = {
        "cheap": "tcp.dst == 1",
        "mid": "ip4.src != 10.0.0.1",
        "dear": "ip4.src != 10.0.0.1 && tcp.dst != 22",
    }
    flows = [
        ServiceFlow(key, services[0].uuid, None, i, cache.check(m, "drop;"))
        for i, (key, m) in enumerate(matches.items())
    ]
    compiled = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows)
    Contract().apply(compiled, PLACEMENTS, topology, services, attachments, budgets={services[0].uuid: 40})
    states = {key: compiled.flow_status[key].state for key in matches}
    assert states == {"cheap": FlowState.INSTALLED, "mid": FlowState.INSTALLED, "dear": FlowState.INVALID}
    assert "OpenFlow budget" in compiled.flow_status["dear"].reason


#: Texts where cutting ``HEAD && (TAIL)`` at the wrong place would change the tree or the verdict.
SPLITS = [
    'reg8[24..25] == 1 && inport == {"a", "b"} && (tcp.dst == 80 && (ip4.src == 1.2.3.4 || tcp.src == 9))',
    'reg8[24..25] == 1 && (inport == {"a"} || (inport == "p" && eth.dst == {00:00:00:00:00:01})) && (tcp)',
    "1 < tcp.dst < 5 && (udp)",
    'inport == "x" && (1 < tcp.dst < 5)',
    "tcp || udp && (ip4)",
    'inport == "a && (" && (tcp)',
    'inport == "x" && (tcp))',
    'inport == "x" && (tcp) || (udp)',
    'inport == "x" && (tcp) && (udp)',
    '!(inport == "x") && (tcp)',
    'inport == "x" && (tcp) && 1 < tcp.dst < 5 && (udp)',
    "tcp && (" + "(" * 40 + "udp" + ")" * 40 + ")",
    "tcp || udp",
    "1 < tcp.dst < 5",
    'inport == "x" && 1 < tcp.dst < 5',
    "!tcp",
    "1",
    "0",
    "ip4 && 1 || ip6",
    "(tcp) || (udp)",
    'inport == "a && 1',
    "a && (",
    " && (tcp)",
]


def _parsed(parse, text: str):  # type: ignore[no-untyped-def]
    try:
        return parse(text)
    except LanguageError as exc:
        return str(exc)


def test_a_row_parsed_in_parts_is_the_row_parsed_whole() -> None:
    """row_match reuses the parses of a chain's head and of a service's term: same tree, same errors."""
    texts = list(SPLITS)
    for path in FILES:
        for case in read_cases(path):
            compiled = c.compile_hooks(*_inputs(case))
            texts += [row.match for row in compiled.lflows.values()]
    corpus = Path(__file__).parent.parent / "lang" / "corpus" / "northd-23.03.txt"
    matches = [line[2:] for line in corpus.read_text().splitlines() if line.startswith("M ")]
    for text in matches:
        texts += [f'reg9[1..2] == 1 && inport == "vm1" && ({text})', f"{text} && (tcp)", f"({text}) && (tcp)"]
        texts += [text, f"({text})", f"{text} && 1", f"1 && {text}"]  # no tail: parsed as a head
    for text in texts:
        assert _parsed(row_match, text) == _parsed(parse_match, text), text


def _inputs(case):  # type: ignore[no-untyped-def]
    topology, services, attachments, flows = case.inputs()
    return topology, PLACEMENTS, services, attachments, flows
