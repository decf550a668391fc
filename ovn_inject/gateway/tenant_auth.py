"""Who calls the tenant API: a tenant credential of ovn-inject's, or one an external validator vouches for.

Built-in credentials (``ovn-inject tenant-token-create``) are
``<public-id>.<secret>`` tokens looked up with a fresh ``select`` on every
request, as service tokens are, so a revoked one fails on the next request;
every write also guards its public id inside its transaction. That guard
reads the IDL's replica, so a credential the server shows and the replica
not yet (created a moment ago) is waited for: its absence would read as a
revocation.

The operator may also name a validator (``ovn-inject gateway
--tenant-validator MODULE:CALLABLE``) for bearer tokens that are not
ovn-inject's, e.g. Keystone tokens: it is called with the token text and
returns a :class:`TenantIdentity`, or None (or raises TokenError) to refuse.
Such a caller has no row to guard; revoking is the issuer's business and
takes effect when the validator stops vouching.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ovn_inject.core.tokens import TokenError, check_token, split_token
from ovn_inject.errors import OvnInjectError
from ovn_inject.gateway.errors import unauthorized
from ovn_inject.gateway.state import GatewayState

RENEW = "ovn-inject tenant-token-create"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="TenantBearer",
    description="A tenant credential from 'ovn-inject tenant-token-create TENANT'.",
)


@dataclass(frozen=True)
class TenantIdentity:
    """What a validator says about a token: whose it is and the tenant's limits (None: no limit)."""

    tenant: str
    max_services: int | None = None
    max_flows: int | None = None


@dataclass(frozen=True)
class TenantCaller:
    tenant: str
    max_services: int | None
    max_flows: int | None
    token: str | None  # the public id of a built-in credential (guarded in every write), else None


Validator = Callable[[str], TenantIdentity | None]


class ValidatorError(OvnInjectError):
    """The configured tenant validator cannot be loaded."""


@cache
def load_validator(spec: str) -> Validator:
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValidatorError(f"tenant validator '{spec}': expected MODULE:CALLABLE")
    try:
        found: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValidatorError(f"tenant validator '{spec}' cannot be loaded: {exc}") from None
    if not callable(found):
        raise ValidatorError(f"tenant validator '{spec}' is not callable")
    validator: Validator = found
    return validator


def _builtin(state: GatewayState, token: str) -> TenantCaller | None:
    """The built-in credential the token is, None if it is none (so a validator may be asked)."""
    try:
        public_id, secret = split_token(token)
    except TokenError:
        return None
    columns = ["_uuid", "tenant", "secret_hash", "expires", "max_services", "max_flows"]
    rows = state.select("Tenant_Token", [["public_id", "==", public_id]], columns)
    if not rows:
        return None
    row = rows[0]
    check_token(secret, row["secret_hash"], _optional(row["expires"]), int(time.time() * 1000), RENEW)
    # Called in a worker thread (a plain dependency): waiting here holds up no other request.
    if state.fresh_row("Tenant_Token", uuid.UUID(row["_uuid"][1])) is None:
        if state.select("Tenant_Token", [["_uuid", "==", row["_uuid"]]], ["_uuid"]):
            raise TokenError("tenant credential not yet in the gateway's replica of OVN_Inject; try again")
        raise TokenError("tenant credential revoked")
    return TenantCaller(row["tenant"], _optional(row["max_services"]), _optional(row["max_flows"]), public_id)


def _optional(value: Any) -> int | None:
    """An OVSDB 0..1 integer as select returns it: the integer, or ``["set", []]``."""
    return value if isinstance(value, int) else None


def authenticate_tenant(state: GatewayState, token: str) -> TenantCaller:
    caller = _builtin(state, token)
    if caller is not None:
        return caller
    spec = state.options.tenant_validator
    if spec is None:
        raise TokenError("invalid token: not a tenant credential (see 'ovn-inject tenant-token-create')")
    identity = load_validator(spec)(token)
    if identity is None or not identity.tenant:
        raise TokenError("invalid token: not a tenant credential")
    return TenantCaller(identity.tenant, identity.max_services, identity.max_flows, None)


def tenant_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> TenantCaller:
    """The authenticated tenant; every failure is a 401, as on the flow API."""
    if credentials is None:
        raise unauthorized("missing 'Authorization: Bearer <tenant credential>' header")
    try:
        return authenticate_tenant(request.app.state.gateway, credentials.credentials)
    except TokenError as exc:
        raise unauthorized(str(exc)) from None
