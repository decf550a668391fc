"""Table 0's semantics as a pure function: flow_mods applied to a service's flows.

:func:`apply` takes the flows a service has and a batch of flow_mods in
order, and returns for each flow_mod its error (or None) and the changes to
write: inserts, action updates and deletes. The store runs it inside one
OVN_Inject transaction on the rows it reads there, so a batch commits all
its accepted flow_mods at once, while each refused one changes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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

    @functools.cached_property
    def keys(self) -> tuple[Any, Any]:
        """What an ADD of the same flow shares: (priority, OXM match), (priority, OVN match)."""
        of_key = (self.priority, frozenset(self.match.items())) if self.from_openflow else None
        ovn_key = (self.priority, self.ovn_match) if self.attachment is None else None
        return of_key, ovn_key


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


class Index:
    """A service's flows indexed by what an ADD replaces, kept between batches (so a batch is linear).

    :func:`apply` changes it as the batch goes and then undoes every change:
    whether the transaction commits or not, the store re-syncs the index to the
    committed rows (by their uuids) before the next batch.
    """

    def __init__(self, flows: Sequence[StoredFlow] = ()) -> None:
        self.flows: dict[str, StoredFlow] = {}
        self.by_match: dict[tuple[int, frozenset[tuple[int, tuple[int, int]]]], set[str]] = {}
        self.by_ovn: dict[tuple[int, str], set[str]] = {}
        self._undo: list[tuple[bool, StoredFlow]] | None = None
        for flow in flows:
            self.put(flow)

    def put(self, flow: StoredFlow) -> None:
        old = self.flows.get(flow.id)
        if old is not None:
            self.remove(old)
        self.flows[flow.id] = flow
        of_key, ovn_key = flow.keys
        if of_key is not None:
            self.by_match.setdefault(of_key, set()).add(flow.id)
        if ovn_key is not None:
            self.by_ovn.setdefault(ovn_key, set()).add(flow.id)
        if self._undo is not None:
            self._undo.append((True, flow))

    def remove(self, flow: StoredFlow) -> None:
        del self.flows[flow.id]
        of_key, ovn_key = flow.keys
        if of_key is not None:
            self.by_match[of_key].discard(flow.id)
        if ovn_key is not None:
            self.by_ovn[ovn_key].discard(flow.id)
        if self._undo is not None:
            self._undo.append((False, flow))

    def same_as(self, mod: FlowMod) -> list[StoredFlow]:
        """The flows an ADD replaces: same priority and match (OpenFlow's, or OVN's at no attachment)."""
        ids = set(self.by_match.get((mod.priority, frozenset(mod.match.items())), ()))
        if mod.valid is not None:
            ids |= self.by_ovn.get((mod.priority, mod.valid.match), set())
        return [self.flows[i] for i in sorted(ids)]

    def record(self) -> None:
        self._undo = []

    def rollback(self) -> None:
        undo, self._undo = self._undo or [], None
        for was_put, flow in reversed(undo):
            if was_put:
                self.remove(flow)
            else:
                self.put(flow)


def apply(
    flows: Sequence[StoredFlow] | Index, mods: Sequence[FlowMod], max_flows: int | None, validate: Validator
) -> tuple[list[OfError | None], Changes]:
    """Apply ``mods`` in order; an Index given is left as it was."""
    table = flows if isinstance(flows, Index) else Index(flows)
    changes = Changes()
    results: list[OfError | None] = []
    table.record()
    try:
        for index, mod in enumerate(mods):
            try:
                if mod.command == ADD:
                    _add(table, changes, mod, max_flows, f"new-{index}")
                elif mod.command in (MODIFY, MODIFY_STRICT):
                    _modify(table, changes, mod, validate)
                else:
                    for flow in [f for f in table.flows.values() if selects(mod, f)]:
                        table.remove(flow)
                        _forget(changes, flow)
                results.append(None)
            except OfError as exc:
                results.append(exc)
    finally:
        table.rollback()
    return results, changes


def _forget(changes: Changes, flow: StoredFlow) -> None:
    changes.updates.pop(flow.id, None)
    if flow.id.startswith("new-"):
        changes.inserts = [f for f in changes.inserts if f.id != flow.id]
    else:
        changes.deletes.append(flow)


def _add(table: Index, changes: Changes, mod: FlowMod, max_flows: int | None, new_id: str) -> None:
    assert mod.valid is not None
    same = table.same_as(mod)
    if mod.flags & ofp.OFPFF_CHECK_OVERLAP:
        for flow in table.flows.values():
            if flow.priority == mod.priority and flow not in same and oxm.overlaps(flow.match, mod.match):
                raise OfError(
                    ofp.OFPET_FLOW_MOD_FAILED,
                    ofp.OFPFMFC_OVERLAP,
                    f"overlaps a flow of the same priority (cookie {flow.cookie:#x})",
                )
    if max_flows is not None and len(table.flows) - len(same) + 1 > max_flows:
        raise OfError(
            ofp.OFPET_FLOW_MOD_FAILED,
            ofp.OFPFMFC_TABLE_FULL,
            f"the service may have at most {max_flows} flows",
        )
    for flow in same:
        table.remove(flow)
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
    table.put(flow)
    changes.inserts.append(flow)


def _modify(table: Index, changes: Changes, mod: FlowMod, validate: Validator) -> None:
    chosen = [f for f in table.flows.values() if selects(mod, f)]
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
        table.put(flow)
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
