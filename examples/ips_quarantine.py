"""IPS quarantine: on an alert, cut a VM off its network; release it later.

The service is attached to the tenant's switch at ``ls-in-port`` (before
conntrack), so the drop also stops connections that were established before
the alert. Usage:

    OVN_INJECT_GATEWAY=http://127.0.0.1:PORT OVN_INJECT_TOKEN=... \\
        python3 examples/ips_quarantine.py quarantine vm1 10.0.1.11
    python3 examples/ips_quarantine.py release vm1

Quarantining a VM twice is not an error: the second run reports the flows in place.
"""

from __future__ import annotations

import argparse
import json

from gateway_client import Gateway, GatewayError, cookie_of, run

QUARANTINE = 0x1195


def quarantine(gateway: Gateway, port: str, address: str | None) -> tuple[list[dict[str, object]], bool]:
    """Drop everything the VM sends and, if its address is known, everything sent to it.

    Returns the flows and whether they were already there.
    """
    cookie = cookie_of(QUARANTINE, port)
    flows = [{"priority": 900, "match": f'inport == "{port}"', "actions": "drop;", "cookie": cookie}]
    if address:
        field = "ip6.dst" if ":" in address else "ip4.dst"
        flows.append(
            {"priority": 900, "match": f"{field} == {address}", "actions": "drop;", "cookie": cookie}
        )
    try:
        return gateway.add(flows), False
    except GatewayError as exc:
        if exc.status != 409:
            raise
    # 409: the same flows exist; the VM is already quarantined (a second alert, a retried script).
    return [f for f in gateway.flows() if int(str(f.get("cookie", 0)), 0) == cookie], True


def release(gateway: Gateway, port: str) -> int:
    return gateway.delete_cookie(cookie_of(QUARANTINE, port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quarantine", help="cut a VM off")
    q.add_argument("port", help="the VM's logical port")
    q.add_argument("address", nargs="?", help="its IP address, to stop traffic towards it too")
    r = sub.add_parser("release", help="let a VM talk again")
    r.add_argument("port")
    args = parser.parse_args()
    gateway = Gateway()
    if args.command == "quarantine":
        installed, already = quarantine(gateway, args.port, args.address)
        answer = {"quarantined": args.port, "flows": [f["id"] for f in installed], "already": already}
        print(json.dumps(answer))
    else:
        print(json.dumps({"released": args.port, "flows_removed": release(gateway, args.port)}))


if __name__ == "__main__":
    run(main)
