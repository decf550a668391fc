"""VM ports an operator adds to a sandbox, packets sent from them, and what they received.

An appliance (an IDS, a load balancer) needs a port of its tenant bound on a
chassis; the docs and examples create one with ``sandbox port-add``, send with
``sandbox send`` and read what a port received with ``sandbox capture``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

import dpkt

from ovn_inject.constants import DEFAULT_TENANT_KEY
from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import packets
from ovn_inject.sandbox.sandbox import Sandbox

PROTOCOLS = ("tcp", "udp", "icmp")
#: Keys of a packet spec (``sandbox send PORT 'tcp dst=vm2 dport=80 payload=hi'``).
KEYS = ("src", "dst", "sport", "dport", "flags", "seq", "ack", "ttl", "dscp", "payload")


def add_port(
    box: Sandbox, switch: str, port: str, tenant: str, chassis: str, addresses: str = "unknown"
) -> None:
    """A port of ``tenant`` on ``switch`` without port security, bound on ``chassis`` and up."""
    if chassis not in box.state.chassis:
        raise SandboxError(f"no chassis '{chassis}' in this sandbox; it has {', '.join(box.state.chassis)}")
    box.nbctl(
        "lsp-add",
        switch,
        port,
        "--",
        "lsp-set-addresses",
        port,
        *addresses.split(","),
        "--",
        "set",
        "logical_switch_port",
        port,
        f'external_ids:"{DEFAULT_TENANT_KEY}"="{tenant}"',
    )
    box.bind_port(port, chassis)
    box.wait_ports_up([port])


def del_port(box: Sandbox, port: str) -> None:
    if port in box.state.bindings:
        box.unbind_port(port)
    box.nbctl("--if-exists", "lsp-del", port)


def port_address(box: Sandbox, port: str) -> tuple[str, str | None]:
    """The first ``MAC [IP]`` of a logical port's NB addresses."""
    raw = box.nbctl("--if-exists", "get", "logical_switch_port", port, "addresses").strip()
    if not raw:
        raise SandboxError(f"no logical switch port '{port}'")
    for entry in json.loads(raw.replace("'", '"')) if raw.startswith("[") else []:
        words = str(entry).split()
        if words and words[0] not in ("unknown", "dynamic", "router"):
            return words[0], (words[1] if len(words) > 1 else None)
    raise SandboxError(f"port '{port}' has no MAC address in NB (addresses {raw}); give MAC/IP instead")


def _endpoint(box: Sandbox, text: str) -> tuple[str, str | None]:
    """``PORT``, ``MAC`` or ``MAC/IP``."""
    if text.count(":") == 5 or "/" in text:
        mac, _, ip = text.partition("/")
        return mac, ip or None
    return port_address(box, text)


@dataclass(frozen=True)
class Spec:
    proto: str
    fields: dict[str, str]


def parse_spec(text: str) -> Spec:
    """``PROTO [KEY=VALUE]...``: ``tcp dst=vm2 dport=80 flags=PA payload='GET /'``."""
    words = shlex.split(text)
    if not words or words[0] not in PROTOCOLS:
        raise SandboxError(f"a packet starts with one of {', '.join(PROTOCOLS)} (or is hex bytes): '{text}'")
    fields: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key not in KEYS:
            raise SandboxError(
                f"bad '{word}' in the packet: expected KEY=VALUE with KEY one of {', '.join(KEYS)}"
            )
        fields[key] = value
    if "dst" not in fields:
        raise SandboxError("the packet needs dst=PORT (or dst=MAC/IP)")
    return Spec(words[0], fields)


def build(box: Sandbox, port: str, text: str) -> bytes:
    """The frame that ``text`` describes, sent by ``port`` (hex bytes are taken as they are)."""
    compact = text.replace(" ", "")
    if compact and len(compact) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in compact):
        return bytes.fromhex(compact)
    spec = parse_spec(text)
    f = spec.fields
    src_mac, src_ip = _endpoint(box, f.get("src", port))
    dst_mac, dst_ip = _endpoint(box, f["dst"])
    if src_ip is None or dst_ip is None:
        raise SandboxError("both ends need an IP address: give src=MAC/IP or dst=MAC/IP")
    ttl, tos = int(f.get("ttl", "64")), int(f.get("dscp", "0")) << 2
    payload = f.get("payload", "").encode()
    if spec.proto == "icmp":
        return packets.icmp_echo(src_mac, dst_mac, src_ip, dst_ip, ttl=ttl, tos=tos)
    sport, dport = int(f.get("sport", "40000")), int(f.get("dport", "80"))
    if spec.proto == "udp":
        return packets.udp_datagram(
            src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload=payload, ttl=ttl, tos=tos
        )
    return packets.tcp_segment(
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        sport,
        dport,
        flags=f.get("flags", "S"),
        seq=int(f.get("seq", "1000")),
        ack=int(f.get("ack", "0")),
        payload=payload,
        ttl=ttl,
        tos=tos,
    )


_TCP_FLAGS = [(dpkt.tcp.TH_SYN, "S"), (dpkt.tcp.TH_FIN, "F"), (dpkt.tcp.TH_RST, "R")]
_TCP_FLAGS += [(dpkt.tcp.TH_PUSH, "P"), (dpkt.tcp.TH_ACK, "A")]


def describe(frame: bytes) -> str:
    """One readable line: ``MAC > MAC, tcp IP:PORT > IP:PORT [SA] ttl 64 dscp 0 'payload'``."""
    s = packets.summarize(frame)
    text = f"{s.eth_src} > {s.eth_dst}"
    if s.ip_src is None:
        eth_type = dpkt.ethernet.Ethernet(frame).type
        return f"{text}, type 0x{eth_type:04x}, {len(frame)} bytes"
    kind = {1: "icmp", 6: "tcp", 17: "udp"}.get(s.proto or 0, f"proto {s.proto}")
    if s.sport is not None:
        text += f", {kind} {s.ip_src}:{s.sport} > {s.ip_dst}:{s.dport}"
    else:
        text += f", {kind} {s.ip_src} > {s.ip_dst}"
    if s.proto == 6:
        flags = dpkt.ethernet.Ethernet(frame).data.data.flags
        text += " [" + "".join(name for bit, name in _TCP_FLAGS if flags & bit) + "]"
    if s.icmp_type is not None:
        text += f" type {s.icmp_type}"
    text += f" ttl {s.ttl} dscp {s.dscp}"
    if s.payload:
        text += f" {s.payload.decode(errors='replace')!r}"
    return text
