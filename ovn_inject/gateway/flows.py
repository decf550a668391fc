"""What each endpoint does, apart from HTTP: validate, write in one transaction, read back.

Every write is checked by :func:`ovn_inject.core.validate.validate_flows` (the
one validation seam) before anything is sent, and is then committed in one
OVN_Inject transaction whose commands re-check, inside the transaction, what
a concurrent writer could change: the token still exists, the quota, and
that no identical flow appeared meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from ovn_inject.core.hooks import HOOKS_BY_NAME, TargetKind
from ovn_inject.core.preview import preview_flows
from ovn_inject.core.status import AttachmentState
from ovn_inject.core.tokens import TokenError
from ovn_inject.core.topology import TargetError
from ovn_inject.core.validate import (
    COOKIE_MAX,
    FlowRequest,
    ServiceView,
    ValidFlow,
    check_no_duplicates,
    cookie_from_db,
    explicit_attachments,
    validate_flows,
)
from ovn_inject.db import records
from ovn_inject.db.flowrow import PENDING
from ovn_inject.db.lazyrows import Reader
from ovn_inject.db.rows import row_cost, set_uuids
from ovn_inject.gateway import models
from ovn_inject.gateway.errors import ApiError, bad_request, not_found
from ovn_inject.gateway.state import Caller, GatewayState

#: At most this many flows in one request (413 beyond): a bundle larger than that is a mistake.
MAX_FLOWS_PER_REQUEST = 10_000
#: A write of at most this many flows is checked on the event loop (a few hundred microseconds each);
#: a larger one in a worker thread, so that it does not hold up other requests.
INLINE_FLOWS = 4


@dataclass(frozen=True)
class Committed:
    """What a write committed: its command's result, the flows it wrote, and the cfg to ?wait for."""

    result: Any
    flows: Sequence[ValidFlow] = ()
    cfg: int | None = None


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
    state: GatewayState,
    caller: Caller,
    requests: Sequence[FlowRequest],
    replacing: bool = False,
    quota: int | None = None,
) -> tuple[ServiceView, list[ValidFlow]]:
    """The flows checked against the service; ``quota`` applies to a service without max_flows."""
    view = state.service_view(caller)
    if view.max_flows is None and quota is not None:
        view = dataclasses.replace(view, max_flows=quota)
    # As the CLI: a flow that names no attachment needs the service's only one, or all_attachments.
    requests = explicit_attachments(requests, view, models.NAME_ONE_ATTACHMENT, models.NAME_ALL_ATTACHMENTS)
    return view, validate_flows(requests, view, replacing=replacing)


# ---- writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A checked write, ready for the group commit: its command and the flows it writes."""

    command: Any
    wait: str | None
    flows: Sequence[ValidFlow] = ()


async def commit(state: GatewayState, pending: Pending) -> Committed:
    """Commit with whatever other requests are writing meanwhile (db.group); awaited, holding no thread.

    With ``wait``, Inject_Global.cfg is bumped in the same transaction (the caller then waits for it).
    """
    done = await state.group.submit_async(pending.command, pending.wait is not None)
    return Committed(done.result, pending.flows, done.cfg)


async def add_flows(
    state: GatewayState, caller: Caller, body: models.FlowBody, wait: str | None, quota: int | None
) -> Committed:
    """``POST /v1/flows`` apart from HTTP: check, then commit with the writes in flight."""
    requests = to_requests(body)
    if len(requests) <= INLINE_FLOWS:
        pending = add(state, caller, requests, wait, quota)
    else:
        pending = await run_in_threadpool(add, state, caller, requests, wait, quota)
    return await commit(state, pending)


def add(
    state: GatewayState,
    caller: Caller,
    requests: Sequence[FlowRequest],
    wait: str | None,
    quota: int | None = None,
) -> Pending:
    flows = _checked(state, caller, requests, quota, replacing=False)
    command = state.api.flow_add(
        caller.service_uuid, flows, caller.token, state.flow_index, default_limit=quota
    )
    return Pending(command, wait, flows)


