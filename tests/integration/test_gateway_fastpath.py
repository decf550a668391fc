"""``POST /v1/flows`` answers the same with the fast path (gateway.fastpath) as through FastAPI alone.

Both apps run in this process on one gateway state, against the sandbox's
databases; every request is sent to each, with the flows the first wrote
deleted in between, and the answers (status, error body, the flows written
minus their fresh ids, content type) must be equal. The fast path must also
really answer the plain requests itself, and hand every other shape on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ovn_inject.core import tokens
from ovn_inject.gateway import fastpath
from ovn_inject.gateway.app import create_app
from ovn_inject.gateway.limits import Limits
from ovn_inject.gateway.observe import REQUESTS
from ovn_inject.gateway.state import GatewayState
from ovn_inject.sandbox import Sandbox
from tests.integration.gatewayutil import gateway_state, make_service, revoke, stored_flows
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

LS_A = [("ls", "ls-a", "ls-in-port")]
FLOW = {"priority": 10, "match": 'inport == "vm1" && tcp.dst == 80', "actions": "drop;", "cookie": 7}
OFCTL = {
    "priority": 5,
    "match": {"in_port": "vm2", "eth_type": 2048, "ipv4_src": "10.0.1.11"},
    "actions": [{"type": "OUTPUT", "port": "NORMAL"}],
    "cookie": "0x7",
}
Answer = tuple[int, str, Any]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One loop for the module, as the gateway has one: its token reads keep a connection on it."""
    running = asyncio.new_event_loop()
    yield running
    running.close()


@pytest.fixture(scope="module")
def state(sandbox: Sandbox) -> Iterator[GatewayState]:
    with gateway_state(sandbox) as gateway:
        yield gateway


def _normal(body: Any) -> Any:
    """The answer without what differs between two writes of the same flows: their ids, and whether
    the compiler daemon had installed them by the time the answer was made."""
    if isinstance(body, dict) and isinstance(body.get("flows"), list):
        compiled = {"pending": "valid", "installed": "valid"}
        return {
            **body,
            "flows": [
                {**f, "id": "ID", "status": compiled.get(f["status"], f["status"])} for f in body["flows"]
            ],
        }
    return body


async def _send(app: Any, token: str | None, query: str, body: bytes, headers: dict[str, str]) -> Answer:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        response = await http.post(f"/v1/flows{query}", content=body, headers={**auth, **headers})
        answer = (response.status_code, response.headers.get("content-type", ""), _normal(response.json()))
        # Whatever was written goes, so that the other app's write of the same flows is not a duplicate.
        await http.delete("/v1/flows", params={"cookie": "0", "cookie_mask": "0"}, headers=auth)
    return answer


