"""The tenant API, ``/v1/tenant/``: a tenant registers its services, attaches them, issues their tokens.

Authenticated with a tenant credential (``ovn-inject tenant-token-create``);
a service token gets 401 here. The routes only translate HTTP; what they do
is :mod:`ovn_inject.gateway.tenant_ops`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from ovn_inject.gateway import tenant_models as tm
from ovn_inject.gateway import tenant_ops as ops
from ovn_inject.gateway.auth import gateway_state
from ovn_inject.gateway.errors import bad_request
from ovn_inject.gateway.models import ErrorBody
from ovn_inject.gateway.state import GatewayState
from ovn_inject.gateway.tenant_auth import TenantCaller, tenant_caller

Tenant = Annotated[TenantCaller, Depends(tenant_caller)]
State = Annotated[GatewayState, Depends(gateway_state)]
Name = Annotated[str, Path(description="A service of yours.", max_length=256)]
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request: a field, a target (KIND:NAME) or a hook point."),
        (401, "Missing, invalid, expired or revoked tenant credential (a service token is refused)."),
        (403, "Over your limits, or a port group of yours that holds other tenants' ports."),
        (404, "No such service, element, attachment or token of yours."),
        (409, "A service of that name, or that attachment, exists."),
        (429, "Over your service quota, or a flow quota below the flows a service has."),
    )
}

router = APIRouter(prefix="/v1/tenant", tags=["tenant"], responses=ERRORS)


@router.get("/services", response_model=tm.ServiceList)
def list_services(who: Tenant, state: State) -> tm.ServiceList:
    """Your services, with their attachments."""
    return tm.ServiceList(services=ops.list_services(state, who))


@router.post("/services", response_model=tm.TenantService, status_code=201)
def create_service(body: Annotated[tm.ServiceCreate, Body()], who: Tenant, state: State) -> tm.TenantService:
    """Register a service of yours (its flow quota within your credential's limit)."""
    return ops.create_service(state, who, body)


@router.get("/services/{name}", response_model=tm.TenantService)
def get_service(name: Name, who: Tenant, state: State) -> tm.TenantService:
    """One service of yours."""
    return ops.get_service(state, who, name)


@router.patch("/services/{name}", response_model=tm.TenantService)
def patch_service(
    name: Name, body: Annotated[tm.ServicePatch, Body()], who: Tenant, state: State
) -> tm.TenantService:
    """Change the description, the enabled flag or the flow quota; what is left out stays."""
    return ops.patch_service(state, who, name, body)


@router.delete("/services/{name}", response_model=tm.Deleted)
def delete_service(name: Name, who: Tenant, state: State) -> tm.Deleted:
    """Delete a service with its attachments, flows and tokens."""
    return tm.Deleted(deleted=ops.delete_service(state, who, name))


@router.get("/services/{name}/attachments", response_model=tm.AttachmentList)
def list_attachments(name: Name, who: Tenant, state: State) -> tm.AttachmentList:
    """Where the service is attached, with each attachment's status."""
    return tm.AttachmentList(attachments=ops.list_attachments(state, who, name))


@router.post("/services/{name}/attachments", response_model=tm.TenantAttachment, status_code=201)
def add_attachment(
    name: Name, body: Annotated[tm.AttachmentCreate, Body()], who: Tenant, state: State
) -> tm.TenantAttachment:
    """Attach the service to one of your elements at a hook point (see GET /v1/tenant/elements)."""
    return ops.add_attachment(state, who, name, body)


@router.delete("/services/{name}/attachments", response_model=tm.Deleted)
def delete_attachments(
    name: Name,
    who: Tenant,
    state: State,
    target: Annotated[str | None, Query(max_length=300, description="KIND:NAME")] = None,
    hook: Annotated[str | None, Query(max_length=64, description="Default: every hook.")] = None,
    body: Annotated[tm.AttachmentRef | None, Body()] = None,
) -> tm.Deleted:
    """Detach the service from a target (query or body); the flows bound to it go too."""
    if body is not None:
        if target is not None:
            raise bad_request("give the target in the query or in the body, not both", "target")
        target, hook = body.target, body.hook
    if target is None:
        raise bad_request("target: which attachment (KIND:NAME) to delete", "target")
    return tm.Deleted(deleted=ops.delete_attachments(state, who, name, target, hook))


@router.post("/services/{name}/tokens", response_model=tm.NewToken, status_code=201)
def create_token(
    name: Name, who: Tenant, state: State, body: Annotated[tm.TokenCreate | None, Body()] = None
) -> tm.NewToken:
    """A token for the service's application; the token is in this answer only."""
    return ops.create_token(state, who, name, body or tm.TokenCreate.model_validate({}))


@router.get("/services/{name}/tokens", response_model=tm.TokenList)
def list_tokens(name: Name, who: Tenant, state: State) -> tm.TokenList:
    """The service's tokens (never their secrets)."""
    return tm.TokenList(tokens=ops.list_tokens(state, who, name))


@router.delete("/services/{name}/tokens", response_model=tm.Deleted)
def revoke_tokens(
    name: Name,
    who: Tenant,
    state: State,
    public_id: Annotated[str | None, Query(max_length=64, description="Default: every token.")] = None,
) -> tm.Deleted:
    """Revoke one token of the service (public_id) or all of them; effective on the next request."""
    return tm.Deleted(deleted=ops.revoke_tokens(state, who, name, public_id))


@router.delete("/services/{name}/tokens/{public_id}", response_model=tm.Deleted)
def revoke_token(
    name: Name, public_id: Annotated[str, Path(max_length=64)], who: Tenant, state: State
) -> tm.Deleted:
    """Revoke one token of the service."""
    return tm.Deleted(deleted=ops.revoke_tokens(state, who, name, public_id))


@router.get("/elements", response_model=tm.Elements)
def elements(who: Tenant, state: State) -> tm.Elements:
    """Your switches, routers, ports and port groups, and the hook points each offers."""
    return ops.elements(state, who)