def replace(
    state: GatewayState,
    caller: Caller,
    requests: Sequence[FlowRequest],
    wait: str | None,
    quota: int | None = None,
) -> Pending:
    flows = _checked(state, caller, requests, quota, replacing=True)
    command = state.api.flow_replace(caller.service_uuid, flows, caller.token, default_limit=quota)
    return Pending(command, wait, flows)


def _checked(
    state: GatewayState, caller: Caller, requests: Sequence[FlowRequest], quota: int | None, replacing: bool
) -> list[ValidFlow]:
    """The flows an add or a replace writes: valid for the service, none twice in the request."""
    _, flows = validated(state, caller, requests, replacing=replacing, quota=quota)
    check_no_duplicates(flows)
    return flows


def delete_one(state: GatewayState, caller: Caller, flow_id: str, wait: str | None) -> Pending:
    flow_uuid = parse_flow_id(flow_id)
    if find_flow(state, caller, flow_uuid) is None:
        raise not_found(f"service '{caller.service}' has no flow {flow_id}", "id")
    return Pending(state.api.flow_del(caller.service_uuid, flow_id=str(flow_uuid), token=caller.token), wait)


def delete_by_cookie(
    state: GatewayState, caller: Caller, cookie: int, mask: int, wait: str | None
) -> Pending:
    for name, value in (("cookie", cookie), ("cookie_mask", mask)):
        if not 0 <= value <= COOKIE_MAX:
            raise bad_request(f"{name}: {value} does not fit in 64 bits", name)
    command = state.api.flow_del(caller.service_uuid, cookie=cookie, cookie_mask=mask, token=caller.token)
    return Pending(command, wait)


def written(state: GatewayState, done: Committed) -> list[models.Flow]:
    """The new flows as written, with the status the IDL shows once waited (what the daemon made of
    them); without a wait, the status this write gave them (pending).

    The replica holds the new rows when a write is answered (db.flowtxn), but
    their other columns are what this write sent: reading them back from the
    row would cost more than the rest of the answer.
    """
    out: list[models.Flow] = []
    flows = done.flows
    if not flows:
        return out  # nothing inserted: the transaction may have changed nothing and returned no uuids
    waited = done.cfg is not None
    for flow_uuid, flow in zip(done.result, flows, strict=True):
        row = state.row("Service_Flow", flow_uuid) if waited and isinstance(flow_uuid, uuid.UUID) else None
        status, reason = (PENDING, "")
        if row is not None:
            view = Reader(row)
            status, reason = view.status, view.reason
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
                status=status,
                reason=reason,
            )
        )
    return out


# ---- reads -----------------------------------------------------------------------------------


def flow_record(row: Any) -> models.Flow:
    """The flow as the API shows it, read from the row's JSON where it still has it (db.lazyrows)."""
    view = Reader(row)
    attachment = records.single(view.attachment)
    return models.Flow(
        id=str(row.uuid),
        priority=int(view.priority),
        match=view.match,
        actions=view.actions,
        cookie=cookie_from_db(int(view.cookie)),
        hard_timeout=int(view.hard_timeout),
        attachment=str(attachment.uuid) if attachment is not None else None,
        openflow_flows=row_cost(row),
        status=view.status,
        reason=view.reason,
    )


