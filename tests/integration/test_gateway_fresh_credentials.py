"""A credential created a moment ago: the server shows it before the gateway's IDL replica does.

A write's transaction checks its credential in the replica (db.tokenguard,
db.tenant_commands), where a missing row reads as a revocation. The gateway
must wait for the replica to show the row, never answer 401 for a
credential that works. The replica is held back deterministically: the
IDL's thread is parked between two of its runs while the credential is
created, and let go only once the gateway is waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ovn_inject.core import tokens
from ovn_inject.gateway.app import create_app
from ovn_inject.gateway.limits import Limits
from ovn_inject.gateway.state import GatewayState
from ovn_inject.gateway.tenant_auth import authenticate_tenant
from ovn_inject.sandbox import Sandbox
from tests.integration.gatewayutil import (
    add_token,
    gateway_state,
    make_service,
    service_uuid,
    stored_flows,
)
from tests.integration.tenantutil import make_tenant
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

LS_A = [("ls", "ls-a", "ls-in-port")]
FLOW = {"priority": 10, "match": 'inport == "vm1" && tcp.dst == 80', "actions": "drop;"}


@pytest.fixture(scope="module")
def state(sandbox: Sandbox) -> Iterator[GatewayState]:
    with gateway_state(sandbox) as gateway:
        yield gateway


@contextlib.contextmanager
def replica_held(state: GatewayState, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Hold the IDL's thread between two of its runs (it reads nothing meanwhile); set the event to go on."""
    idl = state.api.ovsdb_connection.idl
    go_on, parked = threading.Event(), threading.Event()
    wait = idl.wait

    def held(waiter: Any) -> None:
        if not go_on.is_set():
            parked.set()
            go_on.wait()
        wait(waiter)

    monkeypatch.setattr(idl, "wait", held)
    idl.wake()  # the thread runs once more, then waits in held()
    try:
        wait_until(parked.is_set, "the IDL's thread waits")
        yield go_on
    finally:
        go_on.set()


def test_a_service_token_created_a_moment_ago_is_waited_for(
    sandbox: Sandbox, state: GatewayState, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_service(sandbox, "fresh", "tenant-a", LS_A)
    fresh = service_uuid(sandbox, "fresh")
    wait_until(lambda: state.service_row(fresh) is not None, "the replica shows the service")
    app = create_app(state, Limits(rate=0))
    threaded: list[bool] = []  # whether the replica vouched for the token when the threaded read began
    authenticate = state.authenticate
    loop = asyncio.new_event_loop()
    try:
        with replica_held(state, monkeypatch) as go_on:
            token = add_token(sandbox, "fresh")
            # On the event loop the gateway does not wait: it hands the request to a thread.
            assert loop.run_until_complete(state.authenticate_async(token)) is None

            def waiting(asked: str) -> Any:
                threaded.append(state.authenticate_replica(asked) is not None)
                go_on.set()
                return authenticate(asked)

            monkeypatch.setattr(state, "authenticate", waiting)

            async def post() -> httpx.Response:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                    return await http.post(
                        "/v1/flows", json=FLOW, headers={"Authorization": f"Bearer {token}"}
                    )

            answer = loop.run_until_complete(post())
    finally:
        loop.close()
    assert answer.status_code == 201, answer.text
    assert threaded == [False]
    assert [p for p, _, _ in stored_flows(sandbox, "fresh")] == [FLOW["priority"]]


def test_a_tenant_credential_created_a_moment_ago_is_waited_for(
    sandbox: Sandbox, state: GatewayState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway asks the server whether the row it waits for is still there: the replica goes on then."""
    replica_showed: list[bool] = []
    select = state.select

    def asked(table: str, where: list[Any], columns: list[str]) -> list[dict[str, Any]]:
        rows = select(table, where, columns)
        if table == "Tenant_Token" and where[0][0] == "_uuid":
            go_on.set()
        return rows

    with replica_held(state, monkeypatch) as go_on:
        credential = make_tenant(sandbox, "tenant-a")
        public_id, _ = tokens.split_token(credential)
        monkeypatch.setattr(state, "select", asked)
        caller = authenticate_tenant(state, credential)
        rows = state.api.tables["Tenant_Token"].rows.values()
        replica_showed.append(any(r.public_id == public_id for r in list(rows)))
    assert (caller.tenant, caller.token) == ("tenant-a", public_id)
    assert replica_showed == [True]
    state.api.commit(state.api.tenant_guard(public_id))  # a write guarded by it commits
