"""The output contract: every Logical_Flow row checked against its hook placement before SB sees it (pure).

Faucet checks every flowmod against the table it is sent to; this does the
same for our rows, independently of how the compiler built them, so that a
compiler bug, a flow written by hand to OVN_Inject or a policy hole cannot put
a row outside its hook. A row must:

* carry the owner mark and the external_ids naming its attachment, hook,
  service and stage (a flow row also its flow);
* sit in its hook's host table and pipeline, at a priority inside the hook's
  band (the continuation exactly at its base, a flow above it);
* match ``cursor == j && SCOPE && (app)``: the cursor first (run by run
  when its bits are scattered), then the scope: ``inport``/``outport``
  compared with the tenant's port names, narrowed where a port is shared by
  equalities on the tenant's addresses, every alternative naming a port;
  then, for a flow row, one parenthesised term that reads no register;
* do only what services may do (core/policy.py's lists), advance the cursor to
  exactly ``j + 1`` (every run) and ``next`` only to its own host table, after
  that advance;
* and, with every other row of its flow, stay under the OpenFlow bound
  (core/bound.py): the cost is that of the whole row, as ovn-controller sees it.

:class:`Contract` keeps the verdict of each row by its uuid (a row's uuid is a
function of its content), so a pass only checks rows it has not seen.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ovn_inject.constants import OWNER_KEY, OWNER_VALUE
from ovn_inject.core import bound
from ovn_inject.core.compiler import AttachmentSpec, Compiled, LogicalFlow, ServiceSpec
from ovn_inject.core.hooks import Pipeline
from ovn_inject.core.placement import Cursor, Placement, Unusable
from ovn_inject.core.policy import PORT_FIELDS, READABLE, WRITABLE
from ovn_inject.core.status import AttachmentState, FlowState, Status
from ovn_inject.core.topology import Topology
from ovn_inject.lang import Context, LanguageError, Release, parse_actions, parse_match
from ovn_inject.lang import ast as n
from ovn_inject.lang import expansion as ex
from ovn_inject.lang.symbols import SYMBOLS, resolve

#: external_ids every row of ours carries (a flow row also ``ovn-inject-flow``).
REQUIRED_IDS = ("ovn-inject-attachment", "ovn-inject-hook", "ovn-inject-service", "stage-name")
FLOW_ID = "ovn-inject-flow"
_REGISTER_PREFIXES = ("reg", "xreg", "xxreg")


class Breach(Exception):
    """A row that breaks the contract; the message says which clause."""


@dataclass(frozen=True)
class Verdict:
    """What checking one row found: the breach (or None), the ports it names, its OpenFlow cost."""

    problem: str | None
    ports: frozenset[str] = frozenset()
    openflow_flows: int = 0


def check_row(
    lflow: LogicalFlow, placements: Mapping[str, Placement | Unusable], release: Release | None = None
) -> Verdict:
    """Check one row against its hook's placement (all but the tenancy of its ports)."""
    try:
        return _check(lflow, placements, release)
    except Breach as exc:
        return Verdict(str(exc))


def _check(
    lflow: LogicalFlow, placements: Mapping[str, Placement | Unusable], release: Release | None
) -> Verdict:
    ids = dict(lflow.external_ids)
    if ids.get(OWNER_KEY) != OWNER_VALUE:
        raise Breach(f"no owner mark {OWNER_KEY}={OWNER_VALUE}")
    missing = [key for key in REQUIRED_IDS if not ids.get(key)]
    if missing:
        raise Breach(f"external_ids lack {', '.join(missing)}")
    placement = placements.get(ids["ovn-inject-hook"])
    if not isinstance(placement, Placement):
        raise Breach(f"hook '{ids['ovn-inject-hook']}' has no placement")
    hook = placement.hook
    if ids["stage-name"] != hook.stage_name:
        raise Breach(f"stage-name {ids['stage-name']} is not hook {hook.name}'s {hook.stage_name}")
    if lflow.pipeline != hook.pipeline.value or lflow.table_id != placement.table_id:
        raise Breach(
            f"{lflow.pipeline} table {lflow.table_id} is not hook {hook.name}'s "
            f"{hook.pipeline.value} table {placement.table_id}"
        )
    is_flow = FLOW_ID in ids
    low, high = placement.band
    if (is_flow and not low < lflow.priority <= high) or (not is_flow and lflow.priority != low):
        where = f"{low + 1}..{high}" if is_flow else f"{low}"
        raise Breach(f"priority {lflow.priority} is outside hook {hook.name}'s band ({where})")
    try:
        match = row_match(lflow.match, release)
        actions = _parse_actions(lflow.actions, release)
    except LanguageError as exc:
        raise Breach(f"the row is not valid OVN: {exc}") from None
    step, ports = _check_match(match, placement, is_flow)
    ports |= _check_actions(actions, placement, step, is_flow)
    if not is_flow:
        return Verdict(None, ports)
    # Counted, not explained: the costly term is named only for a flow over the limit.
    cost = ex.estimate(match, release=bound.expansion_release(release), name_worst=False)
    return Verdict(None, ports, cost.flows)


