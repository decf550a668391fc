"""The HTTP routes of the gateway (versioned under ``/v1``) and how every error becomes our JSON body."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ovn_inject.audit import AuditLog
from ovn_inject.core.validate import COOKIE_MAX, parse_cookie
from ovn_inject.errors import OvnInjectError
from ovn_inject.gateway import flows, models, tenant
from ovn_inject.gateway.auth import caller, gateway_state
from ovn_inject.gateway.deadline import within
from ovn_inject.gateway.docs import add_docs
from ovn_inject.gateway.errors import ApiError, from_exception, too_large
from ovn_inject.gateway.fastpath import FlowAddFastPath, replay_body
from ovn_inject.gateway.limits import Limits, RateLimits
from ovn_inject.gateway.observe import Observe
from ovn_inject.gateway.state import Caller, GatewayState
from ovn_inject.gateway.waits import CfgWaits, wait_until_applied

LOG = logging.getLogger("ovn_inject.gateway")
#: A request body larger than this is refused (413) before it is parsed.
MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_WAIT_TIMEOUT = 10.0
#: A 64-bit cookie in a query: decimal or 0x-hex (documented; the route's own check says what is wrong).
COOKIE: dict[str, Any] = {"json_schema_extra": {"pattern": r"^(0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})$"}}

Wait = Annotated[
    Literal["sb", "hv"] | None,
    Query(description="Answer once the change is in SB (sb) or installed on every chassis (hv)."),
]
WaitTimeout = Annotated[float, Query(ge=1, le=300, description="Seconds to wait for ?wait (default 10).")]
Authed = Annotated[Caller, Depends(caller)]
CookieParam = Annotated[str, Query(description="Decimal or 0x-hex; with cookie_mask=0 every flow.", **COOKIE)]
CookieMaskParam = Annotated[str | None, Query(description="Bits of the cookie that must match.", **COOKIE)]
PageLimit = Annotated[
    int | None,
    Query(
        ge=1,
        le=Limits.max_page_size,
        description=f"Flows per page (default {Limits.page_size}, at most {Limits.max_page_size}).",
    ),
]
PageMarker = Annotated[
    str | None, Query(max_length=4096, description="Where to go on: the 'next' of the previous page.")
]
FlowId = Annotated[str, Path(description="The flow's id (a uuid).", json_schema_extra={"format": "uuid"})]
State = Annotated[GatewayState, Depends(gateway_state)]
STATUS_TEXT = {
    400: "The flow is not OVN's language or the request is malformed (field, column).",
    401: "Missing, invalid, expired or revoked token.",
    403: "Outside the service's scope: another tenant's port, another datapath, a forbidden field; "
    "or a match ovn-controller would expand past 1,000 OpenFlow flows (the costly term named).",
    404: "No such flow.",
    408: "The request body did not arrive in time.",
    409: "An identical flow (attachment, priority, match) exists.",
    413: "Request too large (body over 8 MiB, or over 10,000 flows).",
    429: "Over the service's flow quota (max_flows) or OpenFlow budget (max_openflow_flows) (over_quota), "
    "or its request rate (rate_limited; see Retry-After).",
    503: "The gateway cannot reach its databases; try again (the reason is in the gateway's log).",
    504: "?wait: committed, but not in SB (or on every chassis) within the timeout.",
}
#: What any route can answer: a malformed request, a bad token, a body too large or too slow, a rate limit,
#: an unreachable database.
COMMON = (400, 401, 408, 413, 429, 503)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: the common statuses and its own, each with our error body."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*COMMON, *statuses}):
        entry: dict[str, Any] = {"model": models.ErrorBody, "description": STATUS_TEXT[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        out[status] = entry
    return out


class BodyLimit:
    """Read the whole body first: refuse it over ``limit`` bytes (413), declared or chunked, or when a
    chunk takes over ``read_timeout`` seconds (408), before anything parses it.

    Reading it here, not while FastAPI parses it, is what makes an oversized
    chunked body a 413: FastAPI turns any error of a body read into a 400.
    Also reads every body as JSON, whatever its declared content type.
    """

    def __init__(self, app: ASGIApp, limit: int, read_timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/json":
            # Every body is JSON, whatever the client declared (curl -d says form data).
            headers[b"content-type"] = b"application/json"
            scope["headers"] = list(headers.items())
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_error(send, too_large(f"request body of {int(declared)} bytes; at most {self.limit}"))
            return
        body = bytearray()
        more = True
        while more:
            try:
                # No task of its own, as wait_for makes; no timer where the body is there already.
                message = await within(receive, self.read_timeout)
            except TimeoutError:
                slow = f"the request body did not arrive within {self.read_timeout:g} s"
                late = ApiError(408, "timeout", slow)
                await _send_error(send, late)
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _send_error(send, too_large(f"request body over {self.limit} bytes"))
                return
            more = bool(message.get("more_body", False))
        await self.app(scope, replay_body(bytes(body), receive), send)


async def _send_error(send: Send, error: ApiError) -> None:
    response = _error_response(error)
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def error_answer(exc: Exception, method: str, path: str) -> JSONResponse:
    """Our answer to an error a route raised; one of ours past 500 is logged, a bug with its traceback."""
    error = from_exception(exc)
    if error.status >= 500 and not isinstance(exc, ApiError):
        bug = not isinstance(exc, OvnInjectError) and error.status == 500
        LOG.error("%s %s failed: %s", method, path, exc, exc_info=bug)
    return _error_response(error)


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


class GatewayApp(FastAPI):
    """FastAPI with the gateway's own layers in front of FastAPI's, not among them.

    The request id, the audit line and metrics, the body limit and the fast
    path of ``POST /v1/flows`` see an HTTP request before FastAPI does: a
    request the fast path answers then costs nothing of FastAPI's middleware
    stack (its error, telemetry and body-limit layers wrap every message
    sent), and every answer, FastAPI's own 500 too, carries its request id.
    """

    front: ASGIApp | None = None  # set by create_app: those layers, ending in :meth:`routed`

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI as it is: its middleware stack, its router."""
        await super().__call__(scope, receive, send)


