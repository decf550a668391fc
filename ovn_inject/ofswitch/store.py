"""Table 0 in OVN_Inject: a service's flows as StoredFlows, and flow_mods committed as one transaction.

A flow written over OpenFlow keeps, next to its OVN match and actions, its
OpenFlow form in ``external_ids`` (``of-match``, ``of-instructions`` as hex,
``of-flags``, ``of-idle``, ``of-out``), so that flow stats give back exactly
what the controller wrote and strict commands compare OpenFlow matches.
State lives only there: a restarted daemon or controller finds it again.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ovn_inject.core.status import FlowState
from ovn_inject.core.validate import cookie_from_db, cookie_to_db
from ovn_inject.db.commands import Command, now_ms, service_row
from ovn_inject.db.flow_commands import max_flows
from ovn_inject.db.records import single
from ovn_inject.db.rows import set_uuids
from ovn_inject.db.verify import verify
from ovn_inject.errors import OvnInjectError
from ovn_inject.ofswitch import oxm, table
from ovn_inject.ofswitch.errors import OfError
from ovn_inject.ofswitch.targets import (
    BARRIER_WAIT_OPTION,
    PEER_CN_OPTION,
    TARGETS_COLUMN,
    Target,
    parse_target,
)


@functools.lru_cache(maxsize=65536)
def _match(hex_text: str) -> tuple[tuple[tuple[int, tuple[int, int]], ...], bytes]:
    data = bytes.fromhex(hex_text)
    fields, padded = oxm.parse_match(data)
    return tuple(sorted(fields.items())), data[:padded]


def stored_flow(row: Any) -> table.StoredFlow:
    ids = row.external_ids
    attachment = single(row.attachment)
    common = {
        "id": str(row.uuid),
        "priority": int(row.priority),
        "cookie": cookie_from_db(int(row.cookie)),
        "ovn_match": row.match,
        "ovn_actions": row.actions,
        "attachment": str(attachment.uuid) if attachment is not None else None,
        "created_ms": int(row.created),
        "hard_timeout": int(row.hard_timeout),
    }
    if "of-match" not in ids:
        return table.StoredFlow(**common)
    try:
        fields, match_bytes = _match(ids["of-match"])
        out = ids.get("of-out")
        return table.StoredFlow(
            **common,
            idle_timeout=int(ids.get("of-idle", "0")),
            flags=int(ids.get("of-flags", "0")),
            match=dict(fields),
            match_bytes=match_bytes,
            instructions=bytes.fromhex(ids.get("of-instructions", "")),
            out_port=int(out) if out else None,
            from_openflow=True,
        )
    except (ValueError, OfError):
        return table.StoredFlow(**common)  # edited by hand into nonsense: show it as a non-OpenFlow flow


#: row uuid -> its StoredFlow. A Service_Flow row changes in place only through a MODIFY of
#: ours (which drops its entry) or in columns table 0 does not show (status), so a batch
#: reads only the rows it has not seen: it stays linear in the flow_mods, not in the flows.
_CACHE: dict[uuid.UUID, table.StoredFlow] = {}
CACHE_MAX = 1_000_000


def cached_flow(row: Any) -> table.StoredFlow:
    flow = _CACHE.get(row.uuid)
    if flow is None:
        if len(_CACHE) >= CACHE_MAX:
            _CACHE.clear()
        flow = _CACHE[row.uuid] = stored_flow(row)
    return flow


def service_flows(service: Any, rows: Mapping[uuid.UUID, Any]) -> list[table.StoredFlow]:
    """The service's flows as committed (``rows``: the IDL's Service_Flow rows)."""
    out = []
    for flow_uuid in set_uuids(service, "flows"):
        flow = _CACHE.get(flow_uuid)
        if flow is None:
            row = rows.get(flow_uuid)
            if row is None:
                continue
            flow = cached_flow(row)
        out.append(flow)
    return out


#: service uuid -> its flows' index and the row uuids it holds, between transactions.
_INDEXES: dict[uuid.UUID, tuple[table.Index, set[uuid.UUID]]] = {}


def synced_index(service: Any, rows: Mapping[uuid.UUID, Any]) -> table.Index:
    """The service's index, brought up to its committed flows by the difference of their uuids."""
    index, known = _INDEXES.setdefault(service.uuid, (table.Index(), set()))
    current = set(set_uuids(service, "flows"))
    for gone in known - current:
        flow = index.flows.get(str(gone))
        if flow is not None:
            index.remove(flow)
    for new in current - known:
        row = rows.get(new)
        if row is not None:
            index.put(cached_flow(row))
    known.clear()
    known.update(current)
    return index


