"""DPI QoS marking: give an application's flows a DSCP class.

A DPI engine classifies a connection (here: given on the command line) and
asks OVN to mark its packets with a DSCP value at ``ls-in-port``; ``next;``
hands the marked packet on to the next service and to OVN. Usage:

    python3 examples/dpi_qos.py mark 10.0.1.11:1234 10.0.1.12:443 tcp 46
    python3 examples/dpi_qos.py clear
"""

from __future__ import annotations

import argparse
import json

from gateway_client import Gateway, cookie_of, run

QOS = 0xD5C9


def mark(gateway: Gateway, src: str, dst: str, proto: str, dscp: int, timeout: int = 0) -> dict[str, object]:
    """Mark one 5-tuple (one direction) with ``dscp``; the flow goes after ``timeout`` seconds."""
    src_ip, src_port = src.rsplit(":", 1)
    dst_ip, dst_port = dst.rsplit(":", 1)
    family = "ip6" if ":" in src_ip else "ip4"
    match = (
        f"{family}.src == {src_ip} && {family}.dst == {dst_ip} && "
        f"{proto}.src == {int(src_port)} && {proto}.dst == {int(dst_port)}"
    )
    flow = {
        "priority": 100,
        "match": match,
        "actions": f"ip.dscp = {dscp}; next;",
        "cookie": cookie_of(QOS, f"{dscp}"),
        "hard_timeout": timeout,
    }
    return gateway.add([flow])[0]


def clear(gateway: Gateway) -> int:
    return gateway.delete_cookie(QOS << 48, mask=0xFFFF << 48)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mark", help="mark one classified flow")
    m.add_argument("src", help="IP:PORT of the sender")
    m.add_argument("dst", help="IP:PORT of the receiver")
    m.add_argument("proto", choices=["tcp", "udp", "sctp"])
    m.add_argument("dscp", type=int, help="0..63 (46 = expedited forwarding)")
    m.add_argument("--timeout", type=int, default=0, help="remove the mark after this many seconds")
    sub.add_parser("clear", help="remove every mark")
    args = parser.parse_args()
    gateway = Gateway()
    if args.command == "mark":
        flow = mark(gateway, args.src, args.dst, args.proto, args.dscp, args.timeout)
        print(json.dumps({"marked": flow["match"], "id": flow["id"], "status": flow["status"]}))
    else:
        print(json.dumps({"cleared": clear(gateway)}))


if __name__ == "__main__":
    run(main)
