"""Helpers for the gateway's tests: services and tokens set up through the db API, an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx

from ovn_inject.core import tokens
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import connect
from ovn_inject.gateway.state import GatewayState, Options
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.probe import send_and_capture

Target = tuple[str, str, str]  # kind, name, hook


@contextmanager
def inject_api(box: Sandbox) -> Iterator[object]:
    api = connect(box.inject_remote, 10.0)
    try:
        yield api
    finally:
        api.close()


@contextmanager
def gateway_state(box: Sandbox) -> Iterator[GatewayState]:
    """A gateway's state in this process on the DEMO topology, once the compiler placed the hooks."""
    topologies.clear(box)
    topologies.build(box, topologies.DEMO)
    wait_hooks_ready(box)
    state = GatewayState(Options(inject_db=box.inject_remote, nb=box.nb_remote, sb=box.sb_remote))
    try:
        yield state
    finally:
        state.close()


def make_service(
    box: Sandbox,
    name: str,
    tenant: str,
    targets: Sequence[Target],
    max_flows: int | None = None,
    expires_ms: int | None = None,
    max_openflow_flows: int | None = None,
) -> str:
    """A fresh service (an old one of that name goes) with its attachments; returns a new token."""
    with inject_api(box) as api:
        api.commit(api.service_del(name, if_exists=True))  # type: ignore[attr-defined]
        api.commit(  # type: ignore[attr-defined]
            api.service_add(name, tenant, max_flows=max_flows, max_openflow_flows=max_openflow_flows)  # type: ignore[attr-defined]
        )
        for kind, target, hook in targets:
            api.commit(api.attach_add(name, kind, target, hook))  # type: ignore[attr-defined]
    return add_token(box, name, expires_ms)


def add_token(box: Sandbox, service: str, expires_ms: int | None = None) -> str:
    """A new token of ``service``, committed (the server shows it); returns it."""
    new = tokens.new_token()
    with inject_api(box) as api:
        api.commit(  # type: ignore[attr-defined]
            api.token_add(service, new.public_id, new.secret_hash, now_ms(), expires_ms)  # type: ignore[attr-defined]
        )
    return new.token


def service_uuid(box: Sandbox, name: str) -> str:
    """The uuid of the one service of that name (of any tenant)."""
    with inject_api(box) as api:
        [found] = [r.uuid for r in api.tables["Service"].rows.values() if r.name == name]  # type: ignore[attr-defined]
    return str(found)


def revoke(box: Sandbox, token: str) -> None:
    public_id, _ = tokens.split_token(token)
    with inject_api(box) as api:
        api.commit(api.token_revoke(public_id))  # type: ignore[attr-defined]


def stored_flows(box: Sandbox, service: str) -> list[tuple[int, str, str]]:
    """What OVN_Inject holds for ``service``, read with a fresh connection (not through the gateway)."""
    with inject_api(box) as api:
        rows = api.flow_list(service).execute()  # type: ignore[attr-defined]
        return sorted((int(r.priority), r.match, r.actions) for r in rows)


def client(box: Sandbox, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=box.gateway_url, headers=headers, timeout=30.0)


def wait_hooks_ready(box: Sandbox, timeout: float = 10.0) -> None:
    """Until the compiler daemon has placed the hooks on a fresh topology (attachments turn active)."""
    import time

    token = make_service(box, "probe", "tenant-a", [("ls", "ls-a", "ls-in-port")])
    deadline = time.monotonic() + timeout
    with client(box, token) as http:
        while http.get("/v1/service").json()["attachments"][0]["status"] != "active":
            assert time.monotonic() < deadline, "the compiler daemon never placed ls-in-port"
            time.sleep(0.05)
    with inject_api(box) as api:
        api.commit(api.service_del("probe"))  # type: ignore[attr-defined]


def delivered(box: Sandbox, src: str, frame: bytes, dst: str) -> list[bytes]:
    return send_and_capture(box, src, frame, watch=[dst], expect=dst, timeout=1.0, settle=0.1)[dst]


def icmp(a: topologies.Vm, b: topologies.Vm) -> bytes:
    return pk.icmp_echo(a.mac, b.mac, a.ip, b.ip)


def error(response: httpx.Response, status: int, code: str, *words: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    for word in words:
        assert word in body["message"], body
    assert set(body) == {"code", "message", "field", "column"}
    return body  # type: ignore[no-any-return]