def _external_ids(flow: table.StoredFlow) -> dict[str, str]:
    ids = {
        "of-match": flow.match_bytes.hex(),
        "of-instructions": flow.instructions.hex(),
        "of-flags": str(flow.flags),
        "of-idle": str(flow.idle_timeout),
    }
    if flow.out_port is not None:
        ids["of-out"] = str(flow.out_port)
    return ids


class FlowModCommand(Command):
    """Apply a batch of flow_mods to a service's flows in one transaction; result: an error or None each."""

    def __init__(
        self, api: Any, service: str, mods: Sequence[table.FlowMod], validate: Callable[..., Any]
    ) -> None:
        super().__init__(api)
        self.service = service
        self.mods = list(mods)
        self.validate = validate

    def run_idl(self, txn: Any) -> None:
        service = service_row(self.api, self.service)
        limit = max_flows(service)
        if limit is not None:
            # As the gateway does: with a quota, a concurrent writer makes this transaction retry.
            # Without, no verify: it sends the whole set of flow uuids with every transaction.
            service.verify("flows")
        rows = self.api.tables["Service_Flow"].rows
        index = synced_index(service, rows)
        results, changes = table.apply(index, self.mods, limit, self.validate)
        for flow in changes.deletes:
            row = rows[uuid.UUID(flow.id)]
            service.delvalue("flows", row)
            row.delete()
        for flow in changes.updates.values():
            row = rows[uuid.UUID(flow.id)]
            _CACHE.pop(row.uuid, None)
            _INDEXES.pop(service.uuid, None)  # the row keeps its uuid: rebuild the index next time
            row.actions = flow.ovn_actions
            row.external_ids = {**row.external_ids, **_external_ids(flow)}
            row.status = FlowState.PENDING.value
        created = now_ms()
        for flow in changes.inserts:
            row = txn.insert(self.api.tables["Service_Flow"])
            row.service = [service]
            row.priority = flow.priority
            row.match = flow.ovn_match
            row.actions = flow.ovn_actions
            row.cookie = cookie_to_db(flow.cookie)
            row.hard_timeout = flow.hard_timeout
            row.created = created
            row.status = FlowState.PENDING.value
            row.external_ids = _external_ids(flow)
            service.addvalue("flows", row)
        self.result = results


class SetTargetsCommand(Command):
    """Set a service's OpenFlow targets; a passive endpoint may belong to one service only."""

    def __init__(
        self,
        api: Any,
        service: str,
        targets: Sequence[str],
        barrier_wait: str | None = None,
        peer_cn: str | None = None,
    ) -> None:
        super().__init__(api)
        self.peer_cn = peer_cn
        self.service = service
        self.targets = [parse_target(t) for t in targets]
        self.barrier_wait = barrier_wait  # None: unchanged; "none", "sb" or "hv"

    def run_idl(self, txn: Any) -> None:
        service = service_row(self.api, self.service)
        mine = [t for t in self.targets if t.passive]
        for other in self.api.tables["Service"].rows.values():
            if other.uuid == service.uuid:
                continue
            verify(other, TARGETS_COLUMN)
            for text in getattr(other, TARGETS_COLUMN):
                theirs = parse_target(text)
                for target in mine:
                    if theirs.passive and clash(target, theirs):
                        raise OvnInjectError(
                            f"'{target.text}' is already the endpoint of service '{other.name}' ('{text}'); "
                            "a passive endpoint belongs to one service"
                        )
        setattr(service, TARGETS_COLUMN, [t.text for t in self.targets])
        if self.barrier_wait == "none":
            service.delkey("options", BARRIER_WAIT_OPTION)
        elif self.barrier_wait is not None:
            service.setkey("options", BARRIER_WAIT_OPTION, self.barrier_wait)
        if self.peer_cn:
            service.setkey("options", PEER_CN_OPTION, self.peer_cn)


def clash(a: Target, b: Target) -> bool:
    """Two listeners that cannot both bind (the same port, on the same or a wildcard address)."""
    wildcard = {"0.0.0.0", "::"}
    return a.port == b.port and a.port != 0 and (a.host == b.host or bool({a.host, b.host} & wildcard))
