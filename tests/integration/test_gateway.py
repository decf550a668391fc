"""The gateway over HTTP on a real sandbox: every endpoint, every error status, packets where it matters."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ovn_inject.db.commands import now_ms
from ovn_inject.gateway.app import MAX_BODY_BYTES
from ovn_inject.gateway.flows import MAX_FLOWS_PER_REQUEST
from ovn_inject.sandbox import Sandbox, processes
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.central import GATEWAY_LISTENING
from ovn_inject.sandbox.topology import DEMO
from tests.integration.gatewayutil import (
    client,
    delivered,
    error,
    icmp,
    inject_api,
    make_service,
    revoke,
    stored_flows,
    wait_hooks_ready,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3, vm4, vm5 = (DEMO.vm(f"vm{n}") for n in range(1, 6))
LS_A = [("ls", "ls-a", "ls-in-port")]


@pytest.fixture(scope="module")
def topo(sandbox: Sandbox) -> Sandbox:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    wait_hooks_ready(sandbox)
    return sandbox


DROP_VM1 = {"priority": 10, "match": 'inport == "vm1"', "actions": "drop;"}


def test_openapi_document_is_served(topo: Sandbox) -> None:
    with client(topo, None) as http:
        doc = http.get("/openapi.json").json()
    assert {
        "/v1/service",
        "/v1/flows",
        "/v1/flows/{flow_id}",
        "/v1/flows/replace",
        "/v1/flows/validate",
    } <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_service_lists_attachments_datapaths_and_the_ports_flows_may_name(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", [*LS_A, ("lsp", "vm1", "ls-out-deliver")], max_flows=50)
    with client(topo, token) as http:
        info = http.get("/v1/service").json()
    assert (info["name"], info["tenant"], info["max_flows"], info["flow_count"]) == ("ips", "tenant-a", 50, 0)
    by_target = {a["target"]: a for a in info["attachments"]}
    ls = by_target["ls:ls-a"]
    assert (ls["hook"], ls["pipeline"]) == ("ls-in-port", "ingress")
    assert ls["datapaths"] == [{"name": "ls-a", "kind": "ls", "ports": ["ls-a-lr-a", "vm1", "vm2", "vm3"]}]
    assert by_target["lsp:vm1"]["pipeline"] == "egress"
    with client(topo, token) as http:
        release = wait_until(
            lambda: http.get("/v1/service").json()["ovn_release"], "the daemon names the release"
        )
    installed = subprocess.run(["ovn-northd", "--version"], capture_output=True, text=True).stdout
    assert f" {release}." in installed, (release, installed)


def test_add_get_list_delete_with_wait_hv_proven_by_packets(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    with client(topo, token) as http:
        added = http.post("/v1/flows", params={"wait": "hv"}, json=DROP_VM1)
        assert added.status_code == 201, added.text
        [flow] = added.json()["flows"]
        assert (flow["status"], flow["match"], flow["actions"]) == ("installed", 'inport == "vm1"', "drop;")
        [only] = http.get("/v1/service").json()["attachments"]
        assert (flow["attachment"], flow["all_attachments"]) == (only["id"], False)  # its only one, named
        assert not delivered(topo, "vm1", icmp(vm1, vm2), "vm2")
        assert delivered(topo, "vm3", icmp(vm3, vm2), "vm2")
        assert delivered(topo, "vm4", icmp(vm4, vm5), "vm5") == [icmp(vm4, vm5)]

        assert http.get(f"/v1/flows/{flow['id']}").json() == flow
        assert http.get("/v1/flows").json() == {"flows": [flow], "next": None}
        gone = http.delete(f"/v1/flows/{flow['id']}", params={"wait": "hv"})
        assert gone.json() == {"deleted": 1}
        assert delivered(topo, "vm1", icmp(vm1, vm2), "vm2")
        error(http.get(f"/v1/flows/{flow['id']}"), 404, "not_found")
        error(http.delete(f"/v1/flows/{flow['id']}"), 404, "not_found")


def test_wait_sb_and_pending_without_wait(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    with client(topo, token) as http:
        quick = http.post("/v1/flows", json={**DROP_VM1, "priority": 1}).json()["flows"][0]
        assert quick["status"] in ("pending", "installed")
        waited = http.post("/v1/flows", params={"wait": "sb"}, json=DROP_VM1).json()["flows"][0]
        assert waited["status"] == "installed"


def test_a_batch_is_all_or_nothing(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    batch = [
        {"priority": 1, "match": "tcp.dst == 22", "actions": "drop;"},
        {"priority": 2, "match": "udp.dst == 53", "actions": "next;"},
        {"priority": 3, "match": "tcp.dst == 22 &&", "actions": "drop;"},
    ]
    with client(topo, token) as http:
        body = error(http.post("/v1/flows", json=batch), 400, "invalid", "flow 3")
        assert (body["field"], body["column"]) == ("flows[2].match", 17)
        assert stored_flows(topo, "ips") == []
        batch[2]["match"] = "tcp.dst == 23"
        batch[2]["actions"] = 'outport = "vm4"; output;'
        body = error(http.post("/v1/flows", json=batch), 403, "forbidden", "vm4")
        assert stored_flows(topo, "ips") == []
        batch[2]["actions"] = "drop;"
        assert len(http.post("/v1/flows", json=batch).json()["flows"]) == 3
    assert len(stored_flows(topo, "ips")) == 3


def _concurrently(topo: Sandbox, token: str, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    """POST each body from its own client at once: the gateway commits what arrives together."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = []
        for body in bodies:

            def post(body: dict[str, object] = body) -> httpx.Response:
                with client(topo, token) as http:
                    return http.post("/v1/flows", json=body)

            futures.append(pool.submit(post))
        return [f.result() for f in futures]


