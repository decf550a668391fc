"""What each endpoint does, apart from HTTP: validate, write in one transaction, read back.

Every write is checked by :func:`ovn_inject.core.validate.validate_flows` (the
one validation seam) before anything is sent, and is then committed in one
OVN_Inject transaction whose commands re-check, inside the transaction, what
a concurrent writer could change: the token still exists, the quota, and
that no identical flow appeared meanwhile.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ovn_inject.core.appflows import FlowCache, ServiceFlow
from ovn_inject.core.compiler import compile_hooks
from ovn_inject.core.contract import FLOW_ID, Contract
from ovn_inject.core.hooks import HOOKS_BY_NAME, TargetKind
from ovn_inject.core.status import AttachmentState, FlowState
from ovn_inject.core.tokens import TokenError
from ovn_inject.core.topology import TargetError
from ovn_inject.core.validate import (
    COOKIE_MAX,
    FlowRequest,
    ServiceView,
    ValidFlow,
    check_no_duplicates,
    cookie_from_db,
    validate_flows,
)
from ovn_inject.db import records
from ovn_inject.db.rows import row_cost, set_uuids
from ovn_inject.gateway import models
from ovn_inject.gateway.errors import ApiError, bad_request, not_found
from ovn_inject.gateway.state import Caller, GatewayState

#: At most this many flows in one request (413 beyond): a bundle larger than that is a mistake.
MAX_FLOWS_PER_REQUEST = 10_000
WAIT_COLUMNS = {"sb": "sb_cfg", "hv": "hv_cfg"}
DRY_RUN_PREFIX = "dry-run-"


# ---- requests -> validated flows ----------------------------------------------------


def to_requests(body: models.FlowEntry | list[models.FlowEntry]) -> list[FlowRequest]:
    entries = body if isinstance(body, list) else [body]
    if len(entries) > MAX_FLOWS_PER_REQUEST:
        raise ApiError(
            413, "too_large", f"{len(entries)} flows in one request; at most {MAX_FLOWS_PER_REQUEST}"
        )
    numbered = isinstance(body, list)
    return [e.to_request(f"flows[{i}]." if numbered else "") for i, e in enumerate(entries)]


def validated(
    state: GatewayState, caller: Caller, requests: Sequence[FlowRequest], replacing: bool = False
) -> tuple[ServiceView, list[ValidFlow]]:
    view = state.service_view(caller)
    return view, validate_flows(requests, view, replacing=replacing)


# ---- writes ---------------------------------------------------------------------------------


def _commit(state: GatewayState, command: Any, wait: str | None, timeout: float) -> Any:
    """Commit one command; with ``wait``, bump Inject_Global.cfg in the same transaction and wait."""
    if wait is None:
        [result] = state.api.commit(command)
        return result
    bump = state.api.bump_cfg()
    result, cfg = state.api.commit(command, bump)
    column = WAIT_COLUMNS[wait]
    if not state.wait_cfg(column, cfg, timeout):
        # Only what was seen: the daemon may be down, busy, or a chassis slow; nothing here tells which.
        what = (
            "written to SB by the compiler daemon" if wait == "sb" else "reported installed by every chassis"
        )
        raise ApiError(
            504,
            "timeout",
            f"the change is committed but was not {what} within {timeout:g} s "
            f"(Inject_Global.{column} has not reached {cfg}); GET the flows for their status",
        )
    return result


def add(
    state: GatewayState, caller: Caller, requests: Sequence[FlowRequest], wait: str | None, timeout: float
) -> list[models.Flow]:
    _, flows = validated(state, caller, requests)
    check_no_duplicates(flows)
    command = state.api.flow_add(caller.service_uuid, flows, caller.token, state.flow_keys)
    uuids = _commit(state, command, wait, timeout)
    return _written(state, uuids, flows)


def replace(
    state: GatewayState, caller: Caller, requests: Sequence[FlowRequest], wait: str | None, timeout: float
) -> list[models.Flow]:
    _, flows = validated(state, caller, requests, replacing=True)
    check_no_duplicates(flows)
    command = state.api.flow_replace(caller.service_uuid, flows, caller.token)
    uuids = _commit(state, command, wait, timeout)
    return _written(state, uuids, flows)


def delete_one(state: GatewayState, caller: Caller, flow_id: str, wait: str | None, timeout: float) -> int:
    flow_uuid = parse_flow_id(flow_id)
    if find_flow(state, caller, flow_uuid) is None:
        raise not_found(f"service '{caller.service}' has no flow {flow_id}", "id")
    command = state.api.flow_del(caller.service_uuid, flow_id=str(flow_uuid), token=caller.token)
    return int(_commit(state, command, wait, timeout) or 0)


def delete_by_cookie(
    state: GatewayState, caller: Caller, cookie: int, mask: int, wait: str | None, timeout: float
) -> int:
    for name, value in (("cookie", cookie), ("cookie_mask", mask)):
        if not 0 <= value <= COOKIE_MAX:
            raise bad_request(f"{name}: {value} does not fit in 64 bits", name)
    command = state.api.flow_del(caller.service_uuid, cookie=cookie, cookie_mask=mask, token=caller.token)
    return int(_commit(state, command, wait, timeout) or 0)


def _written(state: GatewayState, uuids: Sequence[Any], flows: Sequence[ValidFlow]) -> list[models.Flow]:
    """The new rows as the IDL shows them (their status once waited), else as written."""
    out: list[models.Flow] = []
    if not flows:
        return out  # nothing inserted: the transaction may have changed nothing and returned no uuids
    rows = state.api.tables["Service_Flow"].rows
    for flow_uuid, flow in zip(uuids, flows, strict=True):
        row = rows.get(flow_uuid) if isinstance(flow_uuid, uuid.UUID) else None
        if row is not None:
            out.append(flow_record(row))
        else:
            out.append(
                models.Flow(
                    id=str(flow_uuid),
                    priority=flow.priority,
                    match=flow.match,
                    actions=flow.actions,
                    cookie=flow.cookie,
                    hard_timeout=flow.hard_timeout,
                    attachment=flow.attachment,
                    openflow_flows=flow.openflow_flows,
                    status=FlowState.PENDING,
                )
            )
    return out


# ---- reads -----------------------------------------------------------------------------------


def flow_record(row: Any) -> models.Flow:
    attachment = records.single(row.attachment)
    return models.Flow(
        id=str(row.uuid),
        priority=int(row.priority),
        match=row.match,
        actions=row.actions,
        cookie=cookie_from_db(int(row.cookie)),
        hard_timeout=int(row.hard_timeout),
        attachment=str(attachment.uuid) if attachment is not None else None,
        openflow_flows=row_cost(row),
        status=row.status,
        reason=row.reason,
    )


def parse_flow_id(flow_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(flow_id)
    except ValueError:
        raise bad_request(f"'{flow_id[:64]}' is not a flow id (a uuid)", "id") from None


def find_flow(state: GatewayState, caller: Caller, flow_uuid: uuid.UUID) -> Any:
    row = state.api.tables["Service_Flow"].rows.get(flow_uuid)
    service = records.single(row.service) if row is not None else None
    if service is None or str(service.uuid) != caller.service_uuid:
        return None  # another service's flow is as good as none
    return row


def list_flows(state: GatewayState, caller: Caller) -> list[models.Flow]:
    row = state.api.tables["Service"].rows.get(uuid.UUID(caller.service_uuid))
    if row is None:
        raise TokenError("invalid token: its service is gone")
    rows = state.api.tables["Service_Flow"].rows
    records = [flow_record(rows[u]) for u in set_uuids(row, "flows") if u in rows]
    records.sort(key=lambda f: (-f.priority, f.match, f.id))
    return records


def get_flow(state: GatewayState, caller: Caller, flow_id: str) -> models.Flow:
    flow_uuid = parse_flow_id(flow_id)
    row = find_flow(state, caller, flow_uuid)
    if row is None:
        raise not_found(f"service '{caller.service}' has no flow {flow_id}", "id")
    return flow_record(row)


def service_info(state: GatewayState, caller: Caller) -> models.ServiceInfo:
    view = state.service_view(caller)
    topology = state.topology()
    row = state.api.tables["Service"].rows.get(uuid.UUID(caller.service_uuid))
    if row is None:
        raise TokenError("invalid token: its service is gone")
    description, enabled = row.description, bool(row.enabled)
    details = {str(a.uuid): (int(a.order), a.status, a.reason) for a in row.attachments}
    attachments = []
    for att in view.attachments:
        kind = TargetKind(att.target_kind)
        try:
            scope = topology.scope(kind, att.target_name, view.tenant)
        except TargetError:
            scope = {}
        datapaths = [
            models.DatapathInfo(
                name=name,
                kind=dp.kind.value if (dp := topology.datapath(name)) is not None else "",
                ports=sorted(p for p in topology.ports_on(name) if _tenant_of(topology, p) == view.tenant),
            )
            for name in sorted(scope)
        ]
        order, status, reason = details.get(att.uuid, (0, AttachmentState.PENDING.value, ""))
        hook = HOOKS_BY_NAME.get(att.hook)
        attachments.append(
            models.AttachmentInfo(
                id=att.uuid,
                target=att.target,
                hook=att.hook,
                pipeline=hook.pipeline.value if hook is not None else "",
                order=order,
                status=status,
                reason=reason,
                datapaths=datapaths,
            )
        )
    return models.ServiceInfo(
        name=view.name,
        tenant=view.tenant,
        description=description,
        enabled=enabled,
        max_flows=view.max_flows,
        flow_count=view.flow_count,
        max_openflow_flows=view.max_openflow_flows,
        openflow_flows=state.flow_keys.cost(state.api, set_uuids(row, "flows")),
        attachments=attachments,
        ovn_release=view.release.name if view.release is not None else None,
    )


def _tenant_of(topology: Any, port: str) -> str | None:
    found = topology.port(port)
    return found.tenant if found is not None else None


# ---- dry run ----------------------------------------------------------------------------------


def dry_run(
    state: GatewayState, caller: Caller, requests: Sequence[FlowRequest]
) -> list[models.ValidatedFlow]:
    """Canonical flows and the lflows they would compile to, next to every attachment there is."""
    _, flows = validated(state, caller, requests)
    check_no_duplicates(flows)
    placements = state.placements()
    topology = state.topology()
    cache = FlowCache(state.release())
    app_flows = [
        ServiceFlow(
            f"{DRY_RUN_PREFIX}{i}",
            caller.service_uuid,
            flow.attachment,
            flow.priority,
            cache.check(flow.match, flow.actions),
        )
        for i, flow in enumerate(flows)
    ]
    with state.lock:
        tables = state.api.tables
        services, attachments = records.service_specs(tables), records.attachment_specs(tables)
    compiled = compile_hooks(topology, placements, services, attachments, app_flows)
    # The contract as the daemon applies it, on the rows of these flows only (not every attachment's).
    dry = {f.uuid for f in app_flows}
    compiled.lflows = {
        key: row for key, row in compiled.lflows.items() if dict(row.external_ids).get(FLOW_ID) in dry
    }
    Contract().apply(compiled, placements, topology, services, attachments, state.release())
    lflows: dict[str, list[models.LogicalFlowInfo]] = {f.uuid: [] for f in app_flows}
    for lflow in sorted(compiled.lflows.values(), key=lambda f: (f.datapath, f.table_id, -f.priority)):
        ids = dict(lflow.external_ids)
        flow_id = ids.get("ovn-inject-flow", "")
        if flow_id in lflows:
            lflows[flow_id].append(
                models.LogicalFlowInfo(
                    datapath=lflow.datapath,
                    pipeline=lflow.pipeline,
                    table_id=lflow.table_id,
                    priority=lflow.priority,
                    match=lflow.match,
                    actions=lflow.actions,
                    stage_name=ids.get("stage-name", ""),
                )
            )
    out = []
    for app_flow, flow in zip(app_flows, flows, strict=True):
        status = compiled.flow_status.get(app_flow.uuid)
        out.append(
            models.ValidatedFlow(
                priority=flow.priority,
                match=flow.match,
                actions=flow.actions,
                cookie=flow.cookie,
                hard_timeout=flow.hard_timeout,
                attachment=flow.attachment,
                openflow_flows=flow.openflow_flows,
                status=status.state if status is not None else FlowState.PENDING,
                reason=status.reason if status is not None else "",
                lflows=lflows[app_flow.uuid],
            )
        )
    return out
