"""What each tenant endpoint does apart from HTTP: scope to the caller's tenant, check, write at once.

Isolation: a tenant's service is found by (tenant, name) only, and every
element is checked against the caller's tenant, so another tenant's service
or element is answered exactly as a missing one (404, same words). Every
write is one OVN_Inject transaction that starts with the guard of the
caller's credential and names the service by uuid, so it changes that very
row or nothing.
"""

from __future__ import annotations

from typing import Any

from ovn_inject.core import tokens
from ovn_inject.core.hooks import HOOK_POINTS, HOOKS_BY_NAME, DatapathKind, TargetKind
from ovn_inject.core.hooks import hook as hook_point
from ovn_inject.core.targets import check_own_target, parse_target
from ovn_inject.db.commands import now_ms
from ovn_inject.db.records import single
from ovn_inject.db.rows import set_size
from ovn_inject.db.services import tenant_service
from ovn_inject.gateway import tenant_models as tm
from ovn_inject.gateway.errors import ApiError, not_found
from ovn_inject.gateway.state import GatewayState
from ovn_inject.gateway.tenant_auth import TenantCaller

Row = Any


_iso = tokens.iso_time


# ---- reads ------------------------------------------------------------------------------


def _service(state: GatewayState, caller: TenantCaller, name: str) -> Row:
    with state.lock:
        row = tenant_service(state.api, caller.tenant, name)
    if row is None:
        raise not_found(f"tenant '{caller.tenant}' has no service '{name[:64]}'", "name")
    return row


def _attachment(row: Row) -> tm.TenantAttachment:
    hook = HOOKS_BY_NAME.get(row.hook)
    return tm.TenantAttachment(
        id=str(row.uuid),
        target=f"{row.target_kind}:{row.target_name}",
        hook=row.hook,
        pipeline=hook.pipeline.value if hook is not None else "",
        order=int(row.order),
        status=row.status,
        reason=row.reason,
    )


def service_record(row: Row) -> tm.TenantService:
    quota = row.options.get("max_flows")
    attachments = sorted((_attachment(a) for a in row.attachments), key=lambda a: (a.target, a.hook, a.order))
    return tm.TenantService(
        name=row.name,
        tenant=row.tenant,
        description=row.description,
        enabled=bool(row.enabled),
        max_flows=int(quota) if quota is not None and quota.isdigit() else None,
        flow_count=set_size(row, "flows"),
        token_count=len(row.tokens),
        attachments=attachments,
    )


def list_services(state: GatewayState, caller: TenantCaller) -> list[tm.TenantService]:
    with state.lock:
        rows = [r for r in state.api.tables["Service"].rows.values() if r.tenant == caller.tenant]
        return [service_record(r) for r in sorted(rows, key=lambda r: r.name)]


def get_service(state: GatewayState, caller: TenantCaller, name: str) -> tm.TenantService:
    row = _service(state, caller, name)
    with state.lock:
        return service_record(row)


def list_attachments(state: GatewayState, caller: TenantCaller, name: str) -> list[tm.TenantAttachment]:
    return get_service(state, caller, name).attachments


def list_tokens(state: GatewayState, caller: TenantCaller, name: str) -> list[tm.TokenInfo]:
    row = _service(state, caller, name)
    now = now_ms()
    with state.lock:
        found = sorted(row.tokens, key=lambda t: (t.created, t.public_id))
        return [
            tm.TokenInfo(
                public_id=t.public_id,
                created=_iso(t.created) or "",
                expires=_iso(single(t.expires)),
                expired=single(t.expires) is not None and single(t.expires) <= now,
                description=t.description,
            )
            for t in found
        ]


def elements(state: GatewayState, caller: TenantCaller) -> tm.Elements:
    """The tenant's switches, routers, ports and port groups, each with the hooks it offers."""
    topology = state.topology()
    tenant = caller.tenant
    hooks = {
        kind: [h.name for h in HOOK_POINTS if h.accepts(kind)]
        for kind in (TargetKind.LS, TargetKind.LR, TargetKind.LSP, TargetKind.LRP, TargetKind.PG)
    }
    switches: list[tm.DatapathElement] = []
    routers: list[tm.DatapathElement] = []
    ports: list[tm.PortElement] = []
    groups: list[tm.PortGroupElement] = []
    for kind_tag, name in sorted(topology.graph.nodes):
        item = topology.graph.nodes[(kind_tag, name)]["item"]
        if kind_tag == "dp" and item.tenant == tenant:
            on = topology.ports_on(name)
            own = sorted(p for p in on if topology.tenant_of(TargetKind.LSP, p) == tenant)
            kind = TargetKind.LS if item.kind is DatapathKind.SWITCH else TargetKind.LR
            element = tm.DatapathElement(name=name, target=f"{kind}:{name}", hooks=hooks[kind], ports=own)
            (switches if kind is TargetKind.LS else routers).append(element)
        elif kind_tag == "port" and item.tenant == tenant:
            dp = topology.datapath(item.datapath)
            kind = TargetKind.LRP if dp is not None and dp.kind is DatapathKind.ROUTER else TargetKind.LSP
            ports.append(
                tm.PortElement(name=name, target=f"{kind}:{name}", hooks=hooks[kind], datapath=item.datapath)
            )
        elif kind_tag == "pg" and item.tenant == tenant:
            members = [topology.tenant_of(TargetKind.LSP, p) for p in item.ports]
            if all(owner in (tenant, None) for owner in members):
                own = sorted(p for p in item.ports if topology.tenant_of(TargetKind.LSP, p) == tenant)
                groups.append(
                    tm.PortGroupElement(name=name, target=f"pg:{name}", hooks=hooks[TargetKind.PG], ports=own)
                )
    return tm.Elements(tenant=tenant, switches=switches, routers=routers, ports=ports, port_groups=groups)


