"""Ryu ofctl_rest's OpenFlow-field form of a flow -> OVN match and actions text (pure).

Applications written against an OpenFlow controller's REST API describe a
flow as ``{"match": {"eth_type": 2048, "ipv4_src": "10.0.0.5"}, "actions":
[{"type": "DROP"}]}``. This module turns such a flow into OVN's logical-flow
language. Every value is parsed and printed again (addresses through
:mod:`ipaddress`, MACs by pattern, ports as quoted strings), so no text of the
application's is ever pasted into a flow; the result then goes through the
same validation as any flow written in OVN's language.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ovn_inject.errors import OvnInjectError

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class OfctlError(OvnInjectError):
    """An OpenFlow-field flow that cannot be translated; ``field`` names the entry (HTTP 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Formatter = Callable[[Any, str], str]


def _integer(value: Any, where: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OfctlError(where, f"expected an integer, not {type(value).__name__}")
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            raise OfctlError(where, f"'{value}' is not an integer (decimal or 0x-hex)") from None
    if not 0 <= value < (1 << bits):
        raise OfctlError(where, f"{value} does not fit in {bits} bits")
    return value


def _int_field(bits: int) -> Formatter:
    """An integer, or ``"value/mask"`` as Ryu writes masked integers."""

    def fmt(value: Any, where: str) -> str:
        if isinstance(value, str) and "/" in value:
            raw_value, raw_mask = value.split("/", 1)
            number = _integer(raw_value, where, bits)
            mask = _integer(raw_mask, where, bits)
            return f"0x{number:x}/0x{mask:x}"
        return str(_integer(value, where, bits))

    return fmt


def _mac(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise OfctlError(where, "expected a MAC address string like 02:00:00:00:00:01")
    parts = value.split("/", 1)
    for part in parts:
        if not _MAC.match(part.strip()):
            raise OfctlError(where, f"'{part}' is not a MAC address like 02:00:00:00:00:01")
    return "/".join(p.strip().lower() for p in parts)


def _ip(version: int) -> Formatter:
    """An address, ``addr/prefix`` or ``addr/netmask`` of one IP version."""

    def fmt(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise OfctlError(where, f"expected an IPv{version} address string")
        text = value.strip()
        try:
            if "/" not in text:
                address = ipaddress.ip_address(text)
                if address.version != version:
                    raise ValueError
                return str(address)
            network = ipaddress.ip_network(text, strict=False)
            if network.version != version:
                raise ValueError
            return f"{network.network_address}/{network.prefixlen}"
        except ValueError:
            raise OfctlError(where, f"'{value}' is not an IPv{version} address or prefix") from None

    return fmt


def quote(name: str) -> str:
    """An OVN string constant."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _port(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OfctlError(where, "expected a logical port name (OVN ports have names, not numbers)")
    return quote(value)


@dataclass(frozen=True)
class OfField:
    ovn: str
    format: Formatter


_U = _int_field
#: OpenFlow 1.3 field names as ofctl_rest spells them (OpenFlow 1.0 names too) -> OVN field.
MATCH_FIELDS: dict[str, OfField] = {
    "in_port": OfField("inport", _port),
    "eth_src": OfField("eth.src", _mac),
    "eth_dst": OfField("eth.dst", _mac),
    "eth_type": OfField("eth.type", _U(16)),
    "vlan_vid": OfField("vlan.vid", _U(12)),
    "vlan_pcp": OfField("vlan.pcp", _U(3)),
    "ip_dscp": OfField("ip.dscp", _U(6)),
    "ip_ecn": OfField("ip.ecn", _U(2)),
    "ip_proto": OfField("ip.proto", _U(8)),
    "ipv4_src": OfField("ip4.src", _ip(4)),
    "ipv4_dst": OfField("ip4.dst", _ip(4)),
    "ipv6_src": OfField("ip6.src", _ip(6)),
    "ipv6_dst": OfField("ip6.dst", _ip(6)),
    "ipv6_flabel": OfField("ip6.label", _U(20)),
    "tcp_src": OfField("tcp.src", _U(16)),
    "tcp_dst": OfField("tcp.dst", _U(16)),
    "udp_src": OfField("udp.src", _U(16)),
    "udp_dst": OfField("udp.dst", _U(16)),
    "sctp_src": OfField("sctp.src", _U(16)),
    "sctp_dst": OfField("sctp.dst", _U(16)),
    "icmpv4_type": OfField("icmp4.type", _U(8)),
    "icmpv4_code": OfField("icmp4.code", _U(8)),
    "icmpv6_type": OfField("icmp6.type", _U(8)),
    "icmpv6_code": OfField("icmp6.code", _U(8)),
    "arp_op": OfField("arp.op", _U(16)),
    "arp_spa": OfField("arp.spa", _ip(4)),
    "arp_tpa": OfField("arp.tpa", _ip(4)),
    "arp_sha": OfField("arp.sha", _mac),
    "arp_tha": OfField("arp.tha", _mac),
    "ipv6_nd_target": OfField("nd.target", _ip(6)),
    "ipv6_nd_sll": OfField("nd.sll", _mac),
    "ipv6_nd_tll": OfField("nd.tll", _mac),
}
#: OpenFlow 1.0 spellings ofctl_rest also accepts.
ALIASES = {
    "dl_src": "eth_src",
    "dl_dst": "eth_dst",
    "dl_type": "eth_type",
    "dl_vlan": "vlan_vid",
    "dl_vlan_pcp": "vlan_pcp",
    "nw_src": "ipv4_src",
    "nw_dst": "ipv4_dst",
    "nw_proto": "ip_proto",
    "nw_tos": "ip_dscp",
}
#: Fields a SET_FIELD action may name (the policy still decides what a service may write).
SET_FIELDS = {
    name: MATCH_FIELDS[name]
    for name in (
        "eth_src",
        "eth_dst",
        "ip_dscp",
        "ip_ecn",
        "ipv4_src",
        "ipv4_dst",
        "ipv6_src",
        "ipv6_dst",
        "tcp_src",
        "tcp_dst",
        "udp_src",
        "udp_dst",
        "sctp_src",
        "sctp_dst",
    )
}
#: OpenFlow's "let the switch forward as usual" ports: in a hook, that is ``next;``.
CONTINUE_PORTS = frozenset({"NORMAL", "TABLE"})
MAX_MATCH_FIELDS = 64
MAX_ACTIONS = 64


def translate_match(match: Mapping[str, Any], where: str = "match") -> str:
    """``{"eth_type": 2048, "ipv4_src": "10.0.0.5"}`` -> ``eth.type == 0x800 && ip4.src == 10.0.0.5``."""
    if len(match) > MAX_MATCH_FIELDS:
        raise OfctlError(where, f"{len(match)} fields; at most {MAX_MATCH_FIELDS} are allowed")
    terms: list[str] = []
    seen: set[str] = set()
    for key, value in match.items():
        name = ALIASES.get(key, key)
        field = MATCH_FIELDS.get(name)
        if field is None:
            raise OfctlError(
                f"{where}.{key}", f"unknown OpenFlow match field; known: {', '.join(sorted(MATCH_FIELDS))}"
            )
        if name in seen:
            raise OfctlError(f"{where}.{key}", "given twice (directly and through its OpenFlow 1.0 alias)")
        seen.add(name)
        text = field.format(value, f"{where}.{key}")
        if name == "eth_type" and "/" not in text:
            text = f"0x{int(text):x}"
        terms.append(f"{field.ovn} == {text}")
    return " && ".join(terms) if terms else "1"


def translate_actions(actions: Sequence[Any], where: str = "actions") -> str:
    """``[{"type": "SET_FIELD", "field": "ip_dscp", "value": 46}, {"type": "OUTPUT", "port": "NORMAL"}]``.

    An empty list drops, as in OpenFlow.
    """
    if len(actions) > MAX_ACTIONS:
        raise OfctlError(where, f"{len(actions)} actions; at most {MAX_ACTIONS} are allowed")
    out: list[str] = []
    for index, action in enumerate(actions):
        at = f"{where}[{index}]"
        if not isinstance(action, Mapping) or not isinstance(action.get("type"), str):
            raise OfctlError(at, 'expected an object with a "type", like {"type": "DROP"}')
        out.extend(_action(action, at))
    return " ".join(out) if out else "drop;"


def _action(action: Mapping[str, Any], where: str) -> list[str]:
    kind = action["type"].upper()
    allowed = {"DROP": {"type"}, "OUTPUT": {"type", "port"}, "SET_FIELD": {"type", "field", "value"}}
    allowed["DEC_NW_TTL"] = {"type"}
    if kind not in allowed:
        raise OfctlError(
            f"{where}.type", f"'{action['type']}' is not supported; supported: {', '.join(sorted(allowed))}"
        )
    extra = sorted(set(action) - allowed[kind])
    if extra:
        raise OfctlError(where, f"unexpected key(s) {', '.join(extra)} for {kind}")
    if kind == "DROP":
        return ["drop;"]
    if kind == "DEC_NW_TTL":
        return ["ip.ttl--;"]
    if kind == "OUTPUT":
        port = action.get("port")
        if isinstance(port, str) and port.upper() in CONTINUE_PORTS:
            return ["next;"]
        return [f"outport = {_port(port, f'{where}.port')};", "output;"]
    name = action.get("field")
    field = SET_FIELDS.get(ALIASES.get(name, name)) if isinstance(name, str) else None
    if field is None:
        raise OfctlError(
            f"{where}.field", f"'{name}' cannot be set; settable: {', '.join(sorted(SET_FIELDS))}"
        )
    if "value" not in action:
        raise OfctlError(f"{where}.value", "missing")
    value = field.format(action["value"], f"{where}.value")
    if "/" in value:
        raise OfctlError(f"{where}.value", "SET_FIELD takes a value, not a mask or prefix")
    return [f"{field.ovn} = {value};"]
