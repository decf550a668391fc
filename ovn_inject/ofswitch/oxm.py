"""OpenFlow 1.3 matches as data: the OXM fields a hook can test, and how matches compare (pure).

A match is kept as its OXM fields, ``{field number: (value, mask)}`` with
integers, read straight from the TLVs of the wire. That form answers what
flow_mod needs without any library: equality (strict commands),
subsumption (non-strict MODIFY/DELETE and flow stats requests) and overlap
(OFPFF_CHECK_OVERLAP). The OVN field each OXM field becomes is declared in
:data:`FIELDS`, the one table the translator and TABLE_FEATURES read.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from os_ken.ofproto import ofproto_v1_3 as ofp

from ovn_inject.ofswitch.errors import OfError


@dataclass(frozen=True)
class Field:
    number: int
    name: str  # OpenFlow 1.3's (and os-ken's) name
    size: int  # bytes
    ovn: str  # OVN field; "" for in_port (a port name) and vlan_vid (special)
    kind: str  # "int", "mac", "ip4", "ip6", "port", "vlan"
    maskable: bool
    settable: bool = False


_F = Field
#: Every OXM field a service may match on, by number (OpenFlow 1.3 section 7.2.3.7).
FIELDS: dict[int, Field] = {
    f.number: f
    for f in (
        _F(ofp.OFPXMT_OFB_IN_PORT, "in_port", 4, "inport", "port", False),
        _F(ofp.OFPXMT_OFB_ETH_DST, "eth_dst", 6, "eth.dst", "mac", True, True),
        _F(ofp.OFPXMT_OFB_ETH_SRC, "eth_src", 6, "eth.src", "mac", True, True),
        _F(ofp.OFPXMT_OFB_ETH_TYPE, "eth_type", 2, "eth.type", "int", False),
        _F(ofp.OFPXMT_OFB_VLAN_VID, "vlan_vid", 2, "vlan.vid", "vlan", True),
        _F(ofp.OFPXMT_OFB_VLAN_PCP, "vlan_pcp", 1, "vlan.pcp", "int", False),
        _F(ofp.OFPXMT_OFB_IP_DSCP, "ip_dscp", 1, "ip.dscp", "int", False, True),
        _F(ofp.OFPXMT_OFB_IP_ECN, "ip_ecn", 1, "ip.ecn", "int", False, True),
        _F(ofp.OFPXMT_OFB_IP_PROTO, "ip_proto", 1, "ip.proto", "int", False),
        _F(ofp.OFPXMT_OFB_IPV4_SRC, "ipv4_src", 4, "ip4.src", "ip4", True, True),
        _F(ofp.OFPXMT_OFB_IPV4_DST, "ipv4_dst", 4, "ip4.dst", "ip4", True, True),
        _F(ofp.OFPXMT_OFB_TCP_SRC, "tcp_src", 2, "tcp.src", "int", False, True),
        _F(ofp.OFPXMT_OFB_TCP_DST, "tcp_dst", 2, "tcp.dst", "int", False, True),
        _F(ofp.OFPXMT_OFB_UDP_SRC, "udp_src", 2, "udp.src", "int", False, True),
        _F(ofp.OFPXMT_OFB_UDP_DST, "udp_dst", 2, "udp.dst", "int", False, True),
        _F(ofp.OFPXMT_OFB_SCTP_SRC, "sctp_src", 2, "sctp.src", "int", False, True),
        _F(ofp.OFPXMT_OFB_SCTP_DST, "sctp_dst", 2, "sctp.dst", "int", False, True),
        _F(ofp.OFPXMT_OFB_ICMPV4_TYPE, "icmpv4_type", 1, "icmp4.type", "int", False),
        _F(ofp.OFPXMT_OFB_ICMPV4_CODE, "icmpv4_code", 1, "icmp4.code", "int", False),
        _F(ofp.OFPXMT_OFB_ARP_OP, "arp_op", 2, "arp.op", "int", False),
        _F(ofp.OFPXMT_OFB_ARP_SPA, "arp_spa", 4, "arp.spa", "ip4", True),
        _F(ofp.OFPXMT_OFB_ARP_TPA, "arp_tpa", 4, "arp.tpa", "ip4", True),
        _F(ofp.OFPXMT_OFB_ARP_SHA, "arp_sha", 6, "arp.sha", "mac", True),
        _F(ofp.OFPXMT_OFB_ARP_THA, "arp_tha", 6, "arp.tha", "mac", True),
        _F(ofp.OFPXMT_OFB_IPV6_SRC, "ipv6_src", 16, "ip6.src", "ip6", True, True),
        _F(ofp.OFPXMT_OFB_IPV6_DST, "ipv6_dst", 16, "ip6.dst", "ip6", True, True),
        _F(ofp.OFPXMT_OFB_IPV6_FLABEL, "ipv6_flabel", 4, "ip6.label", "int", True),
        _F(ofp.OFPXMT_OFB_ICMPV6_TYPE, "icmpv6_type", 1, "icmp6.type", "int", False),
        _F(ofp.OFPXMT_OFB_ICMPV6_CODE, "icmpv6_code", 1, "icmp6.code", "int", False),
        _F(ofp.OFPXMT_OFB_IPV6_ND_TARGET, "ipv6_nd_target", 16, "nd.target", "ip6", False),
        _F(ofp.OFPXMT_OFB_IPV6_ND_SLL, "ipv6_nd_sll", 6, "nd.sll", "mac", False),
        _F(ofp.OFPXMT_OFB_IPV6_ND_TLL, "ipv6_nd_tll", 6, "nd.tll", "mac", False),
    )
}
FIELDS_BY_NAME = {f.name: f for f in FIELDS.values()}

ETH_IP4, ETH_IP6, ETH_ARP = 0x0800, 0x86DD, 0x0806
_IP = (ETH_IP4, ETH_IP6)
#: OpenFlow's prerequisites: field -> (the field it needs, the values that field may have).
PREREQUISITES: dict[str, tuple[str, tuple[int, ...]]] = {
    "ip_dscp": ("eth_type", _IP),
    "ip_ecn": ("eth_type", _IP),
    "ip_proto": ("eth_type", _IP),
    "ipv4_src": ("eth_type", (ETH_IP4,)),
    "ipv4_dst": ("eth_type", (ETH_IP4,)),
    "ipv6_src": ("eth_type", (ETH_IP6,)),
    "ipv6_dst": ("eth_type", (ETH_IP6,)),
    "ipv6_flabel": ("eth_type", (ETH_IP6,)),
    "tcp_src": ("ip_proto", (6,)),
    "tcp_dst": ("ip_proto", (6,)),
    "udp_src": ("ip_proto", (17,)),
    "udp_dst": ("ip_proto", (17,)),
    "sctp_src": ("ip_proto", (132,)),
    "sctp_dst": ("ip_proto", (132,)),
    "icmpv4_type": ("ip_proto", (1,)),
    "icmpv4_code": ("ip_proto", (1,)),
    "icmpv6_type": ("ip_proto", (58,)),
    "icmpv6_code": ("ip_proto", (58,)),
    "arp_op": ("eth_type", (ETH_ARP,)),
    "arp_spa": ("eth_type", (ETH_ARP,)),
    "arp_tpa": ("eth_type", (ETH_ARP,)),
    "arp_sha": ("eth_type", (ETH_ARP,)),
    "arp_tha": ("eth_type", (ETH_ARP,)),
    "ipv6_nd_target": ("icmpv6_type", (135, 136)),
    "ipv6_nd_sll": ("icmpv6_type", (135,)),
    "ipv6_nd_tll": ("icmpv6_type", (136,)),
}

#: {field number: (value, mask)}; an exact field has an all-ones mask.
Match = Mapping[int, tuple[int, int]]
EMPTY_MATCH_BYTES = struct.pack("!HH4x", ofp.OFPMT_OXM, 4)


def full_mask(field: Field) -> int:
    return (1 << (8 * field.size)) - 1


def parse_match(data: bytes) -> tuple[dict[int, tuple[int, int]], int]:
    """An ofp_match at the start of ``data`` -> its fields and its padded length on the wire."""
    if len(data) < 4:
        raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_LEN, "the match is truncated")
    kind, length = struct.unpack_from("!HH", data)
    if kind != ofp.OFPMT_OXM:
        raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_TYPE, f"match type {kind} is not OXM")
    padded = (length + 7) // 8 * 8
    if length < 4 or padded > len(data):
        raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_LEN, f"match length {length} does not fit")
    fields: dict[int, tuple[int, int]] = {}
    offset = 4
    while offset < length:
        if offset + 4 > length:
            raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_LEN, "an OXM header is truncated")
        (header,) = struct.unpack_from("!I", data, offset)
        oxm_class, number, masked, size = header >> 16, (header >> 9) & 0x7F, (header >> 8) & 1, header & 0xFF
        offset += 4
        if offset + size > length:
            raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_LEN, "an OXM value runs past the match")
        field = FIELDS.get(number) if oxm_class == ofp.OFPXMC_OPENFLOW_BASIC else None
        if field is None:
            raise OfError(
                ofp.OFPET_BAD_MATCH,
                ofp.OFPBMC_BAD_FIELD,
                f"OXM field {oxm_class:#x}:{number} is not available at a hook",
            )
        if size != field.size * (2 if masked else 1):
            raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_LEN, f"{field.name}: length {size}")
        if masked and not field.maskable:
            raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_MASK, f"{field.name} cannot be masked")
        if number in fields:
            raise OfError(ofp.OFPET_BAD_MATCH, ofp.OFPBMC_DUP_FIELD, f"{field.name} given twice")
        value = int.from_bytes(data[offset : offset + field.size], "big")
        mask = (
            int.from_bytes(data[offset + field.size : offset + size], "big") if masked else full_mask(field)
        )
        offset += size
        if value & ~mask:
            raise OfError(
                ofp.OFPET_BAD_MATCH,
                ofp.OFPBMC_BAD_WILDCARDS,
                f"{field.name}: value has bits outside its mask",
            )
        if mask:
            fields[number] = (value, mask)
    _check_prerequisites(fields)
    return fields, padded


def _check_prerequisites(fields: Match) -> None:
    by_name = {FIELDS[n].name: v for n, v in fields.items()}
    for name in by_name:
        prerequisite = PREREQUISITES.get(name)
        if prerequisite is None:
            continue
        needed, values = prerequisite
        got = by_name.get(needed)
        if got is None or got[1] != full_mask(FIELDS_BY_NAME[needed]) or got[0] not in values:
            wanted = " or ".join(f"{v:#x}" if needed == "eth_type" else str(v) for v in values)
            raise OfError(
                ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_PREREQ, f"{name} needs {needed}={wanted} in the match"
            )


def covers(wide: Match, narrow: Match) -> bool:
    """Whether every packet ``narrow`` matches is matched by ``wide`` (non-strict selection)."""
    for number, (value, mask) in wide.items():
        got = narrow.get(number)
        if got is None or got[1] & mask != mask or got[0] & mask != value:
            return False
    return True


def overlaps(a: Match, b: Match) -> bool:
    """Whether some packet could match both."""
    for number in a.keys() & b.keys():
        (va, ma), (vb, mb) = a[number], b[number]
        common = ma & mb
        if va & common != vb & common:
            return False
    return True


def same(a: Match, b: Match) -> bool:
    return dict(a) == dict(b)
