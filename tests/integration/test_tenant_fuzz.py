"""Hypothesis against the gateway's tenant API: never a 5xx, no write when refused, no foreign write."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from tests.integration.gatewayutil import client, wait_hooks_ready
from tests.integration.tenantutil import clear_services, make_tenant, snapshot

pytestmark = pytest.mark.integration

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_names = st.sampled_from(["ips", "dpi", "theirs", "a/b", "", "..", "x" * 70, "ips%2Fx"]) | st.text(
    max_size=12
)
_targets = st.sampled_from(
    ["ls:ls-a", "ls:ls-b", "lsp:vm1", "lsp:vm4", "lrp:lrp-a-ls-a", "lr:lr-a", "pg:pg-b", "ls:", "x", ":"]
) | st.text(max_size=12)
_hooks = st.sampled_from(["ls-in-port", "ls-out-deliver", "lr-in-route", "nope"]) | st.text(max_size=8)
_service_body = st.fixed_dictionaries(
    {},
    optional={
        "name": _names | _json,
        "description": st.text(max_size=20) | _json,
        "enabled": st.booleans() | _json,
        "max_flows": st.integers(-2, 2**33) | _json,
        "bogus": _json,
    },
)
_attachment_body = st.fixed_dictionaries(
    {},
    optional={
        "target": _targets | _json,
        "hook": _hooks | _json,
        "order": st.integers(-2, 70000) | _json,
        "bogus": _json,
    },
)
_token_body = st.fixed_dictionaries(
    {}, optional={"expires": st.integers(-2, 2**40) | _json, "description": st.text(max_size=8) | _json}
)
_suffix = st.sampled_from(["", "/attachments", "/tokens", "/tokens/0123456789abcdef", "/nothing"])
_request = st.tuples(
    st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]),
    st.one_of(st.just("/v1/tenant/services"), _names.map(lambda n: f"/v1/tenant/services/{n}")),
    _suffix,
    st.one_of(_service_body, _attachment_body, _token_body, _json),
    st.dictionaries(st.sampled_from(["target", "hook", "public_id"]), _targets | _hooks, max_size=2),
)


@pytest.fixture(scope="module")
def target(sandbox: Sandbox) -> Iterator[tuple[httpx.Client, Sandbox]]:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    wait_hooks_ready(sandbox)
    clear_services(sandbox)
    with client(sandbox, make_tenant(sandbox, "tenant-b")) as other:
        assert other.post("/v1/tenant/services", json={"name": "theirs"}).status_code == 201
        attached = {"target": "ls:ls-b", "hook": "ls-in-port"}
        assert other.post("/v1/tenant/services/theirs/attachments", json=attached).status_code == 201
    with client(sandbox, make_tenant(sandbox, "tenant-a", max_services=4, max_flows=10)) as http:
        assert http.post("/v1/tenant/services", json={"name": "ips"}).status_code == 201
        yield http, sandbox


def _theirs(rows: dict[str, list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    return [r for r in rows["Service"] if r[2] == "tenant-b"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_request)
def test_never_a_5xx_and_no_write_when_refused(
    target: tuple[httpx.Client, Sandbox], request: tuple[str, str, str, Any, dict[str, str]]
) -> None:
    http, box = target
    method, path, suffix, body, query = request
    url = urllib.parse.quote(path + suffix, safe="/%")
    before = snapshot(box)
    content = None if method == "GET" else json.dumps(body).encode()
    response = http.request(method, url, params=query, content=content)
    assert response.status_code < 500, response.text
    after = snapshot(box)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"], response.text
        assert after == before, f"{response.status_code} but the database changed"
    elif method == "GET":
        assert after == before
    # tenant-b's service and its attachment stay as they were, whatever tenant-a sends
    assert _theirs(after) == _theirs(before)
    assert any(r[2] == "ls-b" for r in after["Attachment"])
    assert not any(
        r[2] in ("ls-b", "vm4", "vm5", "pg-b") for r in after["Attachment"] if r not in before["Attachment"]
    )
