"""One flow per request into one service until it holds 20,000: does a write stay O(1) as flows pile up?

The distributed load balancer's shape: many clients, one flow per new
connection, one service. Starts a 1-chassis sandbox without the compiler
daemon and the gateway on it; 8 client threads POST single flows over
kept-alive loopback connections (a minimal HTTP/1.1 client, so that the
client's own CPU does not hide the gateway's). Prints flows/s, p50/p99 per
request, the mean time per add over the first and the last 1,000 flows
(flat if a write costs O(1) in the flows stored), and, in the same run,
``GET /v1/service`` (an authenticated no-op) and ``GET /healthz`` (no auth)
with the same clients: the POST/GET ratio is the cost of a write over the
HTTP path itself. The gateway's CPU per request (all its threads, from /proc) is
printed too: one core bounds it, and CPU varies less than rates on a busy machine.
Last, the same GETs on three server stacks side by side (uvicorn's
pure-Python h11 parser on asyncio, httptools on asyncio, httptools on uvloop).

    .venv/bin/python bench/bench_gateway_scale.py [--flows 20000] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ovn_inject.core import tokens
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import connect
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies


class Http:
    """Kept-alive HTTP/1.1 over one socket; just enough for this bench (Content-Length bodies)."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = f"Host: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        return status, rest[:length]

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the gateway closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


def _flow(i: int) -> bytes:
    port = ("vm1", "vm2", "vm3")[i % 3]
    return json.dumps(
        {
            "priority": 100,
            "match": f'inport == "{port}" && ip4.src == 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255} '
            f"&& tcp.dst == {1 + i % 60000}",
            "actions": "drop;" if i % 2 else "next;",
            "cookie": i,
        }
    ).encode()


Sample = tuple[float, float]  # (finished at, seconds)


def _run(url: str, token: str, clients: int, total: int, request: object) -> tuple[float, list[Sample]]:
    """``total`` requests over ``clients`` connections: requests/s and every request's sample."""
    samples: list[Sample] = []
    lock = threading.Lock()
    counter = iter(range(total))
    failures: list[str] = []

    def client() -> None:
        http = Http(url, token)
        mine = []
        try:
            for i in counter:  # shared: next() of a range iterator is atomic under the GIL
                began = time.perf_counter()
                status, body = request(http, i)  # type: ignore[operator]
                done = time.perf_counter()
                mine.append((done, done - began))
                if status not in (200, 201):
                    failures.append(f"{status} {body[:300]!r}")
                    return
        finally:
            http.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"the gateway refused a bench request: {failures[0]}")
    samples.sort()
    return len(samples) / elapsed, samples


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(pid: int, run: object) -> tuple[float, list[Sample], float]:
    """``run()``'s requests/s and samples, and the gateway's CPU seconds per request meanwhile."""
    before = _cpu_seconds(pid)
    rate, samples = run()  # type: ignore[operator]
    return rate, samples, (_cpu_seconds(pid) - before) / max(1, len(samples))


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--gets", type=int, default=5_000)
    args = parser.parse_args()
    box = Sandbox(Path(tempfile.mkdtemp(prefix="bench-gateway-scale-")) / "sandbox")
    box.up(chassis=1, inject=False)
    try:
        topologies.build(box, topologies.DEMO)
        box.start_gateway()
        api = connect(box.inject_remote, 30)
        try:
            new = tokens.new_token()
            api.commit(api.service_add("lb", "tenant-a", max_flows=args.flows + 1000))
            api.commit(api.service_set("lb", max_openflow_flows=10 * args.flows))
            api.commit(api.attach_add("lb", "ls", "ls-a", "ls-in-port"))
            api.commit(api.token_add("lb", new.public_id, new.secret_hash, now_ms()))
        finally:
            api.close()
        url = box.gateway_url

        def healthz(http: Http, i: int) -> tuple[int, bytes]:
            return http.request("GET", "/healthz")

        def service(http: Http, i: int) -> tuple[int, bytes]:
            return http.request("GET", "/v1/service")

        def post(http: Http, i: int) -> tuple[int, bytes]:
            return http.request("POST", "/v1/flows", _flow(i))

        pid = box.state.pids["gateway"]
        health_rate, _ = _run(url, new.token, args.clients, args.gets, healthz)
        get_rate, get_samples, get_cpu = _measured(
            pid, lambda: _run(url, new.token, args.clients, args.gets, service)
        )
        rate, samples, post_cpu = _measured(pid, lambda: _run(url, new.token, args.clients, args.flows, post))
        latencies = [s for _, s in samples]
        first = sum(latencies[:1000]) / min(1000, len(latencies))
        last = sum(latencies[-1000:]) / min(1000, len(latencies))
        print(f"{args.clients} clients x 1 flow/request, {args.flows} flows into one service:")
        print(
            f"  POST /v1/flows   {rate:7.0f} flows/s  p50 {_ms(latencies, 0.5):6.1f} ms  "
            f"p99 {_ms(latencies, 0.99):6.1f} ms"
        )
        print(
            f"  mean per add: first 1,000 {first * 1000:.2f} ms, last 1,000 {last * 1000:.2f} ms "
            f"(last/first {last / first:.2f}x)"
        )
        get_lat = [s for _, s in get_samples]
        print(
            f"  GET /v1/service  {get_rate:7.0f} req/s    p50 {_ms(get_lat, 0.5):6.1f} ms  "
            f"p99 {_ms(get_lat, 0.99):6.1f} ms"
        )
        print(f"  GET /healthz     {health_rate:7.0f} req/s")
        print(f"  POST/GET ratio   {rate / get_rate:.2f}x")
        # CPU is what bounds the gateway (one core under the GIL): its CPU per request says more than
        # the rates on a noisy machine.
        print(
            f"  gateway CPU per request: POST {post_cpu * 1e6:.0f} us, "
            f"GET /v1/service {get_cpu * 1e6:.0f} us (POST/GET {post_cpu / get_cpu:.2f}x)"
        )
        # The HTTP stack side by side: uvicorn's pure-Python parser and asyncio's loop, then ours.
        print("  server stack (GET /healthz, GET /v1/service, req/s):")
        for parser, loop in (("h11", "asyncio"), ("httptools", "asyncio"), ("httptools", "uvloop")):
            os.environ.update(OVN_INJECT_HTTP=parser, OVN_INJECT_LOOP=loop)
            box.restart_gateway()
            h, _ = _run(url := box.gateway_url, new.token, args.clients, args.gets, healthz)
            g, _ = _run(url, new.token, args.clients, args.gets, service)
            print(f"    {parser:>9} + {loop:<7} {h:7.0f} {g:7.0f}")
    finally:
        box.down()


if __name__ == "__main__":
    main()
