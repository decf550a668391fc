"""The gateway as an operator runs it: isolation between tenants, slow clients, TLS, audit and metrics."""

from __future__ import annotations

import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ovn_inject.gateway.app import MAX_BODY_BYTES
from ovn_inject.sandbox import Sandbox, processes
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.central import GATEWAY_LISTENING, METRICS_LISTENING
from tests.integration.gatewayutil import make_service, wait_hooks_ready
from tests.integration.pki import make_pki
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

LS_A = [("ls", "ls-a", "ls-in-port")]
LS_B = [("ls", "ls-b", "ls-in-port")]
VM1 = 'inport == "vm1"'


@dataclass
class Gateway:
    url: str
    metrics_url: str
    audit: Path
    log: Path

    def client(self, token: str | None, **options: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0, **options)  # type: ignore[arg-type]

    def audit_lines(self) -> list[dict[str, object]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines()]

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the scraped metrics (0 if absent)."""
        text = httpx.get(self.metrics_url, timeout=30.0).text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            sample, _, label_text = key.partition("{")
            got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
            if sample == name and got == wanted:
                return float(value)
        return 0.0


@contextmanager
def gateway(box: Sandbox, where: Path, *options: str, scheme: str = "http") -> Iterator[Gateway]:
    """A gateway of its own on the sandbox's databases, with an audit log and metrics."""
    where.mkdir(parents=True, exist_ok=True)
    pidfile, log, audit = where / "gw.pid", where / "gw.log", where / "audit.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ovn_inject",
            "gateway",
            "--listen=127.0.0.1:0",  # ports the gateway binds itself, then logs (none can be taken first)
            f"--inject-db={box.inject_remote}",
            f"--nb-db={box.nb_remote}",
            f"--sb-db={box.sb_remote}",
            f"--audit-log={audit}",
            "--metrics=127.0.0.1:0",
            *options,
            "--detach",
            f"--pidfile={pidfile}",
            f"--log-file={log}",
        ],
        check=True,
        timeout=60,
    )
    pid = processes.read_pid(pidfile)
    assert pid is not None
    try:
        port = processes.logged_port(log, GATEWAY_LISTENING, "the gateway")
        metrics_port = processes.logged_port(log, METRICS_LISTENING, "the gateway's metrics")
        yield Gateway(f"{scheme}://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", audit, log)
    finally:
        processes.stop_pids([pid])


@pytest.fixture(scope="module")
def topo(sandbox: Sandbox) -> Sandbox:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    wait_hooks_ready(sandbox)
    return sandbox