#: The separator before a flow row's own part: ``CURSOR && SCOPE && (APP)``.
_LAST_TERM = " && ("
_TRUE = n.Bool(True)


def row_match(text: str, release: Release | None = None) -> n.Expr:
    """``parse_match(text)``, from parts parsed once for the rows that share them.

    The rows of one scope chain share ``cursor && scope`` and the rows of
    many services share ``(app)``; parsing each row whole was most of the
    contract's cost. For a row ``HEAD && (TAIL)`` where ``1 && (TAIL)`` parses
    to two terms, the row parses to the terms that ``HEAD && 1`` parses to,
    with that second term in place of the ``1``: the lexer reads the head to
    its end either way (so the cut is between tokens, never inside a quoted
    string), the head's terms are joined by the same ``&&`` (a head that is
    one range, or joined by ``||``, comes out as it would in the row), and the
    tail is one parenthesised term in both. A row with no tail (a chain's
    continuation, ``HEAD`` alone) parses to the terms of ``HEAD && 1``
    without the ``1``: the parse its chain's flow rows share. Any text that
    does not split so is parsed whole, with the whole text's error message.
    """
    cut = text.rfind(_LAST_TERM)
    while cut > 0 and text.endswith(")"):
        tail = _parse_part("1 && " + text[cut + len(_LAST_TERM) - 1 :], release)
        if isinstance(tail, n.And) and len(tail.items) == 2 and tail.items[0] == _TRUE:
            head = _parse_part(text[:cut] + " && 1", release)
            if isinstance(head, n.And) and head.items[-1] == _TRUE:
                return n.And((*head.items[:-1], tail.items[1]))
            break
        cut = text.rfind(_LAST_TERM, 0, cut)
    if cut < 0:
        whole = _parse_part(text + " && 1", release)
        if isinstance(whole, n.And) and whole.items[-1] == _TRUE:
            items = whole.items[:-1]
            return items[0] if len(items) == 1 else n.And(items)
    return parse_match(text, Context(release=release))


@lru_cache(maxsize=8192)
def _parse_part(text: str, release: Release | None) -> n.Expr | None:
    try:
        return parse_match(text, Context(release=release))
    except LanguageError:
        return None


@lru_cache(maxsize=4096)
def _parse_actions(text: str, release: Release | None) -> n.Actions:
    """Many rows share their actions (``drop;``, a continuation): parsed once."""
    return parse_actions(text, Context(release=release))


def worst_term(lflow: LogicalFlow, release: Release | None = None) -> str:
    """The costly term of a row's match (for the message of a flow over the limit)."""
    try:
        match = parse_match(lflow.match, Context(release=release))
    except LanguageError:
        return ""
    items = _items(match)
    return ex.estimate(items[-1], release=bound.expansion_release(release)).worst_term


def _items(match: n.Expr) -> tuple[n.Expr, ...]:
    return match.items if isinstance(match, n.And) else (match,)


def _cursor_value(items: tuple[n.Expr, ...], cursor: Cursor) -> int:
    """The value ``j`` the leading items compare the cursor with, run by run (lowest run first)."""
    value, shift = 0, 0
    for index, (low, high) in enumerate(cursor.runs):
        item = items[index] if index < len(items) else None
        if not (
            isinstance(item, n.Comparison)
            and item.op == "=="
            and (item.field.name, item.field.low, item.field.high) == (cursor.register, low, high)
            and len(item.values) == 1
            and isinstance(item.values[0], n.Integer)
            and item.values[0].mask is None
        ):
            raise Breach(f"the match does not start with the cursor ({cursor.field} == J)")
        value |= item.values[0].value << shift
        shift += high - low + 1
    return value