def both(
    loop: asyncio.AbstractEventLoop,
    state: GatewayState,
    token: str | None,
    body: Any,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[Answer, Answer, int]:
    """The answer of the fast app, of FastAPI alone, and how many requests the fast path answered."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    fast = create_app(state, Limits(rate=0))
    plain = create_app(state, Limits(rate=0), fast_path=False)
    answered = fastpath.ANSWERED._value.get()

    async def run() -> tuple[Answer, Answer, int]:
        first = await _send(fast, token, query, raw, headers or {})
        taken = int(fastpath.ANSWERED._value.get() - answered)
        return first, await _send(plain, token, query, raw, headers or {}), taken

    return loop.run_until_complete(run())


@pytest.fixture(scope="module")
def token(sandbox: Sandbox, state: GatewayState) -> str:
    return make_service(sandbox, "fast", "tenant-a", LS_A, max_openflow_flows=1000)


PLAIN = [
    pytest.param(FLOW, "", id="one flow"),
    pytest.param([FLOW, {**FLOW, "priority": 11}], "", id="a list"),
    pytest.param([{**FLOW, "priority": p} for p in range(5)], "", id="five flows, checked in a thread"),
    pytest.param(OFCTL, "", id="ofctl_rest form"),
    pytest.param(FLOW, "?wait=sb", id="wait sb"),
    pytest.param(FLOW, "?wait=hv&timeout=20", id="wait hv with a timeout"),
    pytest.param({**FLOW, "match": 'inport == "vm4"'}, "", id="another tenant's port: 403"),
    pytest.param({**FLOW, "match": 'inport == "vm1" &&'}, "", id="not OVN's language: 400"),
    pytest.param({**FLOW, "attachment": "ls:ls-b"}, "", id="no such attachment: 400"),
]


@pytest.mark.parametrize(("body", "query"), PLAIN)
def test_a_plain_request_is_answered_by_the_fast_path_as_by_fastapi(
    loop: asyncio.AbstractEventLoop, state: GatewayState, token: str, body: Any, query: str
) -> None:
    fast, plain, taken = both(loop, state, token, body, query)
    assert fast == plain
    assert taken == 1


HANDED_ON = [
    pytest.param(FLOW, "?timeout=0.5", id="timeout out of range"),
    pytest.param(FLOW, "?wait=now", id="unknown wait"),
    pytest.param(FLOW, "?wait=sb&wait=hv", id="wait twice"),
    pytest.param(FLOW, "?wait=%73b", id="percent-encoded"),
    pytest.param(FLOW, "?verbose=1", id="unknown parameter (ignored)"),
    pytest.param(b"{", "", id="not JSON"),
    pytest.param(b"", "", id="no body"),
    pytest.param(b"\xff\xfe", "", id="not UTF-8"),
    pytest.param({**FLOW, "priority": "10"}, "", id="priority as a string"),
    pytest.param({**FLOW, "color": "red"}, "", id="unknown field"),
    pytest.param([FLOW, {"priority": 1}], "", id="a list with an incomplete entry"),
    pytest.param(7, "", id="a number"),
]


@pytest.mark.parametrize(("body", "query"), HANDED_ON)
def test_any_other_shape_goes_to_fastapi_and_is_answered_as_before(
    loop: asyncio.AbstractEventLoop, state: GatewayState, token: str, body: Any, query: str
) -> None:
    fast, plain, taken = both(loop, state, token, body, query)
    assert fast == plain
    assert taken == 0


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic abc", "bearer nope.nope", "Bearer x.y z"],
    ids=["none", "scheme only", "empty token", "basic", "unknown token", "token with a space"],
)
def test_authentication_refusals_are_the_same(
    loop: asyncio.AbstractEventLoop, state: GatewayState, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    fast, plain, _ = both(loop, state, None, FLOW, headers=headers)
    assert fast == plain
    assert fast[0] == 401


def test_a_duplicate_and_the_quota_are_refused_alike(
    sandbox: Sandbox, loop: asyncio.AbstractEventLoop, state: GatewayState
) -> None:
    token = make_service(sandbox, "fast-quota", "tenant-a", LS_A, max_flows=2)
    fast, plain, _ = both(loop, state, token, [FLOW, FLOW])
    assert fast == plain and fast[0] == 409
    fast, plain, _ = both(loop, state, token, [{**FLOW, "priority": p} for p in (10, 11, 12)])
    assert fast == plain and fast[0] == 429


def test_a_declared_content_type_changes_nothing(
    loop: asyncio.AbstractEventLoop, state: GatewayState, token: str
) -> None:
    fast, plain, taken = both(loop, state, token, FLOW, headers={"Content-Type": "text/plain"})
    assert fast == plain and fast[0] == 201 and taken == 1


def test_the_metrics_name_the_route(loop: asyncio.AbstractEventLoop, state: GatewayState, token: str) -> None:
    counted = REQUESTS.labels("/v1/flows", "POST", "201")
    before = counted._value.get()
    _, _, taken = both(loop, state, token, FLOW)
    assert taken == 1
    assert counted._value.get() == before + 2  # the fast path's answer and FastAPI's


def test_a_flow_add_takes_the_replicas_word_for_its_token_only_as_far_as_its_transaction_checks(
    sandbox: Sandbox, loop: asyncio.AbstractEventLoop, state: GatewayState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After one read from the server, flow adds skip the token's round trip (the IDL's replica
    vouches for it); reads never do. A replica that still shows a revoked token writes nothing."""
    token = make_service(sandbox, "fast-vouched", "tenant-a", LS_A)
    public_id, _ = tokens.split_token(token)
    app = create_app(state, Limits(rate=0))
    server_reads: list[str] = []
    read = state.token_reads.read

    async def counted(asked: str) -> dict[str, Any] | None:
        server_reads.append(asked)
        return await read(asked)

    monkeypatch.setattr(state.token_reads, "read", counted)
    auth = {"Authorization": f"Bearer {token}"}

    async def request(method: str, path: str, body: Any = None) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return (await http.request(method, path, json=body, headers=auth)).status_code

    def flow(priority: int) -> dict[str, Any]:
        return {**FLOW, "priority": priority}

    assert loop.run_until_complete(request("POST", "/v1/flows", flow(1))) == 201
    wait_until(lambda: state.authenticate_replica(token) is not None, "the replica shows the token")
    assert loop.run_until_complete(request("POST", "/v1/flows", flow(2))) == 201
    assert server_reads == [public_id]  # the second add: no read
    assert loop.run_until_complete(request("GET", "/v1/service")) == 200
    assert server_reads == [public_id] * 2  # a read asks the server, always

    # The replica lags the revocation (held so here): the add's transaction refuses it all the same.
    vouched = state.authenticate_replica(token)
    revoke(sandbox, token)
    monkeypatch.setattr(state, "authenticate_replica", lambda _token: vouched)
    assert loop.run_until_complete(request("POST", "/v1/flows", flow(3))) == 401
    assert loop.run_until_complete(request("GET", "/v1/service")) == 401
    assert [p for p, _, _ in stored_flows(sandbox, "fast-vouched")] == [1, 2]