def parse_flow_id(flow_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(flow_id)
    except ValueError:
        raise bad_request(f"'{flow_id[:64]}' is not a flow id (a uuid)", "id") from None


def find_flow(state: GatewayState, caller: Caller, flow_uuid: uuid.UUID) -> Any:
    row = state.fresh_row("Service_Flow", flow_uuid)
    if row is None or records.service_uuid_of(row) != caller.service_uuid:
        return None  # another service's flow is as good as none
    return row


def list_flows(state: GatewayState, caller: Caller) -> list[models.Flow]:
    """Every flow of the caller's service, in page order."""
    return [flow_record(row) for row in _sorted_rows(state, caller)]


def list_page(
    state: GatewayState, caller: Caller, limit: int, marker: str | None
) -> tuple[list[models.Flow], str | None]:
    """Up to ``limit`` flows after ``marker`` and the marker of the next page (None on the last).

    The marker is the sort key of the last flow of a page, not its id, so a
    page goes on in the right place even when that flow was deleted since.
    """
    after = _parse_marker(marker) if marker else None
    rows = _sorted_rows(state, caller)
    if after is not None:
        rows = [r for r in rows if _key(r) > after]
    page = rows[:limit]
    more = len(rows) > limit
    return [flow_record(r) for r in page], (_marker(_key(page[-1])) if more and page else None)


def _key(row: Any) -> tuple[int, str, str]:
    return (-int(row.priority), str(row.match), str(row.uuid))


def _sorted_rows(state: GatewayState, caller: Caller) -> list[Any]:
    row = state.service_row(caller.service_uuid)
    if row is None:
        raise TokenError("invalid token: its service is gone")
    rows = state.api.tables["Service_Flow"].rows
    with state.lock:  # rows being changed are briefly out of the table
        found = [rows[u] for u in set_uuids(row, "flows") if u in rows]
    found.sort(key=_key)
    return found


def _marker(key: tuple[int, str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _parse_marker(marker: str) -> tuple[int, str, str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)))
        if isinstance(key, list) and len(key) == 3:
            priority, match, flow_id = key
            if isinstance(priority, int) and isinstance(match, str) and isinstance(flow_id, str):
                return priority, match, flow_id
    except (ValueError, binascii.Error):
        pass
    raise bad_request("marker: not one this gateway gave (pass the 'next' of the previous page)", "marker")


def get_flow(state: GatewayState, caller: Caller, flow_id: str) -> models.Flow:
    flow_uuid = parse_flow_id(flow_id)
    row = find_flow(state, caller, flow_uuid)
    if row is None:
        raise not_found(f"service '{caller.service}' has no flow {flow_id}", "id")
    return flow_record(row)


def service_info(state: GatewayState, caller: Caller) -> models.ServiceInfo:
    view = state.service_view(caller)
    topology = state.topology()
    row = state.service_row(caller.service_uuid)
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
        openflow_flows=state.flow_index.cost(row.uuid),
        attachments=attachments,
        ovn_release=view.release.name if view.release is not None else None,
    )


def _tenant_of(topology: Any, port: str) -> str | None:
    found = topology.port(port)
    return found.tenant if found is not None else None


# ---- dry run ----------------------------------------------------------------------------------


def dry_run(
    state: GatewayState, caller: Caller, requests: Sequence[FlowRequest], quota: int | None = None
) -> list[models.ValidatedFlow]:
    """Canonical flows and the lflows they would compile to, next to every attachment there is."""
    _, flows = validated(state, caller, requests, quota=quota)
    check_no_duplicates(flows)
    placements = state.placements()
    topology = state.topology()
    with state.lock:
        tables = state.api.tables
        services, attachments = records.service_specs(tables), records.attachment_specs(tables)
    previews = preview_flows(
        topology, placements, services, attachments, caller.service_uuid, flows, state.release()
    )
    return [
        models.ValidatedFlow(
            priority=p.flow.priority,
            match=p.flow.match,
            actions=p.flow.actions,
            cookie=p.flow.cookie,
            hard_timeout=p.flow.hard_timeout,
            attachment=p.flow.attachment,
            openflow_flows=p.flow.openflow_flows,
            status=p.status,
            reason=p.reason,
            lflows=[models.LogicalFlowInfo(**dataclasses.asdict(lflow)) for lflow in p.lflows],
        )
        for p in previews
    ]