def _check_match(match: n.Expr, placement: Placement, is_flow: bool) -> tuple[int, frozenset[str]]:
    """The cursor value ``j`` the row runs at, and the ports its scope names."""
    items = _items(match)
    cursor = placement.cursor
    step = _cursor_value(items, cursor)
    if step >= cursor.capacity:
        raise Breach(f"cursor value {step} is beyond the cursor's capacity {cursor.capacity}")
    rest = items[len(cursor.runs) :]
    scope = rest[:-1] if is_flow else rest
    if not scope:
        raise Breach("the match has no scope after the cursor")
    ports: set[str] = set()
    if not any([_scope_ports(item, ports) for item in scope]):
        raise Breach("the scope after the cursor does not confine the packet to named ports")
    if is_flow:
        if _reads_register(rest[-1]):
            raise Breach("the service's part of the match reads a register")
        _collect_ports(rest[-1], ports)
    return step, frozenset(ports)


def _scope_ports(expr: n.Expr, ports: set[str]) -> bool:
    """Check a scope term; whether it confines the packet to named ports (collected in ``ports``).

    A scope is built of ``inport``/``outport`` compared with port names and,
    where a port is shared (a router or localnet port on a tenant's switch),
    of equalities on header fields with the tenant's addresses: ANDs and ORs
    of those, and every alternative must name a port.
    """
    if isinstance(expr, n.And):
        return any([_scope_ports(item, ports) for item in expr.items])
    if isinstance(expr, n.Or):
        return all([_scope_ports(item, ports) for item in expr.items])
    if isinstance(expr, n.Comparison) and expr.op == "==":
        if expr.field.name in PORT_FIELDS and all(isinstance(v, n.String) for v in expr.values):
            ports.update(v.value for v in expr.values if isinstance(v, n.String))
            return True
        if _root(expr.field) in READABLE and all(isinstance(v, n.Integer) for v in expr.values):
            return False  # narrows, does not confine
    raise Breach("the scope after the cursor compares something else than ports and addresses with constants")


def _collect_ports(expr: n.Expr, ports: set[str]) -> None:
    if isinstance(expr, n.And | n.Or):
        for item in expr.items:
            _collect_ports(item, ports)
    elif isinstance(expr, n.Not):
        _collect_ports(expr.operand, ports)
    elif isinstance(expr, n.Comparison) and expr.field.name in PORT_FIELDS:
        ports.update(v.value for v in expr.values if isinstance(v, n.String))


def _is_register(name: str) -> bool:
    return name.startswith(_REGISTER_PREFIXES) and name.lstrip("x").removeprefix("reg").isdigit()


def _reads_register(expr: n.Expr) -> bool:
    if isinstance(expr, n.And | n.Or):
        return any(_reads_register(item) for item in expr.items)
    if isinstance(expr, n.Not):
        return _reads_register(expr.operand)
    if isinstance(expr, n.Comparison | n.Test):
        return _is_register(expr.field.name)
    return False


def _root(ref: n.FieldRef) -> str:
    symbol = SYMBOLS.get(ref.name)
    if symbol is None or symbol.predicate is not None:
        return ref.name
    return resolve(ref.name, 0, 0)[0].name


def _check_actions(actions: n.Actions, placement: Placement, step: int, is_flow: bool) -> frozenset[str]:
    """Check the actions; the ports they send to."""
    ports: set[str] = set()
    _check_action_list(actions, placement, step, ports, in_clone=False)
    if not is_flow:
        cursor, pipeline = placement.cursor, placement.hook.pipeline.value
        items = actions.items
        runs = len(cursor.runs)
        if not (
            len(items) == runs + 1
            and all(isinstance(a, n.Load) for a in items[:runs])
            and isinstance(items[-1], n.Next)
        ):
            raise Breach(
                f"a continuation must be '{cursor.assign(step + 1)} "
                f"next(pipeline={pipeline}, table={placement.table_id});'"
            )
    return frozenset(ports)


