"""``POST /v1/flows`` answered without FastAPI's per-request machinery: the load balancer's hot path.

A load balancer adds a flow per new connection, so this one route sets the
gateway's throughput. FastAPI's routing, dependency solving and response
model cost about as much as checking the flow itself. This ASGI layer sits
behind the gateway's own layers (request ids, the audit log, the body
limit), in front of FastAPI (gateway.app.GatewayApp), and answers the route
with the very functions the FastAPI route calls: the same authentication
and rate limit, the same checks, the same group commit, the same reply.

It answers only a request it recognises as well formed: a JSON body that the
route's model accepts, and at most ``wait`` and ``timeout`` given plainly and
validly. Anything else goes to FastAPI untouched (the body replayed), before
anything was spent, so that every refusal of a request's shape is worded as
the route has always worded it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ovn_inject.gateway import flows, models
from ovn_inject.gateway.auth import authenticate, bearer_token
from ovn_inject.gateway.waits import wait_until_applied

PATH = "/v1/flows"
FLOW_BODY: TypeAdapter[models.FlowBody] = TypeAdapter(models.FlowBody)
#: ``?timeout=`` as the route documents it (1..300 seconds), in the plain forms only.
TIMEOUT = re.compile(rb"[0-9]{1,3}(\.[0-9]{1,6})?")
WAITS = {b"sb": "sb", b"hv": "hv"}
JSON_HEADERS = (b"content-type", b"application/json")
ROUTED = Counter(
    "ovn_inject_gateway_fast_path",
    "POST /v1/flows requests the fast path answered, or handed on to FastAPI (their shape is not plain)",
    ["outcome"],
)
ANSWERED, HANDED_ON = ROUTED.labels("answered"), ROUTED.labels("handed_on")


def plain_query(raw: bytes, default_timeout: float) -> tuple[str | None, float] | None:
    """``(wait, timeout)`` of a query that gives at most those two, each once and valid; else None."""
    wait: str | None = None
    timeout = default_timeout
    if not raw:
        return wait, timeout
    seen: set[bytes] = set()
    for part in raw.split(b"&"):
        name, sep, value = part.partition(b"=")
        if not sep or name in seen:
            return None
        seen.add(name)
        if name == b"wait" and value in WAITS:
            wait = WAITS[value]
        elif name == b"timeout" and TIMEOUT.fullmatch(value) and 1 <= float(value) <= 300:
            timeout = float(value)
        else:
            return None
    return wait, timeout


def flow_body(body: bytes) -> models.FlowBody | None:
    """The body as the route's model reads it; None when it is not JSON or the model refuses it."""
    try:
        return FLOW_BODY.validate_python(json.loads(body))
    except (ValueError, ValidationError):  # not JSON (JSONDecodeError, UnicodeDecodeError) or refused
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    """A header's first value, as Starlette's ``request.headers.get`` reads it."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class FlowAddFastPath:
    """ASGI middleware: answers ``POST /v1/flows`` itself; every other request goes on to FastAPI."""

    def __init__(
        self,
        app: ASGIApp,
        gateway: Any,
        quota: int | None,
        default_timeout: float,
        on_error: Callable[[Exception, str, str], Response],
    ) -> None:
        self.app = app
        self.gateway = gateway  # the FastAPI app: its state and its route for this path
        self.quota = quota
        self.default_timeout = default_timeout
        self.on_error = on_error  # the app's answer to an error a route raised
        self.route: APIRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
            or scope.get("root_path")
            or self.gateway.state.gateway is None
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away: nobody to answer
        query = plain_query(scope.get("query_string", b""), self.default_timeout)
        entries = flow_body(body) if query is not None else None
        if query is None or entries is None:
            HANDED_ON.inc()
            await self.app(scope, replay_body(body, receive), send)
            return
        ANSWERED.inc()
        scope["route"] = self._route()  # what the metrics name the request by, as the router sets it
        wait, timeout = query
        try:
            payload = await self._add(scope, entries, wait, timeout)
        except Exception as exc:
            # The app's error handlers' answer; a bug is re-raised, as Starlette does, after its 500.
            response = self.on_error(exc, "POST", PATH)
            await response(scope, receive, send)
            if response.status_code == 500:
                raise
            return
        headers = [(b"content-length", str(len(payload)).encode()), JSON_HEADERS]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _add(self, scope: Scope, entries: models.FlowBody, wait: str | None, timeout: float) -> bytes:
        app_state = self.gateway.state
        state = app_state.gateway
        token = bearer_token(_header(scope, b"authorization"))
        # A flow add's transaction guards its token: the replica may vouch for it.
        who = await authenticate(state, getattr(app_state, "rates", None), token, scope, guarded=True)
        done = await flows.add_flows(state, who, entries, wait, self.quota)
        await wait_until_applied(app_state.waits, wait, done.cfg, timeout)
        return models.FlowList(flows=flows.written(state, done)).model_dump_json().encode()

    def _route(self) -> APIRoute | None:
        if self.route is None:
            self.route = next(
                (
                    r
                    for r in self.gateway.routes
                    if isinstance(r, APIRoute) and r.path == PATH and "POST" in (r.methods or ())
                ),
                None,
            )
        return self.route


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (the body limit has read it already); None if the client went away."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` whole once read ahead, then goes on with the client's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
