"""The HTTP routes of the gateway (versioned under ``/v1``) and how every error becomes our JSON body."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ovn_inject.core.validate import COOKIE_MAX, parse_cookie
from ovn_inject.errors import OvnInjectError
from ovn_inject.gateway import flows, models, tenant
from ovn_inject.gateway.auth import caller, gateway_state
from ovn_inject.gateway.errors import ApiError, from_exception, too_large
from ovn_inject.gateway.state import Caller, GatewayState

LOG = logging.getLogger("ovn_inject.gateway")
#: A request body larger than this is refused (413) before it is parsed.
MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_WAIT_TIMEOUT = 10.0

Wait = Annotated[
    Literal["sb", "hv"] | None,
    Query(description="Answer once the change is in SB (sb) or installed on every chassis (hv)."),
]
WaitTimeout = Annotated[float, Query(gt=0, le=300, description="Seconds to wait for ?wait (default 10).")]
Authed = Annotated[Caller, Depends(caller)]
State = Annotated[GatewayState, Depends(gateway_state)]
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": models.ErrorBody, "description": text}
    for status, text in (
        (400, "The flow is not OVN's language or the request is malformed (field, column)."),
        (401, "Missing, invalid, expired or revoked token."),
        (
            403,
            "Outside the service's scope: another tenant's port, another datapath, a forbidden field; "
            "or a match ovn-controller would expand past 1,000 OpenFlow flows (the costly term named).",
        ),
        (404, "No such flow."),
        (409, "An identical flow (attachment, priority, match) exists."),
        (413, "Request too large."),
        (429, "Over the service's flow quota (max_flows) or OpenFlow budget (max_openflow_flows)."),
    )
}


class BodyLimit:
    """Refuse bodies over ``limit`` bytes (413), declared or streamed, before anything parses them.

    Also reads every body as JSON, whatever its declared content type.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/json":
            # Every body is JSON, whatever the client declared (curl -d says form data).
            headers[b"content-type"] = b"application/json"
            scope = dict(scope, headers=list(headers.items()))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_error(send, too_large(f"request body of {int(declared)} bytes; at most {self.limit}"))
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_error(send, too_large(f"request body over {self.limit} bytes"))


class _TooLarge(Exception):
    pass


async def _send_error(send: Send, error: ApiError) -> None:
    response = _error_response(error)
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _validation_error(exc: RequestValidationError) -> ApiError:
    """Pydantic's complaint about the JSON shape, as one 400 naming the first wrong field."""
    errors = list(exc.errors())
    # A body is one flow or a list: report the errors of the alternative the client chose.
    branch = "list[FlowEntry]" if isinstance(exc.body, list) else "FlowEntry"
    chosen = [e for e in errors if len(e.get("loc", ())) > 1 and e["loc"][1] == branch]
    first = (chosen or errors or [{}])[0]
    location = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
    # A union (text or OpenFlow form) reports one branch per alternative; the field is what matters.
    location = [p for p in location if not p.startswith(("str", "dict[", "list[", "FlowEntry", "function-"))]
    field = ""
    for part in location:
        field += f"[{part}]" if part.isdigit() else (f".{part}" if field else part)
    if field.startswith("["):
        field = f"flows{field}"
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return ApiError(400, "invalid", f"body is not JSON: {first.get('ctx', {}).get('error', message)}")
    return ApiError(400, "invalid", f"{field or 'body'}: {message}", field or None)