def _check_action_list(
    actions: n.Actions, placement: Placement, step: int, ports: set[str], in_clone: bool
) -> bool:
    """Whether the list advanced the cursor; raises on an action outside the contract."""
    cursor = placement.cursor
    pipeline = placement.hook.pipeline
    # Each run of the cursor's bits and the part of j + 1 it must be set to.
    wanted: dict[tuple[int, int], int] = {}
    shift = 0
    for low, high in cursor.runs:
        wanted[(low, high)] = ((step + 1) >> shift) & ((1 << (high - low + 1)) - 1)
        shift += high - low + 1
    assigned: set[tuple[int, int]] = set()
    for action in actions.items:
        if isinstance(action, n.Drop | n.DecTtl):
            continue
        if isinstance(action, n.Next):
            if action.table != placement.table_id or action.pipeline not in (None, pipeline.value):
                raise Breach(
                    f"next may only go to the hook's own {pipeline.value} table {placement.table_id}, "
                    f"not {action.pipeline or pipeline.value} table {action.table}"
                )
            if len(assigned) != len(wanted):
                raise Breach("next without advancing the cursor: the packet would loop")
        elif isinstance(action, n.Output):
            if pipeline is not Pipeline.INGRESS:
                raise Breach("output is only allowed in ingress hooks")
        elif isinstance(action, n.Load):
            dst = action.dst
            if _is_register(dst.name):
                run = (dst.low, dst.high)
                if (
                    dst.name != cursor.register
                    or run not in wanted
                    or not (isinstance(action.value, n.Integer) and action.value.value == wanted[run])
                ):
                    raise Breach(f"a register is written other than '{cursor.assign(step + 1)}'")
                if in_clone:
                    raise Breach("the cursor is advanced inside clone")
                assigned.add(run)
            elif dst.name == "outport":
                if pipeline is not Pipeline.INGRESS or not isinstance(action.value, n.String):
                    raise Breach("outport is set outside an ingress hook or not to a port name")
                ports.add(action.value.value)
            elif _root(dst) not in WRITABLE:
                raise Breach(f"field '{dst.name}' is written")
        elif isinstance(action, n.Move):
            if _root(action.dst) not in WRITABLE or _is_register(action.src.name):
                raise Breach(f"'{action.dst.name} = {action.src.name}' is not a rewrite services may do")
            if _root(action.src) in PORT_FIELDS:
                raise Breach("inport/outport is copied")
        elif isinstance(action, n.Exchange):
            if _root(action.a) not in WRITABLE or _root(action.b) not in WRITABLE:
                raise Breach(f"'{action.a.name} <-> {action.b.name}' is not a rewrite services may do")
        elif isinstance(action, n.Clone):
            _check_action_list(action.body, placement, step, ports, in_clone=True)
        else:
            name = action.name if isinstance(action, n.Generic) else type(action).__name__
            raise Breach(f"action '{name}' is outside the allowed set")
    return len(assigned) == len(wanted)


def check_tenancy(ports: Iterable[str], tenant: str | None, topology: Topology) -> str | None:
    """Every port a row names must be one of its service's tenant."""
    if tenant is None:
        return "its service is unknown"
    for name in sorted(ports):
        port = topology.port(name)
        if port is None or port.tenant != tenant:
            return f"port '{name}' is not a port of tenant '{tenant}'"
    return None


