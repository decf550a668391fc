"""Validated flows per second through the gateway, with request latency, against the db API without HTTP.

Starts a 1-chassis sandbox without the compiler daemon (so that only the
gateway and OVN_Inject's ovsdb-server work), the demo topology, and one
service per client attached to ls-a. Concurrent clients POST batches of
flows over loopback; every flow is parsed, policed and port-checked by the
gateway and written in one transaction per request. Baseline, in the same
run: the same batches validated and written straight through the db API
(what the CLI does), sequentially, without HTTP.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ovn_inject.core import tokens
from ovn_inject.core.hooks import TargetKind
from ovn_inject.core.validate import FlowRequest, validate_flows
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl, connect
from ovn_inject.db.readers import read_topology
from ovn_inject.db.records import service_view
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies

FLOWS_PER_RUN = 6000
#: (clients, flows per request)
SHAPES = [(4, 250), (4, 100), (4, 20), (8, 1)]


def _flow(client: int, i: int) -> dict[str, object]:
    port = ("vm1", "vm2", "vm3")[i % 3]
    return {
        "priority": i % 1000,
        "match": f'inport == "{port}" && ip4.src == 10.{client}.{(i >> 8) & 255}.{i & 255} && tcp.dst == {i}',
        "actions": "drop;" if i % 2 else "ip.dscp = 46; next;",
        "cookie": i,
    }


def _setup(api: InjectDbApiIdlImpl, name: str) -> str:
    new = tokens.new_token()
    api.commit(api.service_del(name, if_exists=True))
    api.commit(api.service_add(name, "tenant-a"))
    api.commit(api.attach_add(name, "ls", "ls-a", "ls-in-port"))
    api.commit(api.token_add(name, new.public_id, new.secret_hash, now_ms()))
    return new.token


def _through_gateway(box: Sandbox, tokens_: list[str], batch: int) -> tuple[float, list[float]]:
    per_client = FLOWS_PER_RUN // len(tokens_)
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def run(index: int, token: str) -> None:
        mine: list[float] = []
        with httpx.Client(base_url=box.gateway_url, headers={"Authorization": f"Bearer {token}"}) as http:
            for start in range(0, per_client, batch):
                body = [_flow(index, i) for i in range(start, min(start + batch, per_client))]
                began = time.perf_counter()
                response = http.post("/v1/flows", json=body if batch > 1 else body[0])
                mine.append(time.perf_counter() - began)
                if response.status_code != 201:
                    failures.append(response.text)
                    return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tokens_)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"gateway refused a bench flow: {failures[0]}")
    return per_client * len(tokens_) / elapsed, latencies


def _through_api(box: Sandbox, api: InjectDbApiIdlImpl, name: str, batch: int) -> tuple[float, list[float]]:
    """The CLI's path without processes: read the service, validate, one transaction per batch."""
    topology = read_topology(box.nb_remote, 10.0, "neutron:project_id")
    latencies = []
    began = time.perf_counter()
    for start in range(0, FLOWS_PER_RUN, batch):
        t0 = time.perf_counter()
        view = service_view(api.service_get(name).execute())
        allowed = {
            a.uuid: topology.tenant_ports(TargetKind(a.target_kind), a.target_name, view.tenant)
            for a in view.attachments
        }
        view = dataclasses.replace(view, allowed_ports=allowed)
        requests = [
            FlowRequest(int(f["priority"]), str(f["match"]), str(f["actions"]), int(f["cookie"]))  # type: ignore[call-overload]
            for f in (_flow(99, i) for i in range(start, min(start + batch, FLOWS_PER_RUN)))
        ]
        api.commit(api.flow_add(name, validate_flows(requests, view)))
        latencies.append(time.perf_counter() - t0)
    return FLOWS_PER_RUN / (time.perf_counter() - began), latencies


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    box = Sandbox(Path(tempfile.mkdtemp(prefix="bench-gateway-")) / "sandbox")
    box.up(chassis=1, inject=False)
    try:
        topologies.build(box, topologies.DEMO)
        box.start_gateway()
        print(f"{FLOWS_PER_RUN} flows per run; 'inport && ip4.src && tcp.dst' matches, all checked")
        for clients, batch in SHAPES:
            # Separate connections: an IDL left open here would mirror the gateway's writes and
            # take CPU from it on this 2-core machine.
            api = connect(box.inject_remote, 30)
            try:
                tokens_ = [_setup(api, f"bench{i}") for i in range(clients)]
                _setup(api, "baseline")
                base_rate, base_lat = _through_api(box, api, "baseline", batch)
                api.commit(api.service_del("baseline"))
            finally:
                api.close()
            rate, lat = _through_gateway(box, tokens_, batch)
            print(
                f"{clients} clients x {batch:>3} flows/request: gateway {rate:7.0f} flows/s "
                f"(p50 {_ms(lat, 0.5):6.1f} ms, p99 {_ms(lat, 0.99):6.1f} ms per request) | "
                f"db API without HTTP {base_rate:7.0f} flows/s (p50 {_ms(base_lat, 0.5):6.1f} ms) | "
                f"ratio {rate / base_rate:.2f}x"
            )
    finally:
        box.down()


if __name__ == "__main__":
    main()