def create_app(
    state: GatewayState | None = None,
    limits: Limits | None = None,
    audit: AuditLog | None = None,
    fast_path: bool = True,
) -> GatewayApp:
    """The ASGI application; ``state`` is the gateway's connections (set later by the server if None).

    ``fast_path=False`` leaves ``POST /v1/flows`` to FastAPI alone (gateway.fastpath), for the
    tests that check that both answer alike.
    """
    limits = limits or Limits()
    app = GatewayApp(
        title="ovn-inject gateway",
        version="1",
        description="Install logical flows at your service's hook points. Authenticate with "
        "'Authorization: Bearer <token>' (ovn-inject token-create SERVICE). Every answer carries an "
        "X-Request-Id, the id of its line in the gateway's audit log.",
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: ours come from the package
        redoc_url=None,
    )
    add_docs(app)
    app.state.gateway = state
    app.state.limits = limits
    app.state.rates = RateLimits(limits.rate, limits.burst)
    app.state.waits = CfgWaits(state.api.ovsdb_connection.idl) if state is not None else None
    # Reads of many rows and the checks of a large write run in Starlette's thread pool (they block for
    # a while); a small one runs on the event loop, since a thread hand-off costs more than the work. A
    # write's commit (grouped with the others in flight, db.group) and ?wait are awaited on the loop,
    # so that neither holds a thread.

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
        error.headers = dict(exc.headers or {}) or None
        return _error_response(error)

    @app.exception_handler(OvnInjectError)
    async def our_error(request: Request, exc: OvnInjectError) -> JSONResponse:
        return error_answer(exc, request.method, request.url.path)

    # Anything else is a bug of ours: a 500 with our body (Starlette then logs it and closes the connection).
    @app.exception_handler(Exception)
    async def any_error(request: Request, exc: Exception) -> JSONResponse:
        return error_answer(exc, request.method, request.url.path)

    quota = limits.default_max_flows

    async def waited(done: flows.Committed, wait: str | None, timeout: float) -> None:
        await wait_until_applied(app.state.waits, wait, done.cfg, timeout)

    @app.get("/v1/service", response_model=models.ServiceInfo, responses=errors(), tags=["service"])
    async def get_service(who: Authed, state: State) -> models.ServiceInfo:
        """Your service: its attachments resolved to datapaths, the ports flows may name, and hooks."""
        info = flows.service_info(state, who)
        if info.max_flows is None and quota is not None:
            info.max_flows = quota
        return info

    @app.get("/v1/flows", response_model=models.FlowPage, responses=errors(), tags=["flows"])
    def list_flows(
        who: Authed,
        state: State,
        response: Response,
        request: Request,
        limit: PageLimit = None,
        marker: PageMarker = None,
    ) -> models.FlowPage:
        """Your service's flows with their status (pending, installed, invalid) and reason, a page at a time.

        Flows come by priority (highest first), then match, then id. A page
        that is not the last has ``next`` in its body and a ``Link: <...>;
        rel="next"`` header: pass it as ``?marker=`` for the next page.
        """
        page, next_marker = flows.list_page(state, who, limit or limits.page_size, marker)
        if next_marker is not None:
            url = request.url.include_query_params(marker=next_marker, limit=limit or limits.page_size)
            response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        return models.FlowPage(flows=page, next=next_marker)

    @app.get("/v1/flows/{flow_id}", response_model=models.Flow, responses=errors(404), tags=["flows"])
    def get_flow(flow_id: FlowId, who: Authed, state: State) -> models.Flow:
        """One flow of your service."""
        return flows.get_flow(state, who, flow_id)

    @app.post(
        "/v1/flows",
        response_model=models.FlowList,
        status_code=201,
        responses=errors(403, 409, 504),
        tags=["flows"],
    )
    async def add_flows(
        body: Annotated[models.FlowBody, Body()],
        who: Authed,
        state: State,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.FlowList:
        """Add one flow or a list, all or nothing, in one transaction."""
        done = await flows.add_flows(state, who, body, wait, quota)
        await waited(done, wait, timeout)
        return models.FlowList(flows=flows.written(state, done))

    @app.post(
        "/v1/flows/replace", response_model=models.FlowList, responses=errors(403, 409, 504), tags=["flows"]
    )
    async def replace_flows(
        body: Annotated[models.FlowBody, Body()],
        who: Authed,
        state: State,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.FlowList:
        """Replace your service's whole flow set in one transaction (like an OpenFlow bundle)."""
        done = await flows.commit(
            state, await run_in_threadpool(flows.replace, state, who, flows.to_requests(body), wait, quota)
        )
        await waited(done, wait, timeout)
        return models.FlowList(flows=flows.written(state, done))

    @app.post(
        "/v1/flows/validate", response_model=models.ValidateResult, responses=errors(403, 409), tags=["flows"]
    )
    def validate(
        body: Annotated[models.FlowBody, Body()], who: Authed, state: State
    ) -> models.ValidateResult:
        """Dry run: the canonical flows and the logical flows they would compile to. Writes nothing."""
        return models.ValidateResult(flows=flows.dry_run(state, who, flows.to_requests(body), quota))

    @app.delete(
        "/v1/flows/{flow_id}", response_model=models.Deleted, responses=errors(404, 504), tags=["flows"]
    )
    async def delete_flow(
        flow_id: FlowId,
        who: Authed,
        state: State,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.Deleted:
        """Delete one flow of your service."""
        done = await flows.commit(state, await run_in_threadpool(flows.delete_one, state, who, flow_id, wait))
        await waited(done, wait, timeout)
        return models.Deleted(deleted=int(done.result or 0))

    @app.delete("/v1/flows", response_model=models.Deleted, responses=errors(504), tags=["flows"])
    async def delete_flows(
        who: Authed,
        state: State,
        cookie: CookieParam,
        cookie_mask: CookieMaskParam = None,
        wait: Wait = None,
        timeout: WaitTimeout = DEFAULT_WAIT_TIMEOUT,
    ) -> models.Deleted:
        """Delete every flow of your service whose cookie matches, as OpenFlow's delete by cookie."""
        value, _ = _cookie_param(cookie, "cookie")
        mask = _cookie_param(cookie_mask, "cookie_mask")[0] if cookie_mask is not None else COOKIE_MAX
        done = await flows.commit(
            state, await run_in_threadpool(flows.delete_by_cookie, state, who, value, mask, wait)
        )
        await waited(done, wait, timeout)
        return models.Deleted(deleted=int(done.result or 0))

    app.include_router(tenant.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    app.openapi = _openapi(app)  # type: ignore[method-assign]
    inner: ASGIApp = app.routed
    if fast_path:
        inner = FlowAddFastPath(
            inner, gateway=app, quota=quota, default_timeout=DEFAULT_WAIT_TIMEOUT, on_error=error_answer
        )
    app.front = Observe(BodyLimit(inner, limit=MAX_BODY_BYTES, read_timeout=limits.body_timeout), audit=audit)
    return app


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document without its 422 (every malformed request is our 400), with every route's
    common statuses."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            # Our error body as FastAPI documents it on our own routes.
            error_body = schema["paths"]["/v1/service"]["get"]["responses"]["400"]["content"]
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.setdefault("responses", {})
                    responses.pop("422", None)
                    for status in COMMON:  # routes declared elsewhere (the tenant API) too
                        responses.setdefault(
                            str(status), {"description": STATUS_TEXT[status], "content": error_body}
                        )
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    return document


def _cookie_param(text: str, name: str) -> tuple[int, int]:
    try:
        value, mask = parse_cookie(text)
    except Exception as exc:
        raise ApiError(400, "invalid", f"{name}: {exc}", name) from None
    if mask != COOKIE_MAX:
        raise ApiError(400, "invalid", f"{name}: give the mask as cookie_mask", name)
    return value, mask