class Contract:
    """Applies the contract to a compiled result, remembering each row's verdict by uuid."""

    def __init__(self, flow_limit: int = bound.DEFAULT_FLOW_LIMIT) -> None:
        self.flow_limit = flow_limit
        self._verdicts: dict[uuid.UUID, Verdict] = {}
        self._placements: Mapping[str, Placement | Unusable] | None = None
        self._release: Release | None = None
        self.checked = 0  # rows checked (not remembered) by the last apply
        self.refused = 0  # rows held back by the last apply

    def apply(
        self,
        compiled: Compiled,
        placements: Mapping[str, Placement | Unusable],
        topology: Topology,
        services: Iterable[ServiceSpec],
        attachments: Iterable[AttachmentSpec],
        release: Release | None = None,
        budgets: Mapping[str, int] | None = None,
        decided: Callable[[list[LogicalFlow]], None] | None = None,
    ) -> None:
        """Drop every row that breaks the contract; its flow (or attachment) becomes invalid.

        A row's service is found through its attachment (service names are
        unique per tenant only). With ``budgets`` (service uuid -> OpenFlow
        budget), a service's flows beyond its budget are invalid too: the
        cheapest are kept first.

        The rows of one service are decided together (a broken continuation
        refuses its attachment's flows, a budget counts all of them) and
        independently of other services', so ``decided`` is called with the
        rows each service keeps as soon as they are known: the daemon sends
        them to SB while the contract checks the next ones.
        """
        # Compared by value: the daemon re-places hooks (new objects) whenever attachments change.
        if placements != self._placements or release is not self._release:
            self._placements, self._release, self._verdicts = placements, release, {}
        self.checked = self.refused = 0
        by_uuid = {s.uuid: s for s in services}
        owners = {a.uuid: by_uuid.get(a.service) for a in attachments}
        by_service: dict[ServiceSpec | None, list[_Row]] = {}
        for row_uuid, lflow in compiled.lflows.items():
            ids = dict(lflow.external_ids)
            owner = owners.get(ids.get("ovn-inject-attachment", ""))
            by_service.setdefault(owner, []).append((row_uuid, lflow, ids))
        verdicts: dict[uuid.UUID, Verdict] = {}
        problems = _Problems()
        refused: list[uuid.UUID] = []
        for owner, rows in by_service.items():
            kept = self._service_rows(owner, rows, topology, release, budgets, verdicts, problems, refused)
            if decided is not None and kept:
                decided(kept)
        self._verdicts = verdicts
        for row_uuid in refused:
            del compiled.lflows[row_uuid]
        self.refused = len(refused)
        for flow, problem in problems.flows.items():
            compiled.flow_status[flow] = Status(FlowState.INVALID, problem)
        for attachment, problem in problems.attachments.items():
            compiled.attachment_status[attachment] = Status(AttachmentState.INVALID, problem)

    def _service_rows(
        self,
        owner: ServiceSpec | None,
        rows: list[_Row],
        topology: Topology,
        release: Release | None,
        budgets: Mapping[str, int] | None,
        verdicts: dict[uuid.UUID, Verdict],
        problems: _Problems,
        refused: list[uuid.UUID],
    ) -> list[LogicalFlow]:
        """Decide the rows of one service (``owner``): return those it keeps, note the others."""
        placements = self._placements or {}
        flow_problems, attachment_problems = problems.flows, problems.attachments
        costs: dict[str, list[tuple[int, LogicalFlow]]] = defaultdict(list)
        tenant = owner.tenant if owner is not None else None
        for row_uuid, lflow, ids in rows:
            verdict = self._verdicts.get(row_uuid)
            if verdict is None:
                verdict = check_row(lflow, placements, release)
                self.checked += 1
            verdicts[row_uuid] = verdict
            problem = verdict.problem or check_tenancy(verdict.ports, tenant, topology)
            flow = ids.get(FLOW_ID)
            if problem is not None:
                problem = f"output contract: {problem}"
                if flow is not None:
                    flow_problems.setdefault(flow, problem)
                else:
                    attachment_problems.setdefault(ids.get("ovn-inject-attachment", ""), problem)
            elif flow is not None and owner is not None:
                costs[flow].append((verdict.openflow_flows, lflow))
        for flow, priced in costs.items():
            total = min(sum(flows for flows, _ in priced), ex.CAP)
            if total <= self.flow_limit or flow in flow_problems:
                continue
            term = worst_term(max(priced, key=lambda fl: fl[0])[1], release)
            over = bound.over_limit(ex.Cost(total, 0, term, total >= ex.CAP), self.flow_limit)
            flow_problems[flow] = f"match: {over}"  # as the gateway words it
        if budgets is not None and owner is not None:
            _over_budget(costs, dict.fromkeys(costs, owner), flow_problems, budgets)
        kept: list[LogicalFlow] = []
        for row_uuid, lflow, ids in rows:
            flow, attachment = ids.get(FLOW_ID), ids.get("ovn-inject-attachment", "")
            if flow in flow_problems or attachment in attachment_problems:
                refused.append(row_uuid)
                if flow is not None and flow not in flow_problems:
                    flow_problems[flow] = f"its attachment {attachment}: {attachment_problems[attachment]}"
            else:
                kept.append(lflow)
        return kept


#: A compiled row with its uuid and its external_ids as a dict.
_Row = tuple[uuid.UUID, LogicalFlow, dict[str, str]]


@dataclass
class _Problems:
    """Why flows and attachments are invalid, by uuid (filled service by service)."""

    flows: dict[str, str] = field(default_factory=dict)
    attachments: dict[str, str] = field(default_factory=dict)


def _over_budget(
    costs: Mapping[str, list[tuple[int, LogicalFlow]]],
    owners: Mapping[str, ServiceSpec],
    problems: dict[str, str],
    budgets: Mapping[str, int],
) -> None:
    """Flows past their service's OpenFlow budget (rows written by hand, or chains split finer
    than the gateway priced them): the cheapest are kept, ties by flow uuid."""
    by_service: dict[ServiceSpec, list[tuple[int, str]]] = defaultdict(list)
    for flow, priced in costs.items():
        if flow not in problems:
            by_service[owners[flow]].append((min(sum(n for n, _ in priced), ex.CAP), flow))
    for spec, flows in by_service.items():
        service = spec.name
        budget = budgets.get(spec.uuid, bound.DEFAULT_SERVICE_BUDGET)
        used = 0
        for cost, flow in sorted(flows):
            if used + cost <= budget:
                used += cost
            else:
                problems[flow] = (
                    f"over service '{service}''s OpenFlow budget ({bound.BUDGET_OPTION} {budget:,}): "
                    f"it would cost {cost:,} OpenFlow flows on top of {used:,}"
                )
