"""The tenant API over HTTP on a sandbox: self-service proven by packets, isolation, revocation, limits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ovn_inject.core.validate import QuotaExceededError
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import connect
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.topology import DEMO
from tests.integration.gatewayutil import (
    client,
    delivered,
    error,
    icmp,
    inject_api,
    make_service,
    wait_hooks_ready,
)
from tests.integration.tenantutil import clear_services, make_tenant, revoke_tenant, snapshot
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4, vm5 = (DEMO.vm(f"vm{n}") for n in range(1, 6))
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "application.md"
DROP_VM1 = {"priority": 10, "match": 'inport == "vm1"', "actions": "drop;"}
LS_A = {"target": "ls:ls-a", "hook": "ls-in-port"}


@pytest.fixture(scope="module")
def topo(sandbox: Sandbox) -> Sandbox:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    tag = 'external_ids:"neutron:project_id"'
    sandbox.nbctl(
        *("pg-add", "pg-a", "vm1", "vm3", "--", "set", "port_group", "pg-a", f'{tag}="tenant-a"'),
        *("--", "pg-add", "pg-b", "vm4", "--", "set", "port_group", "pg-b", f'{tag}="tenant-b"'),
        *(
            "--",
            "pg-add",
            "pg-mixed",
            "vm1",
            "vm4",
            "--",
            "set",
            "port_group",
            "pg-mixed",
            f'{tag}="tenant-a"',
        ),
    )
    wait_hooks_ready(sandbox)
    return sandbox


@pytest.fixture
def box(topo: Sandbox) -> Iterator[Sandbox]:
    clear_services(topo)
    yield topo


def register(http: httpx.Client, name: str = "ips", **fields: object) -> dict[str, object]:
    created = http.post("/v1/tenant/services", json={"name": name, **fields})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_openapi_document_has_the_tenant_paths(topo: Sandbox) -> None:
    with client(topo, None) as http:
        doc = http.get("/openapi.json").json()
    assert {
        "/v1/tenant/services",
        "/v1/tenant/services/{name}",
        "/v1/tenant/services/{name}/attachments",
        "/v1/tenant/services/{name}/tokens",
        "/v1/tenant/elements",
    } <= set(doc["paths"])
    assert set(doc["paths"]["/v1/tenant/services/{name}"]) == {"get", "patch", "delete"}
    assert set(doc["paths"]["/v1/tenant/services/{name}/tokens"]) == {"get", "post", "delete"}


def test_a_tenant_registers_attaches_and_its_service_token_quarantines_vm1(box: Sandbox) -> None:
    with client(box, make_tenant(box, "tenant-a")) as tenant:
        service = register(tenant, "ips", description="quarantines VMs on alert")
        assert (service["name"], service["tenant"], service["attachments"]) == ("ips", "tenant-a", [])
        attached = tenant.post("/v1/tenant/services/ips/attachments", json=LS_A)
        assert attached.status_code == 201, attached.text
        assert (attached.json()["target"], attached.json()["pipeline"]) == ("ls:ls-a", "ingress")
        issued = tenant.post("/v1/tenant/services/ips/tokens", json={"description": "the IPS"})
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        assert token.startswith(issued.json()["public_id"] + ".")
        listed = tenant.get("/v1/tenant/services/ips/tokens").json()["tokens"]
        assert [t["public_id"] for t in listed] == [issued.json()["public_id"]]
        assert token.split(".")[1] not in str(listed)
    with client(box, token) as ips:
        assert ips.get("/v1/service").json()["tenant"] == "tenant-a"
        added = ips.post("/v1/flows", params={"wait": "hv"}, json=DROP_VM1)
        assert added.status_code == 201, added.text
    assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2")
    assert delivered(box, "vm3", icmp(vm3, vm2), "vm2")
    assert delivered(box, "vm4", icmp(vm4, vm5), "vm5") == [icmp(vm4, vm5)]
    # The operator's CLI sees the very same rows.
    with inject_api(box) as api:
        row = api.service_get("tenant-a/ips").execute()  # type: ignore[attr-defined]
        assert (row.description, len(row.attachments), len(row.tokens)) == ("quarantines VMs on alert", 1, 1)


def test_another_tenants_elements_are_refused_and_nothing_is_written(box: Sandbox) -> None:
    with client(box, make_tenant(box, "tenant-a")) as tenant:
        register(tenant)
        before = snapshot(box)
        path = "/v1/tenant/services/ips/attachments"
        answers = {}
        for target in ("ls:ls-b", "lsp:vm4", "pg:pg-b", "ls:no-such", "lsp:lrp-a-ls-a", "lr:ls-a"):
            answers[target] = error(
                tenant.post(path, json={"target": target, "hook": "ls-in-port"}), 404, "not_found"
            )
        # another tenant's switch is answered exactly as a missing one
        assert answers["ls:ls-b"]["message"] == str(answers["ls:no-such"]["message"]).replace(
            "no-such", "ls-b"
        )
        assert "tenant-b" not in str(answers)
        error(tenant.post(path, json={"target": "pg:pg-mixed", "hook": "ls-in-port"}), 403, "forbidden")
        error(
            tenant.post(path, json={"target": "ls:ls-a", "hook": "lr-in-route"}),
            400,
            "invalid",
            "router hook",
        )
        error(tenant.post(path, json={"target": "port:vm1", "hook": "ls-in-port"}), 400, "invalid", "kind")
        error(tenant.post(path, json={"target": "ls:ls-a", "hook": "nope"}), 400, "invalid", "hook")
        error(tenant.post(path, json={"target": "ls:ls-a"}), 400, "invalid", "hook")
        assert snapshot(box) == before
        for target, hook in (
            ("pg:pg-a", "ls-in-forward"),
            ("lsp:vm1", "ls-out-deliver"),
            ("lr:lr-a", "lr-in-route"),
        ):
            assert tenant.post(path, json={"target": target, "hook": hook}).status_code == 201
        error(tenant.post(path, json={"target": "pg:pg-a", "hook": "ls-in-forward"}), 409, "duplicate")
        assert len(tenant.get(path).json()["attachments"]) == 3
        assert tenant.delete(path, params={"target": "lsp:vm1"}).json() == {"deleted": 1}
        deleted = tenant.request("DELETE", path, json={"target": "lr:lr-a", "hook": "lr-in-route"})
        assert deleted.json() == {"deleted": 1}, deleted.text
        error(tenant.delete(path, params={"target": "lsp:vm1"}), 404, "not_found")
        assert [a["target"] for a in tenant.get(path).json()["attachments"]] == ["pg:pg-a"]


def test_elements_are_the_tenants_own_with_their_hooks(topo: Sandbox) -> None:
    with client(topo, make_tenant(topo, "tenant-a")) as a, client(topo, make_tenant(topo, "tenant-b")) as b:
        mine = a.get("/v1/tenant/elements").json()
        theirs = b.get("/v1/tenant/elements").json()
    assert [s["name"] for s in mine["switches"]] == ["ls-a"]
    assert mine["switches"][0]["ports"] == ["ls-a-lr-a", "vm1", "vm2", "vm3"]
    assert "ls-in-port" in mine["switches"][0]["hooks"] and "lr-in-route" not in mine["switches"][0]["hooks"]
    assert [(r["name"], r["target"]) for r in mine["routers"]] == [("lr-a", "lr:lr-a")]
    ports = {p["name"]: p for p in mine["ports"]}
    assert set(ports) == {"ls-a-lr-a", "vm1", "vm2", "vm3", "lrp-a-ls-a"}
    assert (ports["lrp-a-ls-a"]["target"], ports["vm1"]["target"]) == ("lrp:lrp-a-ls-a", "lsp:vm1")
    assert [g["name"] for g in mine["port_groups"]] == ["pg-a"]  # pg-mixed names tenant-b's vm4
    assert [s["name"] for s in theirs["switches"]] == ["ls-b"]
    assert {p["name"] for p in theirs["ports"]} == {"vm4", "vm5"}
    assert [g["name"] for g in theirs["port_groups"]] == ["pg-b"]
    assert theirs["routers"] == []


def test_tenant_b_sees_nothing_of_tenant_a(box: Sandbox) -> None:
    a_token, b_token = make_tenant(box, "tenant-a"), make_tenant(box, "tenant-b")
    with client(box, a_token) as a, client(box, b_token) as b:
        register(a, "ips")
        register(a, "dpi")
        a.post("/v1/tenant/services/ips/attachments", json=LS_A)
        assert b.get("/v1/tenant/services").json() == {"services": []}
        before = snapshot(box)
        for method, suffix in (
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("GET", "/attachments"),
            ("POST", "/attachments"),
            ("DELETE", "/attachments?target=ls:ls-a"),
            ("GET", "/tokens"),
            ("POST", "/tokens"),
            ("DELETE", "/tokens"),
        ):
            bodies = {"PATCH": {"description": "mine now"}, "POST": LS_A if "attach" in suffix else None}
            body = bodies.get(method)
            theirs = b.request(method, f"/v1/tenant/services/ips{suffix}", json=body)
            missing = b.request(method, f"/v1/tenant/services/zzz{suffix}", json=body)
            error(theirs, 404, "not_found")
            assert theirs.json()["error"]["message"] == missing.json()["error"]["message"].replace(
                "zzz", "ips"
            )
        assert snapshot(box) == before
        # names are per tenant: tenant-b may have its own 'ips'
        own = register(b, "ips")
        assert own["tenant"] == "tenant-b"
        assert b.post("/v1/tenant/services/ips/attachments", json=LS_A).status_code == 404
        assert (
            b.post("/v1/tenant/services/ips/attachments", json={**LS_A, "target": "ls:ls-b"}).status_code
            == 201
        )
        assert [s["name"] for s in b.get("/v1/tenant/services").json()["services"]] == ["ips"]
        assert [s["name"] for s in a.get("/v1/tenant/services").json()["services"]] == ["dpi", "ips"]
        assert a.get("/v1/tenant/services/ips").json()["attachments"][0]["target"] == "ls:ls-a"


def test_credentials_of_one_kind_do_not_open_the_other_api(box: Sandbox) -> None:
    service_token = make_service(box, "ips", "tenant-a", [("ls", "ls-a", "ls-in-port")])
    with client(box, service_token) as http:
        error(http.get("/v1/tenant/services"), 401, "unauthorized")
        error(http.post("/v1/tenant/services", json={"name": "sneaky"}), 401, "unauthorized")
    with client(box, make_tenant(box, "tenant-a")) as http:
        error(http.get("/v1/flows"), 401, "unauthorized")
        error(http.post("/v1/flows", json=DROP_VM1), 401, "unauthorized")
    with client(box, None) as http:
        error(http.get("/v1/tenant/services"), 401, "unauthorized", "Authorization")
    with client(box, make_tenant(box, "tenant-a", expires_ms=now_ms() - 1)) as http:
        error(http.get("/v1/tenant/services"), 401, "unauthorized", "expired")
    with client(box, make_tenant(box, "tenant-a") + "x") as http:
        error(http.get("/v1/tenant/elements"), 401, "unauthorized")
    with inject_api(box) as api:
        names = [s.name for s in api.service_list().execute()]  # type: ignore[attr-defined]
    assert names == ["ips"]


def test_a_revoked_credential_fails_next_and_its_services_keep_working(box: Sandbox) -> None:
    credential = make_tenant(box, "tenant-a")
    with client(box, credential) as tenant:
        register(tenant, "ips")
        tenant.post("/v1/tenant/services/ips/attachments", json=LS_A)
        token = tenant.post("/v1/tenant/services/ips/tokens").json()["token"]
        with client(box, token) as ips:
            assert ips.post("/v1/flows", params={"wait": "hv"}, json=DROP_VM1).status_code == 201
        assert tenant.get("/v1/tenant/services").status_code == 200
        revoke_tenant(box, credential)
        before = snapshot(box)
        error(tenant.get("/v1/tenant/services"), 401, "unauthorized")
        error(tenant.post("/v1/tenant/services", json={"name": "more"}), 401, "unauthorized")
        error(tenant.delete("/v1/tenant/services/ips"), 401, "unauthorized")
        error(tenant.post("/v1/tenant/services/ips/tokens"), 401, "unauthorized")
        assert snapshot(box) == before
    with client(box, token) as ips:
        assert ips.get("/v1/service").json()["name"] == "ips"
        assert ips.post("/v1/flows", json={**DROP_VM1, "priority": 11}).status_code == 201
    assert not delivered(box, "vm1", icmp(vm1, vm2), "vm2")


def test_limits_patch_tokens_and_delete(box: Sandbox) -> None:
    with client(box, make_tenant(box, "tenant-a", max_services=2, max_flows=5)) as tenant:
        assert register(tenant, "ips")["max_flows"] == 5  # the limit is the default quota
        assert register(tenant, "dpi", max_flows=2, enabled=False)["enabled"] is False
        error(tenant.post("/v1/tenant/services", json={"name": "lb"}), 429, "over_quota", "at most 2")
        error(tenant.post("/v1/tenant/services", json={"name": "ips"}), 409, "duplicate")
        error(tenant.patch("/v1/tenant/services/ips", json={"max_flows": 6}), 403, "forbidden", "limit")
        error(tenant.patch("/v1/tenant/services/ips", json={"max_flows": None}), 403, "forbidden")
        patched = tenant.patch("/v1/tenant/services/ips", json={"max_flows": 1, "description": "x"}).json()
        assert (patched["max_flows"], patched["description"], patched["enabled"]) == (1, "x", True)
        error(tenant.post("/v1/tenant/services", json={"name": "a/b"}), 400, "invalid", "name")
        error(tenant.post("/v1/tenant/services", json={"name": "x", "max_flows": "5"}), 400, "invalid")
        error(tenant.post("/v1/tenant/services", json={"name": "x", "extra": 1}), 400, "invalid")
        tenant.post("/v1/tenant/services/ips/attachments", json=LS_A)
        first = tenant.post("/v1/tenant/services/ips/tokens", json={"expires": 3600}).json()
        second = tenant.post("/v1/tenant/services/ips/tokens").json()
        assert first["expires"] is not None and second["expires"] is None
        with client(box, first["token"]) as ips:
            assert ips.post("/v1/flows", json=DROP_VM1).status_code == 201
            error(ips.post("/v1/flows", json={**DROP_VM1, "priority": 1}), 429, "over_quota")
            gone = tenant.delete(f"/v1/tenant/services/ips/tokens/{first['public_id']}")
            assert gone.json() == {"deleted": 1}
            error(ips.get("/v1/service"), 401, "unauthorized")
        error(tenant.delete(f"/v1/tenant/services/dpi/tokens/{second['public_id']}"), 404, "not_found")
        assert tenant.delete("/v1/tenant/services/ips/tokens").json() == {"deleted": 1}
        assert tenant.delete("/v1/tenant/services/ips").json() == {"deleted": 1}
        error(tenant.get("/v1/tenant/services/ips"), 404, "not_found")
        assert register(tenant, "lb")["name"] == "lb"  # a slot is free again
    wait_until(lambda: snapshot(box)["Service_Flow"] == [], "the service's flows went with it")


def test_the_guides_curl_commands_run_as_written(box: Sandbox) -> None:
    section = GUIDE.read_text().split("## Register your appliance", 1)[1].split("\n## ", 1)[0]
    # The last block is the appliance's part; the one before it is the operator's (this test makes the token).
    script = re.findall(r"```sh\n(.*?)```", section, re.S)[-1]
    env = {**os.environ, "OVN_INJECT_GATEWAY": box.gateway_url, "TENANT_TOKEN": make_tenant(box, "tenant-a")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answers, rest, decoder = [], done.stdout.strip(), json.JSONDecoder()
    while rest:
        answer, end = decoder.raw_decode(rest)
        answers.append(answer)
        rest = rest[end:].strip()
    elements, service, attachment, mine = answers
    assert "ls-a" in [s["name"] for s in elements["switches"]]
    assert (service["name"], attachment["target"]) == ("ips", "ls:ls-a")
    assert (mine["name"], mine["tenant"], [a["target"] for a in mine["attachments"]]) == (
        "ips",
        "tenant-a",
        ["ls:ls-a"],
    )


def test_concurrent_registrations_never_exceed_the_service_limit(box: Sandbox) -> None:
    """Gateways (a connection each) registering at once: the service count is guarded in the transaction."""
    credential = make_tenant(box, "tenant-a", max_services=3)
    with client(box, credential) as http:
        assert http.get("/v1/tenant/services").json() == {"services": []}
    apis = [connect(box.inject_remote, 10.0) for _ in range(4)]
    start = threading.Barrier(len(apis))

    def attempt(job: tuple[int, object]) -> int:
        n, api = job
        created = 0
        start.wait()
        for m in range(3):
            try:
                api.commit(api.tenant_service_add(f"svc{n}-{m}", "tenant-a", max_services=3))  # type: ignore[attr-defined]
                created += 1
            except QuotaExceededError:
                pass
        return created

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert sum(pool.map(attempt, enumerate(apis))) == 3
    finally:
        for api in apis:
            api.close()
    assert len([s for s in snapshot(box)["Service"] if s[2] == "tenant-a"]) == 3


def test_a_nul_or_a_lone_surrogate_is_refused_and_stalls_no_other_write(box: Sandbox) -> None:
    """ovsdb-server drops a connection whose transaction carries a NUL, and the IDL resent it on
    every reconnection: one such token stalled every write of the gateway for its 30 s timeout."""
    nb_log = box.layout.central / "ovnnb_db.log"
    logged = nb_log.read_text()
    with client(box, make_tenant(box, "tenant-a")) as tenant:
        register(tenant, "ips")
        before = snapshot(box)
        refused = [
            tenant.post("/v1/tenant/services/ips/tokens", json={"description": "a\x00b"}),
            tenant.post("/v1/tenant/services", json={"name": "ids", "description": "\x00"}),
            tenant.patch("/v1/tenant/services/ips", json={"description": "x\x00"}),
            # A lone surrogate, as JSON may escape one: ovsdb-server drops the connection alike.
            tenant.post("/v1/tenant/services/ips/tokens", content=b'{"description": "\\ud800"}'),
        ]
        for response in refused:
            assert error(response, 400, "invalid")["field"] == "description"
        assert snapshot(box) == before
        # The next write is answered at once (the gateway's own database timeout is 30 s).
        issued = tenant.post("/v1/tenant/services/ips/tokens", json={"description": "after"}, timeout=10)
        assert issued.status_code == 201, issued.text
    with client(box, issued.json()["token"]) as ips:
        nul = {"match": 'inport == "vm\x001"', "all_attachments": True}
        flow = ips.post("/v1/flows", json=DROP_VM1 | nul)
        assert error(flow, 400, "invalid", "x00")["field"] == "match"  # as the language refuses it
    assert "null bytes" not in nb_log.read_text()[len(logged) :]
