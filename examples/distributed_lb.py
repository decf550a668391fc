"""Distributed load balancer: the LB sees the first packet, OVN carries the rest.

New connections to the VIP are steered to the LB function's port. For each
one the LB picks a backend and installs two per-connection rewrite flows
(client -> VIP becomes client -> backend, backend -> client comes back from
the VIP), with a hard timeout, so the connection's further packets go
straight between client and backend on whatever chassis they are. Usage:

    python3 examples/distributed_lb.py steer lb 10.0.1.100 80
    python3 examples/distributed_lb.py serve --pcap lb.pcap --vip 10.0.1.100:80 --vip-mac 02:00:00:00:01:64 \\
        --backend 10.0.1.12/02:00:00:00:01:02 --backend 10.0.1.13/02:00:00:00:01:03 --once
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from pathlib import Path

from gateway_client import Gateway, cookie_of, run
from ids_tap import SYN, frames, tcp_of

STEER, WIRE = 0x57E3, 0x1B00
CONNECTION_TIMEOUT = 300


def steer(gateway: Gateway, lb_port: str, vip: str, port: int) -> dict[str, object]:
    """Until a connection is wired, its packets to the VIP go to the LB function."""
    flow = {
        "priority": 1,
        "match": f"ip4.dst == {vip} && tcp.dst == {port}",
        "actions": f'outport = "{lb_port}"; output;',
        "cookie": cookie_of(STEER, vip),
    }
    return gateway.add([flow])[0]


def wire(
    gateway: Gateway, client: tuple[str, int], vip: tuple[str, int], vip_mac: str, backend: tuple[str, str]
) -> list[dict[str, object]]:
    """Both directions of one connection, straight between client and backend."""
    (cip, cport), (vip_ip, vport), (bip, bmac) = client, vip, backend
    cookie = cookie_of(WIRE, f"{cip}:{cport}")
    forward = {
        "priority": 100,
        "cookie": cookie,
        "hard_timeout": CONNECTION_TIMEOUT,
        "match": f"ip4.src == {cip} && tcp.src == {cport} && ip4.dst == {vip_ip} && tcp.dst == {vport}",
        "actions": f"eth.dst = {bmac}; ip4.dst = {bip}; next;",
    }
    backward = {
        "priority": 100,
        "cookie": cookie,
        "hard_timeout": CONNECTION_TIMEOUT,
        "match": f"ip4.src == {bip} && tcp.src == {vport} && ip4.dst == {cip} && tcp.dst == {cport}",
        "actions": f"eth.src = {vip_mac}; ip4.src = {vip_ip}; next;",
    }
    return gateway.add([forward, backward])


def serve(
    gateway: Gateway,
    pcap: Path,
    vip: tuple[str, int],
    vip_mac: str,
    backends: list[tuple[str, str]],
    once: bool,
) -> list[dict[str, object]]:
    wired: dict[tuple[str, int], tuple[str, str]] = {}
    offset = 24
    while True:
        found, offset = frames(pcap, offset)
        for frame in found:
            segment = tcp_of(frame)
            if segment is None:
                continue
            client = (segment.src, segment.sport)
            if client in wired or not segment.flags & SYN:
                continue
            backend = backends[zlib.crc32(f"{client}".encode()) % len(backends)]
            wire(gateway, client, vip, vip_mac, backend)
            wired[client] = backend
        if once:
            return [{"client": f"{c[0]}:{c[1]}", "backend": b[0]} for c, b in wired.items()]
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("steer", help="send new connections to the VIP to the LB port")
    s.add_argument("lb_port")
    s.add_argument("vip")
    s.add_argument("port", type=int)
    v = sub.add_parser("serve", help="wire each new connection the LB port sees to a backend")
    v.add_argument("--pcap", type=Path, required=True, help="what the LB port received")
    v.add_argument("--vip", required=True, help="IP:PORT")
    v.add_argument("--vip-mac", required=True)
    v.add_argument("--backend", action="append", required=True, help="IP/MAC, repeatable")
    v.add_argument("--once", action="store_true")
    args = parser.parse_args()
    gateway = Gateway()
    if args.command == "steer":
        print(json.dumps({"steer": steer(gateway, args.lb_port, args.vip, args.port)["id"]}))
        return
    vip_ip, vip_port = args.vip.rsplit(":", 1)
    backends = [tuple(b.split("/", 1)) for b in args.backend]
    wired = serve(gateway, args.pcap, (vip_ip, int(vip_port)), args.vip_mac, backends, args.once)  # type: ignore[arg-type]
    print(json.dumps({"wired": wired}))


if __name__ == "__main__":
    run(main)
