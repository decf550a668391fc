"""Table 0's semantics as a pure function: flow_mods applied to a service's flows.

:func:`apply` takes the flows a service has and a batch of flow_mods in
order, and returns for each flow_mod its error (or None) and the changes to
write: inserts, action updates and deletes. The store runs it inside one
OVN_Inject transaction on the rows it reads there, so a batch commits all
its accepted flow_mods at once, while each refused one changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from os_ken.ofproto import ofproto_v1_3 as ofp

from ovn_inject.core.validate import FlowRequest, FlowValidationError, ValidFlow
from ovn_inject.ofswitch import oxm
from ovn_inject.ofswitch.errors import OfError

ADD, MODIFY, MODIFY_STRICT, DELETE, DELETE_STRICT = (
    ofp.OFPFC_ADD,
    ofp.OFPFC_MODIFY,
    ofp.OFPFC_MODIFY_STRICT,
    ofp.OFPFC_DELETE,
    ofp.OFPFC_DELETE_STRICT,
)
STRICT = frozenset({MODIFY_STRICT, DELETE_STRICT})
COOKIE_ALL = (1 << 64) - 1


@dataclass(frozen=True)
class StoredFlow:
    """A flow of the service as table 0 shows it (flows not written over OpenFlow have no OXM match)."""

    id: str
    priority: int
    cookie: int
    ovn_match: str
    ovn_actions: str
    attachment: str | None = None
    created_ms: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0
    match: oxm.Match = field(default_factory=dict)
    match_bytes: bytes = oxm.EMPTY_MATCH_BYTES
    instructions: bytes = b""
    out_port: int | None = None
    from_openflow: bool = False


@dataclass(frozen=True)
class FlowMod:
    """A flow_mod, parsed and (for ADD) translated and validated already."""

    xid: int
    raw: bytes
    command: int
    cookie: int
    cookie_mask: int
    priority: int
    flags: int
    idle_timeout: int
    hard_timeout: int
    out_port: int
    match: oxm.Match
    match_bytes: bytes
    instructions: bytes = b""
    actions: str = ""  # OVN actions (ADD, MODIFY*)
    output: int | None = None
    valid: ValidFlow | None = None  # ADD only


@dataclass
class Changes:
    inserts: list[StoredFlow] = field(default_factory=list)
    updates: dict[str, StoredFlow] = field(default_factory=dict)  # id -> flow with new actions
    deletes: list[StoredFlow] = field(default_factory=list)


#: (priority, match, actions) -> the canonical actions, or FlowValidationError: the HTTP API's checks.
Validator = Callable[[FlowRequest], ValidFlow]


def selects(mod: FlowMod, flow: StoredFlow) -> bool:
    """Whether a MODIFY/DELETE (strict or not) or a stats request picks ``flow``."""
    if (flow.cookie ^ mod.cookie) & mod.cookie_mask:
        return False
    if mod.command in (DELETE, DELETE_STRICT) and mod.out_port not in (ofp.OFPP_ANY, flow.out_port):
        return False
    if mod.command in STRICT:
        return flow.priority == mod.priority and oxm.same(flow.match, mod.match)
    return oxm.covers(mod.match, flow.match)


def _same_flow(mod: FlowMod, flow: StoredFlow) -> bool:
    """The flow an ADD replaces: same priority and match (to OpenFlow, or to OVN at no attachment)."""
    if flow.priority != mod.priority:
        return False
    if flow.from_openflow and oxm.same(flow.match, mod.match):
        return True
    return mod.valid is not None and flow.attachment is None and flow.ovn_match == mod.valid.match


def apply(
    flows: Sequence[StoredFlow], mods: Sequence[FlowMod], max_flows: int | None, validate: Validator
) -> tuple[list[OfError | None], Changes]:
    table = {f.id: f for f in flows}
    changes = Changes()
    results: list[OfError | None] = []
    for index, mod in enumerate(mods):
        try:
            if mod.command == ADD:
                _add(table, changes, mod, max_flows, f"new-{index}")
            elif mod.command in (MODIFY, MODIFY_STRICT):
                _modify(table, changes, mod, validate)
            else:
                for flow in [f for f in table.values() if selects(mod, f)]:
                    del table[flow.id]
                    _forget(changes, flow)
            results.append(None)
        except OfError as exc:
            results.append(exc)
    return results, changes


def _forget(changes: Changes, flow: StoredFlow) -> None:
    changes.updates.pop(flow.id, None)
    if flow.id.startswith("new-"):
        changes.inserts = [f for f in changes.inserts if f.id != flow.id]
    else:
        changes.deletes.append(flow)


def _add(
    table: dict[str, StoredFlow], changes: Changes, mod: FlowMod, max_flows: int | None, new_id: str
) -> None:
    assert mod.valid is not None
    same = [f for f in table.values() if _same_flow(mod, f)]
    if mod.flags & ofp.OFPFF_CHECK_OVERLAP:
        for flow in table.values():
            if flow.priority == mod.priority and flow not in same and oxm.overlaps(flow.match, mod.match):
                raise OfError(
                    ofp.OFPET_FLOW_MOD_FAILED,
                    ofp.OFPFMFC_OVERLAP,
                    f"overlaps a flow of the same priority (cookie {flow.cookie:#x})",
                )
    if max_flows is not None and len(table) - len(same) + 1 > max_flows:
        raise OfError(
            ofp.OFPET_FLOW_MOD_FAILED,
            ofp.OFPFMFC_TABLE_FULL,
            f"the service may have at most {max_flows} flows",
        )
    for flow in same:
        del table[flow.id]
        _forget(changes, flow)
    flow = StoredFlow(
        id=new_id,
        priority=mod.priority,
        cookie=mod.cookie,
        ovn_match=mod.valid.match,
        ovn_actions=mod.valid.actions,
        idle_timeout=mod.idle_timeout,
        hard_timeout=mod.hard_timeout,
        flags=mod.flags,
        match=mod.match,
        match_bytes=mod.match_bytes,
        instructions=mod.instructions,
        out_port=mod.output,
        from_openflow=True,
    )
    table[new_id] = flow
    changes.inserts.append(flow)


def _modify(table: dict[str, StoredFlow], changes: Changes, mod: FlowMod, validate: Validator) -> None:
    chosen = [f for f in table.values() if selects(mod, f)]
    updated = []
    for flow in chosen:
        request = FlowRequest(flow.priority, flow.ovn_match, mod.actions, flow.cookie, flow.attachment)
        try:
            valid = validate(request)
        except FlowValidationError as exc:
            raise policy_error(exc) from None
        updated.append(
            dataclasses.replace(
                flow, ovn_actions=valid.actions, instructions=mod.instructions, out_port=mod.output
            )
        )
    for flow in updated:
        table[flow.id] = flow
        if flow.id.startswith("new-"):
            changes.inserts = [flow if f.id == flow.id else f for f in changes.inserts]
        else:
            changes.updates[flow.id] = flow


def policy_error(exc: FlowValidationError) -> OfError:
    """What the HTTP API answers 400/403 with, as an OpenFlow error."""
    if exc.forbidden:
        return OfError(ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_EPERM, str(exc))
    if exc.column.startswith("actions"):
        return OfError(ofp.OFPET_BAD_ACTION, ofp.OFPBAC_BAD_ARGUMENT, str(exc))
    if exc.column.startswith("match"):
        return OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_VALUE, str(exc))
    return OfError(ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_EPERM, str(exc))
