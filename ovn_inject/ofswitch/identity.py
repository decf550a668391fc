"""What makes a service's switch recognisable across restarts: datapath id and port numbers (pure).

Both are functions of names only (the service's, the logical ports'), so
that they stay the same after a daemon restart, a reconnect or a change in
the topology, with nothing stored. A logical port's number is a hash of its
name in 1..65279 (the range ovs-ofctl accepts); if two ports of one switch
collide, the one whose name sorts later takes the next free number (so a
new port may, rarely, move a colliding neighbour: see docs/application.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: Port numbers OVS's tools accept (OpenFlow 1.0's range, which ovs-ofctl enforces for every version).
PORT_SPACE = 0xFEFF
#: A locally administered, unicast prefix for the datapath id's MAC half and the ports' addresses.
_LOCAL = 0x02


def _hash(text: str, size: int) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=size).digest(), "big")


def datapath_id(service: str) -> int:
    """A 64-bit id: 0x4f56 ("OV") then 48 bits of the service name's hash."""
    return (0x4F56 << 48) | _hash(f"service:{service}", 6)


def port_numbers(names: Iterable[str]) -> dict[str, int]:
    numbers: dict[str, int] = {}
    used: set[int] = set()
    for name in sorted(set(names)):
        number = 1 + _hash(f"port:{name}", 8) % PORT_SPACE
        while number in used:
            number = number % PORT_SPACE + 1
        used.add(number)
        numbers[name] = number
    return numbers


def port_mac(number: int) -> bytes:
    return bytes([_LOCAL, 0x4F]) + number.to_bytes(4, "big")
