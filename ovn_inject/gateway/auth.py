"""``Authorization: Bearer <public-id>.<secret>``: which service sends a request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ovn_inject.core.tokens import TokenError
from ovn_inject.gateway.errors import unauthorized
from ovn_inject.gateway.limits import RateLimits
from ovn_inject.gateway.state import Caller, GatewayState

#: Declared for the OpenAPI document; the check itself is ours, so that every refusal has our body.
bearer = HTTPBearer(auto_error=False, description="A token from 'ovn-inject token-create SERVICE'.")


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, and those hand-offs
# were most of a request's cost.


async def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The authenticated caller (see :func:`authenticate`)."""
    token = credentials.credentials if credentials is not None else None
    rates: RateLimits | None = getattr(request.app.state, "rates", None)
    return await authenticate(await gateway_state(request), rates, token, request.scope)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header's value, read as FastAPI's ``HTTPBearer`` reads it."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    return token


async def authenticate(
    state: GatewayState, rates: RateLimits | None, token: str | None, scope: Any, guarded: bool = False
) -> Caller:
    """The caller of a request; every failure is a 401 that says why, never which part was wrong.

    The caller is left in the request's state (``scope["state"]``) for the
    audit log, and spends one token of its service's rate (a 429 past it).
    ``guarded``: the request only writes, in a transaction that guards its
    token (db.tokenguard), so the IDL's replica may vouch for the token.
    """
    if token is None:
        raise unauthorized("missing 'Authorization: Bearer <token>' header")
    try:
        who = state.authenticate_replica(token) if guarded else None
        if who is None:
            who = await state.authenticate_async(token)
        if who is None:
            who = await run_in_threadpool(state.authenticate, token)
    except TokenError as exc:
        raise unauthorized(str(exc)) from None
    scope.setdefault("state", {})["caller"] = who
    if rates is not None:
        rates.take(who.service)
    return who
