"""IDS out of the datapath: a copy of a VM's traffic, and a block for one offending flow.

The service is attached to the watched VM's port at ``ls-in-port``. One flow
clones every IPv4 packet to the tenant's own IDS port and hands the original
on (``clone { outport = "ids"; output; }; next;``). The IDS reads what its port
received (a pcap here; a NIC in real life) and, when a packet carries a
forbidden pattern, blocks that connection only, by its 5-tuple. Usage:

    python3 examples/ids_tap.py tap ids                      # mirror to port "ids"
    python3 examples/ids_tap.py watch --pcap "$(ovn-inject sandbox capture ids --path)" \\
        --pattern /etc/passwd --once

Standard library only; in the sandbox, ``ovn-inject sandbox port-add ls-a ids
--tenant tenant-a --chassis hv2`` makes the IDS port.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import struct
import time
from pathlib import Path
from typing import NamedTuple

from gateway_client import Gateway, cookie_of, run

TAP, BLOCK = 0x7A9, 0xB10C


def tap(gateway: Gateway, ids_port: str) -> dict[str, object]:
    flow = {
        "priority": 1,
        "match": "ip4",
        "actions": f'clone {{ outport = "{ids_port}"; output; }}; next;',
        "cookie": cookie_of(TAP, ids_port),
    }
    return gateway.add([flow])[0]


def frames(pcap: Path, offset: int = 24) -> tuple[list[bytes], int]:
    """Complete frames after byte ``offset`` of a pcap being written, and where to resume."""
    data = pcap.read_bytes() if pcap.exists() else b""
    found = []
    while offset + 16 <= len(data):
        caplen = struct.unpack("<I", data[offset + 8 : offset + 12])[0]
        if offset + 16 + caplen > len(data):
            break
        found.append(data[offset + 16 : offset + 16 + caplen])
        offset += 16 + caplen
    return found, offset


class Segment(NamedTuple):
    """The TCP fields an IDS or an LB looks at."""

    src: str
    dst: str
    sport: int
    dport: int
    flags: int
    payload: bytes


SYN = 0x02


def tcp_of(frame: bytes) -> Segment | None:
    """The TCP segment in an untagged Ethernet/IPv4 frame, or None (standard library only)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack("!H", frame[16:18])[0]
    tcp = frame[14 + ihl : 14 + total]
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack("!HH", tcp[:4])
    offset = (tcp[12] >> 4) * 4
    src, dst = (str(ipaddress.IPv4Address(frame[a : a + 4])) for a in (26, 30))
    return Segment(src, dst, sport, dport, tcp[13], bytes(tcp[offset:]))


def offending(frame: bytes, pattern: bytes) -> tuple[str, str, int, int] | None:
    """The 5-tuple (tcp) of a frame whose payload carries ``pattern``."""
    segment = tcp_of(frame)
    if segment is None or pattern not in segment.payload:
        return None
    return segment.src, segment.dst, segment.sport, segment.dport


def block(gateway: Gateway, src: str, dst: str, sport: int, dport: int) -> dict[str, object]:
    match = f"ip4.src == {src} && ip4.dst == {dst} && tcp.src == {sport} && tcp.dst == {dport}"
    flow = {"priority": 100, "match": match, "actions": "drop;", "cookie": cookie_of(BLOCK, f"{sport}")}
    return gateway.add([flow])[0]


def watch(gateway: Gateway, pcap: Path, pattern: bytes, once: bool) -> list[str]:
    blocked: dict[tuple[str, str, int, int], str] = {}
    offset = 24
    while True:
        found, offset = frames(pcap, offset)
        for frame in found:
            five = offending(frame, pattern)
            if five is not None and five not in blocked:
                blocked[five] = str(block(gateway, *five)["match"])
        if once:
            return list(blocked.values())
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tap", help="copy the watched traffic to the IDS port")
    t.add_argument("ids_port")
    w = sub.add_parser("watch", help="inspect what the IDS port received; block offending connections")
    w.add_argument("--pcap", type=Path, required=True)
    w.add_argument("--pattern", required=True)
    w.add_argument("--once", action="store_true", help="inspect what is there now, then exit")
    args = parser.parse_args()
    gateway = Gateway()
    if args.command == "tap":
        print(json.dumps({"tap": tap(gateway, args.ids_port)["id"]}))
    else:
        print(json.dumps({"blocked": watch(gateway, args.pcap, args.pattern.encode(), args.once)}))


if __name__ == "__main__":
    run(main)
