"""A flow add as one OVN_Inject ``transact``, and ``--wait`` as a server-side ``wait``: the CLI's fast write.

An IDL downloads every table of OVN_Inject (every flow of every service)
and imports ovsdbapp before the first write; ``flow-add`` needs a service,
its attachments, the keys of its own flows and one transaction. The
transaction holds the same guards as the IDL's (:class:`FlowAddCommand`):
it waits, with a zero timeout, for the service's ``flows_seqno`` it read
and for each attachment it binds to, so a concurrent writer makes it fail
and the caller read and check again; the quota, the OpenFlow budget and
duplicates are checked against what that read showed.

``--wait`` is a second ``transact`` whose ``wait`` operation the server holds
until ``Inject_Global.sb_cfg`` (or ``hv_cfg``) reaches the bumped ``cfg``: no
monitor, no polling, an answer the moment the compiler daemon writes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.core import quota
from ovn_inject.core.validate import (
    AttachmentView,
    FlowKey,
    OpenFlowBudgetError,
    QuotaExceededError,
    ServiceView,
    ValidFlow,
    check_no_duplicates,
)
from ovn_inject.db import wire
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.flowrow import flow_columns
from ovn_inject.db.rpc import Rpc, RpcError
from ovn_inject.records import record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

_SERVICE_COLUMNS = ["_uuid", "name", "tenant", "options", "attachments", "flows_seqno"]
_ATTACHMENT_COLUMNS = ["_uuid", "target_kind", "target_name", "hook"]
_FLOW_COLUMNS = ["attachment", "priority", "match", "openflow_flows"]
#: The IDL's attempts at a transaction a concurrent writer spoils, in the same time.
CONFLICT = "a concurrent change"


class Conflict(InjectDbError):
    """Another writer changed the service's flows (or an attachment) since they were read: read again."""


class Fallback(Exception):
    """The server's OVN_Inject lacks what the one-shot path relies on (older schema, no Inject_Global)."""


@record(frozen=True)
class ServiceState:
    """What one read showed of a service: enough to validate a flow and guard its write."""

    uuid: str
    seqno: int
    view: ServiceView
    keys: frozenset[FlowKey]
    cost: int
    release: str | None


def _transact(rpc: Rpc, ops: Sequence[dict[str, Any]], timeout: float | None = None) -> list[Any]:
    return _result(rpc, rpc.send("transact", [INJECT_DB_NAME, *ops]), timeout)


def _result(rpc: Rpc, sent: int, timeout: float | None = None) -> list[Any]:
    """The operations' results of the ``transact`` sent as ``sent``."""
    try:
        result: list[Any] = rpc.reply(sent, timeout)
    except RpcError as exc:
        if "unknown database" in str(exc.error):
            raise InjectDbError(
                f"cannot reach {INJECT_DB_NAME}: {rpc.remote} has no database {INJECT_DB_NAME} "
                "(is it served there? 'ovsdb-server/add-db' adds a database)"
            ) from None
        raise
    return result


def send_read(rpc: Rpc) -> int:
    """Ask for what :func:`read_service` reads first (every service and attachment, Inject_Global)."""
    ops = [
        {"op": "select", "table": "Service", "where": [], "columns": _SERVICE_COLUMNS},
        {"op": "select", "table": "Attachment", "where": [], "columns": _ATTACHMENT_COLUMNS},
        {"op": "select", "table": "Inject_Global", "where": [], "columns": ["_uuid", "options"]},
    ]
    return rpc.send("transact", [INJECT_DB_NAME, *ops])


def read_service(rpc: Rpc, reference: str, sent: int | None = None) -> ServiceState:
    """The service ``reference`` names (as :func:`wire.find_service` resolves it) and its flows' keys.

    ``sent``: the request :func:`send_read` sent already, if the caller sent it (and worked meanwhile).
    """
    services, attachments, glob = _result(rpc, send_read(rpc) if sent is None else sent)
    if any("error" in r for r in (services, attachments, glob)) or not glob.get("rows"):
        raise Fallback  # e.g. a schema before flows_seqno, or a database not initialised yet
    service = wire.find_service([wire.decode_row("Service", r) for r in services["rows"]], reference)
    by_uuid = {a["_uuid"]: a for a in (wire.decode_row("Attachment", r) for r in attachments["rows"])}
    views = tuple(
        AttachmentView(u, by_uuid[u]["target_kind"], by_uuid[u]["target_name"], by_uuid[u]["hook"])
        for u in service["attachments"]
        if u in by_uuid
    )
    where = [["service", "==", ["uuid", service["_uuid"]]]]
    [flows] = _transact(
        rpc, [{"op": "select", "table": "Service_Flow", "where": where, "columns": _FLOW_COLUMNS}]
    )
    if "error" in flows:
        raise Fallback
    keys: set[FlowKey] = set()
    cost = 0
    for row in flows["rows"]:
        record = wire.decode_row("Service_Flow", row)
        keys.add((record["attachment"], int(record["priority"]), record["match"]))
        cost += int(record["openflow_flows"] or 0)
    options = service["options"]
    limit = options.get("max_flows")
    view = ServiceView(
        name=service["name"],
        tenant=service["tenant"],
        max_flows=int(limit) if limit and limit.isdigit() else None,
        attachments=views,
        flow_count=len(flows["rows"]),
        max_openflow_flows=quota.budget(options),
    )
    release = wire.decode_row("Inject_Global", glob["rows"][0])["options"].get("ovn_release")
    return ServiceState(service["_uuid"], int(service["flows_seqno"]), view, frozenset(keys), cost, release)


