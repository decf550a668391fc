"""Hypothesis against the running gateway: any JSON or flow text, never a 500, no write when refused."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.db.rpc import Rpc
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from tests.integration.gatewayutil import client, make_service, wait_hooks_ready

pytestmark = pytest.mark.integration

MATCH_TOKENS = [
    "inport", "outport", "==", "!=", "<", ">=", "&&", "||", "!", "(", ")", "{", "}", ",", "[", "]", "..",
    '"vm1"', '"vm3"', '"vm4"', '"', "\\", "1", "0", "80", "0x1/0x1", "10.0.1.11", "10.0.0.0/8",
    "02:00:00:00:00:01", "fe80::1", "ip4", "ip4.src", "ip6.dst", "tcp", "tcp.dst", "udp.src", "icmp4.type",
    "eth.src", "ip.ttl", "ip.dscp", "ct.est", "ct_state", "reg9[0..3]", "flags.loopback", "$as_b", "@pg_b",
    "is_chassis_resident", "vlan.vid",
]  # fmt: skip
ACTION_TOKENS = [
    "drop;", "next;", "output;", "outport", "inport", "=", "<->", ";", '"vm3"', '"vm4"', "clone", "{", "}",
    "ip.dscp", "46", "ip4.dst", "10.0.2.15", "eth.src", "eth.dst", "ip.ttl--;", "reg0", "ct_commit;",
    "next(pipeline=egress, table=0);", "next(table=4);", "tcp.dst", "65536", "log(verdict=drop);",
]  # fmt: skip


def _text(tokens: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(st.sampled_from(tokens), min_size=1, max_size=12).map(" ".join),
        st.text(max_size=30),
    )


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_ofctl_match = st.dictionaries(
    st.sampled_from(["in_port", "eth_type", "ipv4_src", "tcp_dst", "eth_src", "reg0", "ip_dscp", "nw_src"]),
    _json | st.sampled_from(["vm1", "vm4", "10.0.1.11", 2048, "0x50/0xfff0"]),
    max_size=3,
)
_ofctl_actions = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["DROP", "OUTPUT", "SET_FIELD", "GROUP", "output"])},
        optional={
            "port": st.sampled_from(["vm3", "vm4", "NORMAL", 1]),
            "field": st.text(max_size=8),
            "value": _json,
        },
    ),
    max_size=3,
)
_flow = st.fixed_dictionaries(
    {
        "priority": st.integers(-5, 1100) | _json,
        "match": _text(MATCH_TOKENS) | _ofctl_match | _json,
        "actions": _text(ACTION_TOKENS) | _ofctl_actions | _json,
    },
    optional={
        "cookie": st.integers(-1, 2**65) | st.text(max_size=20),
        "hard_timeout": st.integers(-1, 70000) | _json,
        "attachment": st.sampled_from(["ls:ls-a", "lsp:vm4", "zzzz"]) | _json,
        "bogus": _json,
    },
)
_body = st.one_of(_flow, st.lists(_flow, max_size=4), _json)
_request = st.tuples(
    st.sampled_from(
        ["/v1/flows", "/v1/flows/validate", "/v1/flows/replace", "/v1/flows/x", "/v1/flows?wait=zz"]
    ),
    _body,
)


@pytest.fixture(scope="module")
def target(sandbox: Sandbox) -> Iterator[tuple[httpx.Client, Rpc]]:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    wait_hooks_ready(sandbox)
    token = make_service(sandbox, "fuzz", "tenant-a", [("ls", "ls-a", "ls-in-port")], max_flows=20)
    with client(sandbox, token) as http, Rpc(sandbox.inject_remote, 10.0, INJECT_DB_NAME) as rpc:
        yield http, rpc


def _stored(rpc: Rpc) -> list[tuple[Any, ...]]:
    """Every Service_Flow row, read straight from the database (not through the gateway)."""
    rows = rpc.select(INJECT_DB_NAME, "Service_Flow", [], ["_uuid", "match", "actions", "priority"])
    return sorted((str(r["_uuid"]), r["match"], r["actions"], r["priority"]) for r in rows)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(_request)
def test_never_a_500_and_no_write_when_refused(
    target: tuple[httpx.Client, Rpc], request: tuple[str, Any]
) -> None:
    http, rpc = target
    path, body = request
    before = _stored(rpc)
    response = http.post(path, content=json.dumps(body).encode())
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"], response.text
        assert _stored(rpc) == before, f"{response.status_code} but the database changed"
    elif path == "/v1/flows/validate":
        assert _stored(rpc) == before


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=60), st.sampled_from(["GET", "DELETE"]))
def test_any_flow_id_or_cookie_is_answered(target: tuple[httpx.Client, Rpc], text: str, method: str) -> None:
    http, rpc = target
    before = _stored(rpc)
    for response in (
        http.request(method, f"/v1/flows/{urllib.parse.quote(text, safe='')}"),
        http.request("DELETE", "/v1/flows", params={"cookie": text, "cookie_mask": text}),
    ):
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert _stored(rpc) == before