@pytest.fixture(scope="module")
def gw(topo: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    where = tmp_path_factory.mktemp("gw")
    with gateway(
        topo,
        where,
        "--rate-limit=0",
        "--default-max-flows=3",
        "--header-timeout=1",
        "--body-timeout=1",
    ) as running:
        yield running


def test_waits_hold_no_thread_and_do_not_stall_other_tenants(topo: Sandbox, gw: Gateway) -> None:
    """45 ?wait=sb requests pending while the compiler is stopped; another tenant is served at once."""
    waiter_token = make_service(topo, "waiter", "tenant-a", LS_A, max_flows=100)
    other_token = make_service(topo, "other", "tenant-b", LS_B)
    topo.stop("inject-northd")
    answers: list[int] = []
    try:

        def post(n: int) -> None:
            with gw.client(waiter_token) as http:
                flow = {"priority": 10, "match": f"{VM1} && ip4.dst == 10.99.0.{n}", "actions": "drop;"}
                answers.append(http.post("/v1/flows?wait=sb&timeout=120", json=flow).status_code)

        threads = [threading.Thread(target=post, args=(n,)) for n in range(45)]
        for thread in threads:
            thread.start()
        wait_until(lambda: gw.metric("ovn_inject_gateway_waits_pending") == 45, "45 waits pending")
        latencies = []
        with gw.client(other_token) as http:
            for _ in range(200):
                started = time.perf_counter()
                assert http.get("/v1/service").status_code == 200
                latencies.append(time.perf_counter() - started)
        p99 = statistics.quantiles(latencies, n=100)[98]
        p50 = statistics.median(latencies)
        print(f"\nGET /v1/service with 45 waits pending: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        assert gw.metric("ovn_inject_gateway_waits_pending") == 45  # still waiting, none timed out
        assert p99 < 2.0  # the criterion is 200 ms; a loaded 2-core CI machine gets slack
    finally:
        topo.start_inject_northd()
    for thread in threads:
        thread.join()
    assert answers == [201] * 45


def test_pages_of_flows(topo: Sandbox, gw: Gateway) -> None:
    token = make_service(topo, "pager", "tenant-a", LS_A, max_flows=20)
    flows = [
        {"priority": p, "match": f"{VM1} && ip4.dst == 10.98.0.{p}", "actions": "drop;"} for p in range(7)
    ]
    with gw.client(token) as http:
        assert http.post("/v1/flows", json=flows).status_code == 201
        seen, marker, pages = [], None, 0
        while True:
            params = {"limit": 3, **({"marker": marker} if marker else {})}
            page = http.get("/v1/flows", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            seen += body["flows"]
            pages += 1
            marker = body["next"]
            if marker is None:
                assert "Link" not in page.headers
                break
            assert page.headers["Link"].endswith('rel="next"') and marker in page.headers["Link"]
        assert pages == 3
        assert [f["priority"] for f in seen] == [6, 5, 4, 3, 2, 1, 0]
        assert http.get("/v1/flows", params={"marker": "nonsense"}).status_code == 400
        assert http.get("/v1/flows", params={"limit": 0}).status_code == 400


def test_default_quota(topo: Sandbox, gw: Gateway) -> None:
    token = make_service(topo, "unquoted", "tenant-a", LS_A)
    flows = [{"priority": p, "match": VM1, "actions": "drop;"} for p in range(4)]
    with gw.client(token) as http:
        assert http.get("/v1/service").json()["max_flows"] == 3
        refused = http.post("/v1/flows", json=flows)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "over_quota"
        assert http.post("/v1/flows", json=flows[:3]).status_code == 201


def test_audit_log_and_metrics(topo: Sandbox, gw: Gateway) -> None:
    token = make_service(topo, "audited", "tenant-a", LS_A, max_flows=10)
    before = len(gw.audit_lines())
    invalid_before = gw.metric("ovn_inject_gateway_refusals_total", reason="invalid")
    with gw.client(token) as http:
        added = http.post("/v1/flows", json={"priority": 5, "match": VM1, "actions": "drop;"})
        assert added.status_code == 201
        refused = http.post("/v1/flows", json={"priority": 5, "match": "inport ==", "actions": "drop;"})
        assert refused.status_code == 400
        assert http.get("/v1/flows").status_code == 200  # a read: counted, not audited
        flow_id = added.json()["flows"][0]["id"]
        assert http.delete(f"/v1/flows/{flow_id}").status_code == 200
    with gw.client(token.split(".")[0] + ".wrong") as http:
        assert http.get("/v1/service").status_code == 401
    lines = gw.audit_lines()[before:]
    assert [(line["what"], line["result"], line["status"]) for line in lines] == [
        ("POST /v1/flows", "accepted", 201),
        ("POST /v1/flows", "refused", 400),
        (f"DELETE /v1/flows/{flow_id}", "accepted", 200),
        ("GET /v1/service", "refused", 401),
    ]
    public_id = token.split(".")[0]
    assert all(line["token"] == public_id for line in lines)
    assert [line["service"] for line in lines] == ["audited"] * 3 + [None]
    assert lines[0]["request_id"] == added.headers["X-Request-Id"]
    assert lines[1]["request_id"] == refused.headers["X-Request-Id"]
    assert "match" in str(lines[1]["reason"]) and "invalid token" in str(lines[3]["reason"])
    assert all(
        set(line) == {"time", "service", "token", "request_id", "what", "result", "status", "reason"}
        for line in lines
    )
    assert token.split(".")[1] not in gw.audit.read_text()  # never a secret
    # Metrics: requests by status, refusals by reason, flows by status.
    assert gw.metric("ovn_inject_gateway_requests_total", route="/v1/flows", method="POST", status="201") >= 1
    assert (
        gw.metric("ovn_inject_gateway_requests_total", route="/v1/service", method="GET", status="401") >= 1
    )
    assert gw.metric("ovn_inject_gateway_refusals_total", reason="invalid") == invalid_before + 1
    assert gw.metric("ovn_inject_gateway_request_seconds_count", route="/v1/flows", method="GET") >= 1
    # Flows by status: this test's own flow once installed (not another test's, run before it or not).
    with gw.client(token) as http:
        kept = http.post(
            "/v1/flows", params={"wait": "hv"}, json={"priority": 6, "match": VM1, "actions": "drop;"}
        )
        assert kept.status_code == 201 and kept.json()["flows"][0]["status"] == "installed"
    wait_until(lambda: gw.metric("ovn_inject_flows", status="installed") >= 1, "the installed flow counted")


def test_cli_writes_are_audited(topo: Sandbox, tmp_path: Path) -> None:
    audit = tmp_path / "cli-audit.jsonl"
    env = {**os.environ, **topo.env(), "OVN_INJECT_AUDIT_LOG": str(audit)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ovn_inject", *args], env=env, capture_output=True, text=True
        )

    assert cli("service-add", "cli-svc", "--tenant", "tenant-a", "--may-exist").returncode == 0
    assert cli(
        "flow-add", "cli-svc", "--priority", "5", "--match", "inport ==", "--actions", "drop;"
    ).returncode
    assert cli("service-list").returncode == 0  # a read: not audited
    assert cli("service-del", "cli-svc").returncode == 0
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(line["what"].split()[0], line["service"], line["result"]) for line in lines] == [
        ("service-add", "cli-svc", "accepted"),
        ("flow-add", "cli-svc", "refused"),
        ("service-del", "cli-svc", "accepted"),
    ]
    assert lines[1]["reason"] and lines[0]["user"]


def test_slow_clients_are_disconnected(gw: Gateway) -> None:
    host, port = gw.url.removeprefix("http://").split(":")
    # Headers trickled (slowloris): the connection is closed once the header deadline passes.
    with socket.create_connection((host, int(port)), timeout=HANG) as slow:
        slow.sendall(b"GET /v1/service HTTP/1.1\r\nHost: x\r\n")
        assert slow.recv(1024) == b""
    # A body that stops coming: 408 once the body deadline passes.
    with socket.create_connection((host, int(port)), timeout=HANG) as slow:
        slow.sendall(b"POST /v1/flows HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = slow.recv(4096)
            assert chunk, "closed without an answer"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ")


HANG = 60.0


def test_chunked_body_over_the_limit_is_413(gw: Gateway) -> None:
    def chunks() -> Iterator[bytes]:
        piece = b" " * 65536
        for _ in range(MAX_BODY_BYTES // len(piece) + 2):
            yield piece

    with gw.client("x.y") as http:
        response = http.post("/v1/flows", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_rate_limit_per_service(topo: Sandbox, tmp_path: Path) -> None:
    greedy, patient = (make_service(topo, n, "tenant-a", LS_A) for n in ("greedy", "patient"))
    with gateway(topo, tmp_path, "--rate-limit=0.01", "--rate-burst=3") as limited:
        with limited.client(greedy) as http:
            assert [http.get("/v1/service").status_code for _ in range(3)] == [200] * 3
            refused = http.get("/v1/service")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        with limited.client(patient) as http:
            assert http.get("/v1/service").status_code == 200  # another service has its own bucket


def _pki(where: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    made = make_pki(where, {"srv": "127.0.0.1", "cli": "tenant-app"})
    return {
        "ca": made["ca"][1],
        "srv": made["srv"][1],
        "srv-key": made["srv"][0],
        "cli": made["cli"][1],
        "cli-key": made["cli"][0],
    }


def test_ca_cert_requires_client_certificates(topo: Sandbox, tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    tls = [f"--private-key={pki['srv-key']}", f"--certificate={pki['srv']}", f"--ca-cert={pki['ca']}"]
    anonymous = ssl.create_default_context(cafile=str(pki["ca"]))
    presenting = ssl.create_default_context(cafile=str(pki["ca"]))
    presenting.load_cert_chain(str(pki["cli"]), str(pki["cli-key"]))
    with gateway(topo, tmp_path / "required", *tls, scheme="https") as required:
        with required.client(None, verify=anonymous) as http, pytest.raises(httpx.HTTPError):
            http.get("/v1/service")
        with required.client(None, verify=presenting) as http:
            assert http.get("/v1/service").status_code == 401  # through TLS: now the token is asked for
    relaxed = [*tls, "--client-cert=optional"]
    with (
        gateway(topo, tmp_path / "optional", *relaxed, scheme="https") as optional,
        optional.client(None, verify=anonymous) as http,
    ):
        assert http.get("/v1/service").status_code == 401


#: The checks of the served document: no 5xx, no status it does not list, bodies and headers as it says.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


def test_schemathesis_finds_no_5xx_and_no_undocumented_status(
    topo: Sandbox, gw: Gateway, tmp_path: Path
) -> None:
    token = make_service(topo, "fuzzed", "tenant-a", LS_A)
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{gw.url}/openapi.json",
            f"--url={gw.url}",
            f"--header=Authorization: Bearer {token}",
            "--phases=examples,coverage,fuzzing,stateful",
            f"--checks={','.join(CHECKS)}",
            "--max-examples=25",
            "--seed=14",
            "--workers=1",
            "--request-timeout=60",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=tmp_path,  # its example database goes there, not into the checkout
    )
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]


def test_compiler_daemon_metrics(topo: Sandbox, tmp_path: Path) -> None:
    """A second compiler daemon with --metrics: standby, then active once the sandbox's stops."""
    pidfile, log = tmp_path / "northd.pid", tmp_path / "northd.log"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ovn_inject",
            "northd",
            f"--nb-db={topo.nb_remote}",
            f"--sb-db={topo.sb_remote}",
            f"--inject-db={topo.inject_remote}",
            "--metrics=127.0.0.1:0",
            "--detach",
            f"--pidfile={pidfile}",
            f"--log-file={log}",
        ],
        check=True,
        timeout=60,
    )
    pid = processes.read_pid(pidfile)
    assert pid is not None
    port = processes.logged_port(log, METRICS_LISTENING, "the compiler daemon's metrics")
    scrape = Gateway("", f"http://127.0.0.1:{port}/metrics", tmp_path / "none", tmp_path / "none")
    try:
        assert scrape.metric("ovn_inject_northd_active") == 0
        topo.stop("inject-northd")
        try:
            wait_until(lambda: scrape.metric("ovn_inject_northd_active") == 1, "the standby took over")
            wait_until(lambda: scrape.metric("ovn_inject_northd_passes_total") >= 1, "a pass")
            assert scrape.metric("ovn_inject_northd_pass_seconds_count") >= 1
            text = httpx.get(scrape.metrics_url).text
            assert "ovn_inject_northd_sb_ops_total" in text and 'ovn_inject_flows{status="installed"}' in text
        finally:
            topo.start_inject_northd()
    finally:
        processes.stop_pids([pid])