def test_concurrent_writes_each_get_their_own_answer(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    same = {"priority": 5, "match": "tcp.dst == 80", "actions": "drop;"}
    others = [{"priority": 5, "match": f"tcp.dst == {81 + n}", "actions": "drop;"} for n in range(5)]
    answers = _concurrently(topo, token, [same, same, same, *others])
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 6 + [409] * 2, [r.text for r in answers]
    assert len(stored_flows(topo, "ips")) == 6
    # A quota: however the writes are grouped, exactly as many as fit commit.
    token = make_service(topo, "ips", "tenant-a", LS_A, max_flows=3)
    answers = _concurrently(topo, token, others)
    assert sorted(r.status_code for r in answers) == [201] * 3 + [429] * 2, [r.text for r in answers]
    assert len(stored_flows(topo, "ips")) == 3


def test_replace_swaps_the_whole_set_in_one_transaction(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A, max_flows=2)
    with client(topo, token) as http:
        http.post("/v1/flows", json=[{"priority": n, "match": "tcp", "actions": "drop;"} for n in (1, 2)])
        new = [
            {"priority": 7, "match": "udp", "actions": "drop;"},
            {"priority": 8, "match": "icmp4", "actions": "drop;"},
        ]
        replaced = http.post("/v1/flows/replace", json=new)
        assert replaced.status_code == 200, replaced.text
        assert stored_flows(topo, "ips") == [(7, "udp", "drop;"), (8, "icmp4", "drop;")]
        error(http.post("/v1/flows/replace", json=[*new, DROP_VM1]), 429, "over_quota", "at most 2")
        error(http.post("/v1/flows/replace", json=[new[0], new[0]]), 409, "duplicate")
        error(
            http.post("/v1/flows/replace", json=[{**DROP_VM1, "match": "reg0 == 1"}]),
            403,
            "forbidden",
            "reg0",
        )
        assert stored_flows(topo, "ips") == [(7, "udp", "drop;"), (8, "icmp4", "drop;")]
        assert http.post("/v1/flows/replace", json=[]).json() == {"flows": []}
    assert stored_flows(topo, "ips") == []


def test_delete_by_cookie_and_mask(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    flows = [
        {"priority": n, "match": "tcp", "actions": "drop;", "cookie": c}
        for n, c in ((1, 0x10), (2, 0x11), (3, 0x20))
    ]
    flows.append({"priority": 4, "match": "udp", "actions": "drop;", "cookie": "0xffffffffffffffff"})
    with client(topo, token) as http:
        assert http.post("/v1/flows", json=flows).status_code == 201
        cookies = sorted(f["cookie"] for f in http.get("/v1/flows").json()["flows"])
        assert cookies == [0x10, 0x11, 0x20, (1 << 64) - 1]
        assert http.delete("/v1/flows", params={"cookie": "0x10", "cookie_mask": "0xf0"}).json() == {
            "deleted": 2
        }
        assert http.delete("/v1/flows", params={"cookie": str((1 << 64) - 1)}).json() == {"deleted": 1}
        error(http.delete("/v1/flows", params={"cookie": "0x1/0x1"}), 400, "invalid", "cookie_mask")
        error(http.delete("/v1/flows", params={"cookie": "x"}), 400, "invalid")
        error(http.delete("/v1/flows"), 400, "invalid", "cookie")
        assert http.delete("/v1/flows", params={"cookie": "0", "cookie_mask": "0"}).json() == {"deleted": 1}


def test_validate_is_a_dry_run_with_canonical_flows_and_their_lflows(topo: Sandbox) -> None:
    token = make_service(topo, "dpi", "tenant-a", [("lsp", "vm1", "ls-in-port")])
    entry = {"priority": 5, "match": "ip4.src==10.0.1.11&&tcp.dst==0x1bb", "actions": "ip.dscp=46;next;"}
    with client(topo, token) as http:
        result = http.post("/v1/flows/validate", json=entry)
        assert result.status_code == 200, result.text
        [flow] = result.json()["flows"]
        assert (flow["status"], flow["reason"]) == ("valid", "")  # a verdict: nothing was installed
        assert flow["match"] == "ip4.src == 10.0.1.11 && tcp.dst == 0x1bb"
        assert flow["actions"] == "ip.dscp = 46; next;"
        [lflow] = flow["lflows"]
        assert lflow["datapath"] == "ls-a" and lflow["stage_name"] == "ls_in_hook_port"
        assert lflow["match"].endswith(f'inport == "vm1" && ({flow["match"]})')
        assert re.match(r"ip\.dscp = 46; reg\d\[", lflow["actions"]), lflow  # then the cursor moves on
        error(http.post("/v1/flows/validate", json={**entry, "match": 'inport == "vm5"'}), 403, "forbidden")
    assert stored_flows(topo, "dpi") == []


def _inject_cli(box: Sandbox, *args: str) -> str:
    env = dict(os.environ, **box.env())
    done = subprocess.run(
        [sys.executable, "-m", "ovn_inject", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_flow_names_its_attachment_when_the_service_has_several(topo: Sandbox) -> None:
    """As the CLI's flow-add: nothing spreads to attachments by default (issue #18)."""
    token = make_service(topo, "ips", "tenant-a", LS_A)
    entry = {"priority": 3, "match": "tcp.dst == 23", "actions": "drop;"}
    with client(topo, token) as http:
        first = http.post("/v1/flows", json=entry).json()["flows"][0]  # the only attachment: bound to it
        with inject_api(topo) as api:
            api.commit(api.attach_add("ips", "lsp", "vm1", "ls-out-deliver"))  # type: ignore[attr-defined]

        def both_attachments() -> dict[str, str] | None:
            found = {a["target"]: a["id"] for a in http.get("/v1/service").json()["attachments"]}
            return found if len(found) == 2 else None

        # Written through another connection: the gateway's replica shows it a moment later.
        ids = wait_until(both_attachments, "the gateway shows the attachment added to lsp:vm1")
        assert http.get(f"/v1/flows/{first['id']}").json()["attachment"] == ids["ls:ls-a"]

        choices = "has 2 attachments (ls:ls-a@ls-in-port, lsp:vm1@ls-out-deliver)"
        unnamed = {**entry, "priority": 4}
        for path in ("/v1/flows", "/v1/flows/validate", "/v1/flows/replace"):
            body = error(http.post(path, json=unnamed), 400, "invalid", choices, '"all_attachments": true')
            assert body["field"] == "attachment", (path, body)
        body = error(
            http.post("/v1/flows", json=[{**entry, "attachment": "ls:ls-a"}, unnamed]),
            400,
            "invalid",
            choices,
        )
        assert body["field"] == "flows[1].attachment"
        both = {**unnamed, "attachment": "ls:ls-a", "all_attachments": True}
        error(http.post("/v1/flows", json=both), 400, "invalid", "exclude each other")
        assert len(stored_flows(topo, "ips")) == 1

        named = {**unnamed, "attachment": "lsp:vm1@ls-out-deliver"}
        everywhere = {**unnamed, "priority": 6, "all_attachments": True}
        dry = http.post("/v1/flows/validate", json=[named, everywhere]).json()["flows"]
        stages = [sorted({lflow["stage_name"] for lflow in f["lflows"]}) for f in dry]
        assert stages == [["ls_out_hook_deliver"], ["ls_in_hook_port", "ls_out_hook_deliver"]], stages
        added = http.post("/v1/flows", params={"wait": "sb"}, json=[named, everywhere])
        assert added.status_code == 201, added.text
        one, every = added.json()["flows"]
        assert (one["attachment"], one["all_attachments"]) == (ids["lsp:vm1"], False)
        assert (every["attachment"], every["all_attachments"]) == (None, True)
        listed = {f["priority"]: f["all_attachments"] for f in http.get("/v1/flows").json()["flows"]}
        assert listed == {3: False, 4: False, 6: True}
    shown = {
        f["priority"]: f["attachment"]
        for f in json.loads(_inject_cli(topo, "-f", "json", "flow-list", "ips"))
    }
    assert shown == {3: "ls:ls-a@ls-in-port", 4: "lsp:vm1@ls-out-deliver", 6: "*all*"}


def test_ofctl_form_marks_dscp_proven_by_a_packet(topo: Sandbox) -> None:
    token = make_service(topo, "dpi", "tenant-a", [("lsp", "vm1", "ls-in-port")])
    entry = {
        "priority": 5,
        "match": {"eth_type": 2048, "ip_proto": 6, "ipv4_src": vm1.ip, "tcp_dst": 443},
        "actions": [
            {"type": "SET_FIELD", "field": "ip_dscp", "value": 46},
            {"type": "OUTPUT", "port": "NORMAL"},
        ],
    }
    with client(topo, token) as http:
        [flow] = http.post("/v1/flows", params={"wait": "hv"}, json=entry).json()["flows"]
        assert flow["match"] == f"eth.type == 0x800 && ip.proto == 6 && ip4.src == {vm1.ip} && tcp.dst == 443"
        assert flow["actions"] == "ip.dscp = 46; next;"
        error(http.post("/v1/flows", json={**entry, "match": {"in_port": "vm4"}}), 403, "forbidden", "vm4")
        error(
            http.post("/v1/flows", json={**entry, "match": {"nw_src": "10.0.0.300"}}),
            400,
            "invalid",
            "match.nw_src",
        )
        error(http.post("/v1/flows", json={**entry, "actions": [{"type": "GROUP"}]}), 400, "invalid", "GROUP")
    [marked] = delivered(topo, "vm1", pk.tcp_segment(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 999, 443), "vm2")
    assert pk.summarize(marked).dscp == 46
    [plain] = delivered(topo, "vm4", pk.tcp_segment(vm4.mac, vm5.mac, vm4.ip, vm5.ip, 999, 443), "vm5")
    assert pk.summarize(plain).dscp == 0


def test_every_error_status_has_our_body(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", [("lsp", "vm1", "ls-in-port")], max_flows=3)
    with client(topo, token) as http:
        body = error(http.post("/v1/flows", json={**DROP_VM1, "match": "tcp.dst == 99999"}), 400, "invalid")
        assert (body["field"], body["column"]) == ("match", 12)
        error(http.post("/v1/flows", json={**DROP_VM1, "priority": "10"}), 400, "invalid", "priority")
        error(http.post("/v1/flows", json={**DROP_VM1, "idle": 1}), 400, "invalid", "idle")
        error(http.post("/v1/flows", json=[{**DROP_VM1, "idle": 1}]), 400, "invalid", "flows[0].idle")
        error(http.post("/v1/flows", content=b"{"), 400, "invalid", "not JSON")
        error(http.post("/v1/flows", json={**DROP_VM1, "priority": 1000}), 400, "invalid", "priority")
        error(http.post("/v1/flows", json={**DROP_VM1, "match": 'inport == "vm4"'}), 403, "forbidden", "vm4")
        # the tenant's own port, but on its router: another datapath
        error(
            http.post("/v1/flows", json={**DROP_VM1, "match": 'inport == "lrp-a-ls-a"'}),
            403,
            "forbidden",
            "lrp-a",
        )
        error(http.post("/v1/flows", json={**DROP_VM1, "match": "reg9[0] == 1"}), 403, "forbidden", "reg9")
        error(
            http.post("/v1/flows", json={**DROP_VM1, "actions": "next(pipeline=egress, table=0);"}),
            403,
            "forbidden",
        )
        error(http.get("/v1/flows/00000000-0000-0000-0000-000000000000"), 404, "not_found")
        error(http.get("/v1/nothing"), 404, "not_found")
        assert http.post("/v1/flows", json=DROP_VM1).status_code == 201
        error(http.post("/v1/flows", json=DROP_VM1), 409, "duplicate")
        error(http.post("/v1/flows", json=[{**DROP_VM1, "priority": 1}] * 2), 409, "duplicate", "flow 2")
        error(http.post("/v1/flows", content=b" " * (MAX_BODY_BYTES + 1)), 413, "too_large")
        many = [{**DROP_VM1, "priority": 1}] * (MAX_FLOWS_PER_REQUEST + 1)
        error(http.post("/v1/flows", json=many), 413, "too_large")
        three = [{**DROP_VM1, "priority": n} for n in (1, 2, 3)]
        error(http.post("/v1/flows", json=three), 429, "over_quota", "at most 3")
        assert len(stored_flows(topo, "ips")) == 1
    with client(topo, None) as anonymous:
        body = error(anonymous.get("/v1/flows"), 401, "unauthorized", "Authorization")
    for bad in (
        "garbage",
        token + "x",
        token.split(".")[0] + ".x",
        "0000000000000000." + token.split(".")[1],
    ):
        with client(topo, bad) as http:
            response = http.get("/v1/service")
            error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_token_fails_on_the_next_request(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    for attempt in range(5):
        with client(topo, token) as http:
            assert http.get("/v1/service").status_code == 200
            revoke(topo, token)
            error(http.get("/v1/service"), 401, "unauthorized")
            error(http.post("/v1/flows", json={**DROP_VM1, "priority": attempt}), 401, "unauthorized")
        token = make_service(topo, "ips", "tenant-a", LS_A)
    assert stored_flows(topo, "ips") == []


def test_a_token_revoked_after_its_writes_fails_the_next_write(topo: Sandbox) -> None:
    # The next write after a revocation fails, whatever the writes before it left in the gateway.
    for attempt in range(8):
        token = make_service(topo, "ips", "tenant-a", LS_A)  # the service afresh, with no flows
        flow = {**DROP_VM1, "priority": 2 * attempt}
        with client(topo, token) as http:
            assert http.post("/v1/flows", json=flow).status_code == 201
            revoke(topo, token)
            error(http.post("/v1/flows", json={**flow, "priority": 2 * attempt + 1}), 401, "unauthorized")
        assert stored_flows(topo, "ips") == [(flow["priority"], flow["match"], flow["actions"])]


def test_a_token_expired_after_its_writes_fails_the_next_write(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A, expires_ms=now_ms() + 3_600_000)
    with client(topo, token) as http:
        for attempt in range(8):
            flow = {**DROP_VM1, "priority": 2 * attempt}
            with inject_api(topo) as api:
                row = api.lookup("Token", token.split(".")[0])  # type: ignore[attr-defined]
                api.db_set("Token", row.uuid, ("expires", now_ms() + 3_600_000)).execute(check_error=True)  # type: ignore[attr-defined]
            wait_until(
                lambda f=flow: http.post("/v1/flows", json=f).status_code == 201, "a write with a valid token"
            )
            with inject_api(topo) as api:
                row = api.lookup("Token", token.split(".")[0])  # type: ignore[attr-defined]
                api.db_set("Token", row.uuid, ("expires", now_ms() - 1)).execute(check_error=True)  # type: ignore[attr-defined]
            late = {**flow, "priority": 2 * attempt + 1}
            error(http.post("/v1/flows", json=late), 401, "unauthorized", "expired")
    assert [priority for priority, _, _ in stored_flows(topo, "ips")] == list(range(0, 16, 2))


def test_an_expired_token_fails(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A, expires_ms=now_ms() + 3_600_000)
    with client(topo, token) as http:
        assert http.get("/v1/flows").status_code == 200
        # The hour passes: the token's expiry moves to a moment ago.
        with inject_api(topo) as api:
            row = api.lookup("Token", token.split(".")[0])  # type: ignore[attr-defined]
            api.db_set("Token", row.uuid, ("expires", now_ms() - 1)).execute(check_error=True)  # type: ignore[attr-defined]
        error(http.get("/v1/flows"), 401, "unauthorized", "expired")


def test_a_port_that_moves_to_another_tenant_is_refused_at_once(topo: Sandbox) -> None:
    token = make_service(topo, "ips", "tenant-a", LS_A)
    flow = {"priority": 3, "match": 'inport == "vm3"', "actions": "drop;"}
    with client(topo, token) as http:
        assert http.post("/v1/flows/validate", json=flow).status_code == 200
        topo.nbctl("set", "logical_switch_port", "vm3", 'external_ids:"neutron:project_id"="tenant-b"')
        try:
            wait_until(
                lambda: http.post("/v1/flows/validate", json=flow).status_code == 403,
                "the gateway refuses vm3 once NB says it moved",
            )
            error(http.post("/v1/flows", json=flow), 403, "forbidden", "vm3")
            assert stored_flows(topo, "ips") == []
        finally:
            topo.nbctl("set", "logical_switch_port", "vm3", 'external_ids:"neutron:project_id"="tenant-a"')


def test_tls_with_ovn_option_names(topo: Sandbox, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    openssl = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
    ]
    subprocess.run(
        [*openssl, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    pidfile, log = tmp_path / "gateway.pid", tmp_path / "gw.log"
    databases = [f"--inject-db={topo.inject_remote}", f"--nb-db={topo.nb_remote}"]
    tls = [f"--private-key={key}", f"--certificate={cert}"]
    daemon = ["--detach", f"--pidfile={pidfile}", f"--log-file={log}"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ovn_inject",
            "gateway",
            "--listen=127.0.0.1:0",
            *databases,
            *tls,
            *daemon,
        ],
        check=True,
        timeout=30,
    )
    pid = processes.read_pid(pidfile)
    assert pid is not None
    try:
        port = processes.logged_port(log, GATEWAY_LISTENING, "the gateway")
        token = make_service(topo, "ips", "tenant-a", LS_A)
        context = ssl.create_default_context(cafile=str(cert))
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, headers=headers) as https:
            assert https.get("/v1/service").json()["name"] == "ips"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as plain, pytest.raises(httpx.HTTPError):
            plain.get("/v1/service")
    finally:
        processes.stop_pids([pid])
