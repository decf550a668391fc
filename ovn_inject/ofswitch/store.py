"""Table 0 in OVN_Inject: a service's flows as StoredFlows, and flow_mods committed as one transaction.

A flow written over OpenFlow keeps, next to its OVN match and actions, its
OpenFlow form in ``external_ids`` (``of-match``, ``of-instructions`` as hex,
``of-flags``, ``of-idle``, ``of-out``), so that flow stats give back exactly
what the controller wrote and strict commands compare OpenFlow matches.
State lives only there: a restarted daemon or controller finds it again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from ovn_inject.core.status import FlowState
from ovn_inject.core.validate import cookie_from_db, cookie_to_db
from ovn_inject.db.commands import Command, max_flows, now_ms, service_row
from ovn_inject.db.records import single
from ovn_inject.errors import OvnInjectError
from ovn_inject.ofswitch import oxm, table
from ovn_inject.ofswitch.errors import OfError
from ovn_inject.ofswitch.targets import Target, parse_target

TARGETS_COLUMN = "openflow_targets"


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


def service_flows(service: Any) -> list[table.StoredFlow]:
    return [stored_flow(row) for row in service.flows]


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
        service.verify("flows")  # a concurrent writer (the gateway) makes this transaction retry
        rows = {str(row.uuid): row for row in service.flows}
        flows = [stored_flow(row) for row in rows.values()]
        results, changes = table.apply(flows, self.mods, max_flows(service), self.validate)
        for flow in changes.deletes:
            row = rows[flow.id]
            service.delvalue("flows", row)
            row.delete()
        for flow in changes.updates.values():
            row = rows[flow.id]
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

    def __init__(self, api: Any, service: str, targets: Sequence[str]) -> None:
        super().__init__(api)
        self.service = service
        self.targets = [parse_target(t) for t in targets]

    def run_idl(self, txn: Any) -> None:
        service = service_row(self.api, self.service)
        mine = [t for t in self.targets if t.passive]
        for other in self.api.tables["Service"].rows.values():
            if other.uuid == service.uuid:
                continue
            other.verify(TARGETS_COLUMN)
            for text in getattr(other, TARGETS_COLUMN):
                theirs = parse_target(text)
                for target in mine:
                    if theirs.passive and clash(target, theirs):
                        raise OvnInjectError(
                            f"'{target.text}' is already the endpoint of service '{other.name}' ('{text}'); "
                            "a passive endpoint belongs to one service"
                        )
        setattr(service, TARGETS_COLUMN, [t.text for t in self.targets])


def clash(a: Target, b: Target) -> bool:
    """Two listeners that cannot both bind (the same port, on the same or a wildcard address)."""
    wildcard = {"0.0.0.0", "::"}
    return a.port == b.port and a.port != 0 and (a.host == b.host or bool({a.host, b.host} & wildcard))