def add_flows(rpc: Rpc, state: ServiceState, flows: Sequence[ValidFlow], bump: bool) -> tuple[list[str], int]:
    """Insert ``flows`` into the service in one transaction; with ``bump``, also cfg + 1.

    Return the new rows' uuids and the cfg to wait for (0 without ``bump``).
    Raises :class:`Conflict` when another writer got in between the read and this write.
    """
    view = state.view
    if view.max_flows is not None and view.flow_count + len(flows) > view.max_flows:
        raise QuotaExceededError(view.name, view.max_flows, view.flow_count + len(flows))
    adding = sum(f.openflow_flows for f in flows)
    if adding and state.cost + adding > view.max_openflow_flows:
        raise OpenFlowBudgetError(view.name, view.max_openflow_flows, state.cost + adding)
    check_no_duplicates(flows, stored=state.keys.__contains__)
    service = ["uuid", state.uuid]
    ops: list[dict[str, Any]] = [_unchanged("Service", state.uuid, {"flows_seqno": state.seqno})]
    for attachment in sorted({f.attachment for f in flows if f.attachment is not None}):
        ops.append(_unchanged("Attachment", attachment, {"_uuid": ["uuid", attachment]}))
    created = int(time.time() * 1000)
    names = [f"flow{i}" for i in range(len(flows))]
    for name, flow in zip(names, flows, strict=True):
        row: dict[str, Any] = {"service": service}
        if flow.attachment is not None:
            row["attachment"] = ["uuid", flow.attachment]
        row.update(flow_columns(flow, created))
        ops.append({"op": "insert", "table": "Service_Flow", "row": row, "uuid-name": name})
    added = ["set", [["named-uuid", name] for name in names]]
    ops.append(
        {
            "op": "mutate",
            "table": "Service",
            "where": [["_uuid", "==", service]],
            "mutations": [["flows", "insert", added], ["flows_seqno", "+=", 1]],
        }
    )
    if bump:
        ops.append({"op": "mutate", "table": "Inject_Global", "where": [], "mutations": [["cfg", "+=", 1]]})
        ops.append({"op": "select", "table": "Inject_Global", "where": [], "columns": ["cfg"]})
    results = _transact(rpc, ops)
    guards = len(ops) - len(flows) - 1 - (2 if bump else 0)
    for result in results[:guards]:
        if isinstance(result, dict) and result.get("error") == "timed out":
            raise Conflict(f"OVN_Inject changed under the write ({CONFLICT})")
    failed = [r for r in results if isinstance(r, dict) and "error" in r]
    if failed or len(results) < len(ops):
        detail = failed[0] if failed else {"error": "incomplete reply"}
        message = ": ".join(str(detail.get(k)) for k in ("error", "details") if detail.get(k))
        raise InjectDbError(f"OVN_Inject refused the change: {message}")
    uuids = [str(results[guards + i]["uuid"][1]) for i in range(len(flows))]
    cfg = int(results[-1]["rows"][0]["cfg"]) if bump else 0
    return uuids, cfg


def _unchanged(table: str, uuid: str, row: dict[str, Any]) -> dict[str, Any]:
    """A guard: the transaction fails at once unless the row still holds ``row``."""
    return {
        "op": "wait",
        "timeout": 0,
        "table": table,
        "where": [["_uuid", "==", ["uuid", uuid]]],
        "columns": list(row),
        "until": "==",
        "rows": [row],
    }


def wait_cfg(rpc: Rpc, column: str, cfg: int, timeout: float) -> bool:
    """Wait until Inject_Global.<column> >= cfg; the server answers when it is (or after ``timeout``)."""
    op = {
        "op": "wait",
        "timeout": max(1, int(timeout * 1000)),
        "table": "Inject_Global",
        "where": [[column, ">=", cfg]],
        "columns": [column],
        "until": "!=",
        "rows": [],
    }
    [result] = _transact(rpc, [op], timeout + max(5.0, timeout))
    if "error" not in result:
        return True
    if result["error"] == "timed out":
        return False
    raise InjectDbError(f"OVN_Inject refused the wait: {result['error']}")


def current_cfg(rpc: Rpc, column: str) -> int:
    [result] = _transact(rpc, [{"op": "select", "table": "Inject_Global", "where": [], "columns": [column]}])
    rows = result.get("rows") or []
    return int(rows[0][column]) if rows else 0