def create_app(state: GatewayState | None = None) -> FastAPI:
    """The ASGI application; ``state`` is the gateway's connections (set later by the server if None)."""
    app = FastAPI(
        title="ovn-inject gateway",
        version="1",
        description="Install logical flows at your service's hook points. Authenticate with "
        "'Authorization: Bearer <token>' (ovn-inject token-create SERVICE).",
    )
    app.state.gateway = state
    # Routes are plain functions: Starlette runs them in its thread pool, since database calls block.

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def shape_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        error = ApiError(exc.status_code, codes.get(exc.status_code, "invalid"), str(exc.detail))
        return _error_response(error)

    @app.exception_handler(OvnInjectError)
    async def our_error(request: Request, exc: OvnInjectError) -> JSONResponse:
        error = from_exception(exc)
        if error.status >= 500:
            LOG.error("%s %s failed: %s", request.method, request.url.path, exc)
        return _error_response(error)

    # Anything else is a bug of ours: a 500 with our body (Starlette then logs it and closes the connection).
    @app.exception_handler(Exception)
    async def any_error(request: Request, exc: Exception) -> JSONResponse:
        error = from_exception(exc)
        if error.status >= 500:
            LOG.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=error.status == 500)
        return _error_response(error)

    @app.get("/v1/service", response_model=models.ServiceInfo, responses=ERRORS, tags=["service"])
    def get_service(who: Authed, state: State) -> models.ServiceInfo:
        """Your service: its attachments resolved to datapaths, the ports flows may name, and hooks."""
        return flows.service_info(state, who)

    @app.get("/v1/flows", response_model=models.FlowList, responses=ERRORS, tags=["flows"])
    def list_flows(who: Authed, state: State) -> models.FlowList:
        """Every flow of your service, with its status (pending, installed, invalid) and reason."""
        return models.FlowList(flows=flows.list_flows(state, who))

    @app.get("/v1/flows/{flow_id}", response_model=models.Flow, responses=ERRORS, tags=["flows"])
    def get_flow(flow_id: str, who: Authed, state: State) -> models.Flow:
        """One flow of your service."""
        return flows.get_flow(state, who, flow_id)

    @app.post("/v1/flows", response_model=models.FlowList, status_code=201, responses=ERRORS, tags=["flows"])
    def add_flows(
        body: Annotated[models.FlowBody, Body()],
        who: Authed,
        state: State,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.FlowList:
        """Add one flow or a list, all or nothing, in one transaction."""
        return models.FlowList(flows=flows.add(state, who, flows.to_requests(body), wait, timeout))

    @app.post("/v1/flows/replace", response_model=models.FlowList, responses=ERRORS, tags=["flows"])
    def replace_flows(
        body: Annotated[models.FlowBody, Body()],
        who: Authed,
        state: State,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.FlowList:
        """Replace your service's whole flow set in one transaction (like an OpenFlow bundle)."""
        return models.FlowList(flows=flows.replace(state, who, flows.to_requests(body), wait, timeout))

    @app.post("/v1/flows/validate", response_model=models.ValidateResult, responses=ERRORS, tags=["flows"])
    def validate(
        body: Annotated[models.FlowBody, Body()], who: Authed, state: State
    ) -> models.ValidateResult:
        """Dry run: the canonical flows and the logical flows they would compile to. Writes nothing."""
        return models.ValidateResult(flows=flows.dry_run(state, who, flows.to_requests(body)))

    @app.delete("/v1/flows/{flow_id}", response_model=models.Deleted, responses=ERRORS, tags=["flows"])
    def delete_flow(
        flow_id: str,
        who: Authed,
        state: State,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.Deleted:
        """Delete one flow of your service."""
        return models.Deleted(deleted=flows.delete_one(state, who, flow_id, wait, timeout))

    @app.delete("/v1/flows", response_model=models.Deleted, responses=ERRORS, tags=["flows"])
    def delete_flows(
        who: Authed,
        state: State,
        cookie: Annotated[str, Query(description="Decimal or 0x-hex; with cookie_mask=0 every flow.")],
        cookie_mask: Annotated[str | None, Query(description="Bits of the cookie that must match.")] = None,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.Deleted:
        """Delete every flow of your service whose cookie matches, as OpenFlow's delete by cookie."""
        value, _ = _cookie_param(cookie, "cookie")
        mask = _cookie_param(cookie_mask, "cookie_mask")[0] if cookie_mask is not None else COOKIE_MAX
        return models.Deleted(deleted=flows.delete_by_cookie(state, who, value, mask, wait, timeout))

    app.include_router(tenant.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def _cookie_param(text: str, name: str) -> tuple[int, int]:
    try:
        value, mask = parse_cookie(text)
    except Exception as exc:
        raise ApiError(400, "invalid", f"{name}: {exc}", name) from None
    if mask != COOKIE_MAX:
        raise ApiError(400, "invalid", f"{name}: give the mask as cookie_mask", name)
    return value, mask