# ---- writes -----------------------------------------------------------------------------


def _commit(state: GatewayState, caller: TenantCaller, *commands: Any) -> list[Any]:
    """One transaction: the guard of the caller's credential first, then ``commands``; their results."""
    if caller.token is None:
        return state.api.commit(*commands)
    return state.api.commit(state.api.tenant_guard(caller.token), *commands)[1:]


def _quota(caller: TenantCaller, wanted: int | None) -> int | None:
    """The flow quota a tenant may set: at most its limit; none only where it has no limit."""
    limit = caller.max_flows
    if limit is None:
        return wanted
    if wanted is None:
        raise ApiError(
            403, "forbidden", f"tenant '{caller.tenant}' must keep max_flows at most {limit}", "max_flows"
        )
    if wanted > limit:
        raise ApiError(
            403,
            "forbidden",
            f"max_flows {wanted} is over the limit of tenant '{caller.tenant}': {limit}",
            "max_flows",
        )
    return wanted


def create_service(state: GatewayState, caller: TenantCaller, body: tm.ServiceCreate) -> tm.TenantService:
    quota = _quota(caller, body.max_flows if body.max_flows is not None else caller.max_flows)
    command = state.api.tenant_service_add(
        body.name, caller.tenant, body.description, quota, caller.max_services, body.enabled
    )
    _commit(state, caller, command)
    return get_service(state, caller, body.name)


def patch_service(
    state: GatewayState, caller: TenantCaller, name: str, body: tm.ServicePatch
) -> tm.TenantService:
    row = _service(state, caller, name)
    quota: int | None = None
    if "max_flows" in body.model_fields_set:
        wanted = _quota(caller, body.max_flows)
        quota = -1 if wanted is None else wanted  # -1: ServiceSetCommand removes the quota
    _commit(state, caller, state.api.service_set(str(row.uuid), body.description, body.enabled, quota))
    return get_service(state, caller, name)


def delete_service(state: GatewayState, caller: TenantCaller, name: str) -> int:
    row = _service(state, caller, name)
    _commit(state, caller, state.api.service_del(str(row.uuid)))
    return 1


def add_attachment(
    state: GatewayState, caller: TenantCaller, name: str, body: tm.AttachmentCreate
) -> tm.TenantAttachment:
    row = _service(state, caller, name)
    target = parse_target(body.target)
    hook = hook_point(body.hook)
    check_own_target(target, hook, caller.tenant, state.topology())
    command = state.api.attach_add(str(row.uuid), target.kind.value, target.name, hook.name, body.order)
    [created] = _commit(state, caller, command)
    return _attachment(created)  # a RowView of the new row, as the IDL has it after the commit


def delete_attachments(
    state: GatewayState, caller: TenantCaller, name: str, target_text: str, hook_name: str | None
) -> int:
    row = _service(state, caller, name)
    target = parse_target(target_text)
    hook = hook_point(hook_name).name if hook_name else None
    command = state.api.attach_del(str(row.uuid), target.kind.value, target.name, hook)
    [count] = _commit(state, caller, command)
    return int(count or 0)


def create_token(state: GatewayState, caller: TenantCaller, name: str, body: tm.TokenCreate) -> tm.NewToken:
    row = _service(state, caller, name)
    new = tokens.new_token()
    created = now_ms()
    expires = created + body.expires * 1000 if body.expires is not None else None
    command = state.api.token_add(
        str(row.uuid), new.public_id, new.secret_hash, created, expires, body.description
    )
    _commit(state, caller, command)
    return tm.NewToken(
        token=new.token,
        public_id=new.public_id,
        service=row.name,
        created=_iso(created) or "",
        expires=_iso(expires),
        description=body.description,
    )


def revoke_tokens(state: GatewayState, caller: TenantCaller, name: str, public_id: str | None) -> int:
    row = _service(state, caller, name)
    [count] = _commit(state, caller, state.api.service_token_revoke(str(row.uuid), public_id))
    return int(count or 0)
