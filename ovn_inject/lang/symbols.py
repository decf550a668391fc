"""The symbol table of OVN 23.03's logical-flow language, as data (after lib/logical-fields.c).

Levels follow lib/expr.c: a field OpenFlow can mask bitwise is *ordinal* (any
operator, subfields), one it cannot is *nominal* (only ``==``, no subfields),
and a predicate's level comes from its expansion (*boolean* when it only tests
ordinal bits). ``kind`` says which address constants a field takes (our
stricter rule; OVN reinterprets e.g. an IPv4 address in a MAC field).
``write`` is the action scope in which a field may be assigned: "default"
(anywhere), "ct_commit" (only inside ``ct_commit { }``) or None (read-only).

This module holds the base table (OVN 23.03); :mod:`releases` derives the
table of every later release from it by adding, removing and changing symbols.
Every release from 23.03 to 26.03 has 10 logical registers: reg0-reg9,
xreg0-xreg4, xxreg0-xxreg1.
"""

from __future__ import annotations

from collections.abc import Mapping

from ovn_inject.records import record, replace

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Literal

    Level = Literal["ordinal", "nominal", "boolean"]
    Kind = Literal["int", "mac", "ipv4", "ipv6", "any", "string"]
    WriteScope = Literal["default", "ct_commit"] | None

#: Highest logical table id + 1 that ``next(N)`` may reach (LOG_PIPELINE_LEN in 23.03).
PIPELINE_TABLES = 29

#: Number of 32-bit logical registers (MFF_N_LOG_REGS in 23.03).
LOGICAL_REGISTERS = 10


@record(frozen=True, slots=True)
class Symbol:
    name: str
    width: int  # 0 for the string fields inport/outport
    level: Level
    kind: Kind = "int"
    prereqs: str | None = None
    write: WriteScope = "default"
    parent: str | None = None  # subfield of parent[parent_ofs .. parent_ofs+width-1]
    parent_ofs: int = 0
    predicate: str | None = None  # expansion of a predicate
    action_only: bool = False  # OVN-only field (icmp4.frag_mtu): assignable, never matched
    match_dropped: bool = False  # ovn-controller 23.03.1 silently leaves a match on it out
    register: int | None = None  # a string field stored in logical register reg<register>

    @property
    def is_string(self) -> bool:
        return self.width == 0

    @property
    def maskable(self) -> bool:
        return self.level == "ordinal"


SymbolTable = dict[str, Symbol]

SYMBOLS: SymbolTable = {}


def field(
    name: str,
    width: int,
    maskable: bool,
    prereqs: str | None = None,
    kind: Kind = "int",
    write: WriteScope = "default",
) -> Symbol:
    """A root field (it names an OpenFlow field of its own)."""
    return Symbol(name, width, "ordinal" if maskable else "nominal", kind, prereqs, write)


def subfield(
    table: SymbolTable, name: str, parent: str, low: int, high: int, prereqs: str | None = None
) -> Symbol:
    """``parent[low..high]`` under its own name; it inherits level, kind and write scope."""
    p = table[parent]
    return Symbol(name, high - low + 1, p.level, p.kind, prereqs, p.write, parent=parent, parent_ofs=low)


def predicate(name: str, expansion: str, level: Level) -> Symbol:
    return Symbol(name, 1, level, "int", None, None, predicate=expansion)


def _field(
    name: str,
    width: int,
    maskable: bool,
    prereqs: str | None = None,
    kind: Kind = "int",
    write: WriteScope = "default",
) -> None:
    SYMBOLS[name] = field(name, width, maskable, prereqs, kind, write)


def _sub(name: str, parent: str, low: int, high: int, prereqs: str | None = None) -> None:
    SYMBOLS[name] = subfield(SYMBOLS, name, parent, low, high, prereqs)


def _pred(name: str, expansion: str, level: Level) -> None:
    SYMBOLS[name] = predicate(name, expansion, level)


SYMBOLS["inport"] = Symbol("inport", 0, "nominal", "string")
SYMBOLS["outport"] = Symbol("outport", 0, "nominal", "string")

# Registers: xxregN holds reg(4N)..reg(4N+3) with reg(4N) in its most significant word.
for _xx in range(LOGICAL_REGISTERS // 4):
    _field(f"xxreg{_xx}", 128, True, kind="any")
for _x in range(LOGICAL_REGISTERS // 2):
    if _x // 2 < LOGICAL_REGISTERS // 4:
        _lsb = 64 * (1 - _x % 2)
        _sub(f"xreg{_x}", f"xxreg{_x // 2}", _lsb, _lsb + 63)
    else:
        _field(f"xreg{_x}", 64, True, kind="any")
for _r in range(LOGICAL_REGISTERS):
    if _r // 4 < LOGICAL_REGISTERS // 4:
        _lsb = 32 * (3 - _r % 4)
        _sub(f"reg{_r}", f"xxreg{_r // 4}", _lsb, _lsb + 31)
    else:
        _lsb = 32 * (1 - _r % 2)
        _sub(f"reg{_r}", f"xreg{_r // 2}", _lsb, _lsb + 31)

_field("flags", 32, True)
for _name, _bit in (
    ("loopback", 0),
    ("force_snat_for_dnat", 2),
    ("force_snat_for_lb", 3),
    ("skip_snat_for_lb", 9),
    ("use_snat_zone", 11),
):
    _sub(f"flags.{_name}", "flags", _bit, _bit)

_field("ct_mark", 32, True, kind="any", write="ct_commit")
_sub("ct_mark.blocked", "ct_mark", 0, 0)
_sub("ct_mark.natted", "ct_mark", 1, 1)
_sub("ct_mark.ecmp_reply_port", "ct_mark", 16, 31)
_sub("ct_mark.skip_snat", "ct_mark", 2, 2)
_sub("ct_mark.force_snat", "ct_mark", 3, 3)
_field("ct_label", 128, True, kind="any", write="ct_commit")
_sub("ct_label.blocked", "ct_label", 0, 0)
_sub("ct_label.natted", "ct_label", 1, 1)
_sub("ct_label.ecmp_reply_eth", "ct_label", 32, 79)
_sub("ct_label.ecmp_reply_port", "ct_label", 80, 95)
_sub("ct_label.label", "ct_label", 96, 127)
_sub("ct_label.skip_snat", "ct_label", 2, 2)
_sub("ct_label.force_snat", "ct_label", 3, 3)

_field("ct_state", 32, True, write=None)
for _name, _bit in (
    ("new", 0),
    ("est", 1),
    ("rel", 2),
    ("rpl", 3),
    ("inv", 4),
    ("trk", 5),
    ("snat", 6),
    ("dnat", 7),
):
    _sub(f"ct.{_name}", "ct_state", _bit, _bit, None if _name == "trk" else "ct.trk")

_field("eth.src", 48, True, kind="mac")
_field("eth.dst", 48, True, kind="mac")
_field("eth.type", 16, False, write=None)
_pred("eth.bcast", "eth.dst == ff:ff:ff:ff:ff:ff", "boolean")
_sub("eth.mcast", "eth.dst", 40, 40)
_pred("eth.mcastv6", "eth.dst[32..47] == 0x3333", "boolean")

_field("vlan.tci", 16, True)
_pred("vlan.present", "vlan.tci[12]", "boolean")
_sub("vlan.pcp", "vlan.tci", 13, 15, "vlan.present")
_sub("vlan.vid", "vlan.tci", 0, 11, "vlan.present")

_pred("ip4", "eth.type == 0x800", "nominal")
_pred("ip6", "eth.type == 0x86dd", "nominal")
_pred("ip", "ip4 || ip6", "nominal")
_field("ip.proto", 8, False, "ip", write=None)
_field("ip.dscp", 6, False, "ip")
_field("ip.ecn", 2, False, "ip")
_field("ip.ttl", 8, False, "ip")

_field("ip4.src", 32, True, "ip4", kind="ipv4")
_field("ip4.dst", 32, True, "ip4", kind="ipv4")
_pred("ip4.src_mcast", "ip4.src[28..31] == 0xe", "boolean")
_pred("ip4.mcast", "eth.mcast && ip4.dst[28..31] == 0xe", "boolean")

_pred("icmp4", "ip4 && ip.proto == 1", "nominal")
_field("icmp4.type", 8, False, "icmp4")
_field("icmp4.code", 8, False, "icmp4")
_pred("igmp", "ip4 && ip.proto == 2", "nominal")

_field("ip6.src", 128, True, "ip6", kind="ipv6")
_field("ip6.dst", 128, True, "ip6", kind="ipv6")
_field("ip6.label", 20, True, "ip6")
_pred("ip6.mcast_rsvd", "ip6.dst[116..127] == 0xff0 && ip6.dst[0..111] == 0x0", "boolean")
_pred("ip6.mcast_all_nodes", "ip6.dst == ff01::1 || ip6.dst == ff02::1", "boolean")
_pred("ip6.mcast_all_rtrs", "ip6.dst == ff01::2 || ip6.dst == ff02::2 || ip6.dst == ff05::2", "boolean")
_pred("ip6.mcast_sol_node", "ip6.dst == ff02::1:ff00:0000/104", "boolean")
_pred(
    "ip6.mcast_flood",
    "eth.mcastv6 && (ip6.mcast_rsvd || ip6.mcast_all_nodes || ip6.mcast_all_rtrs || ip6.mcast_sol_node)",
    "boolean",
)
_pred("ip6.mcast", "eth.mcastv6 && ip6.dst[120..127] == 0xff", "boolean")

_pred("icmp6", "ip6 && ip.proto == 58", "nominal")
_field("icmp6.type", 8, False, "icmp6")
_field("icmp6.code", 8, False, "icmp6")
_pred("icmp", "icmp4 || icmp6", "nominal")

_field("ip.frag", 2, True, "ip", write=None)
_pred("ip.is_frag", "ip.frag[0]", "boolean")
_pred("ip.later_frag", "ip.frag[1]", "boolean")
_pred("ip.first_frag", "ip.is_frag && !ip.later_frag", "boolean")

for _proto, _type in (("arp", "0x806"), ("rarp", "0x8035")):
    _pred(_proto, f"eth.type == {_type}", "nominal")
    _field(f"{_proto}.op", 16, False, _proto)
    _field(f"{_proto}.spa", 32, True, _proto, kind="ipv4")
    _field(f"{_proto}.sha", 48, True, _proto, kind="mac")
    _field(f"{_proto}.tpa", 32, True, _proto, kind="ipv4")
    _field(f"{_proto}.tha", 48, True, _proto, kind="mac")

_pred("nd", "icmp6.type == {135, 136} && icmp6.code == 0 && ip.ttl == 255", "nominal")
_pred("nd_ns", "icmp6.type == 135 && icmp6.code == 0 && ip.ttl == 255", "nominal")
_pred("nd_na", "icmp6.type == 136 && icmp6.code == 0 && ip.ttl == 255", "nominal")
_pred("nd_rs", "icmp6.type == 133 && icmp6.code == 0 && ip.ttl == 255", "nominal")
_pred("nd_ra", "icmp6.type == 134 && icmp6.code == 0 && ip.ttl == 255", "nominal")
_field("nd.target", 128, True, "nd", kind="ipv6")
_field("nd.sll", 48, True, "nd_ns", kind="mac")
_field("nd.tll", 48, True, "nd_na", kind="mac")
_pred("mldv1", "ip6.src == fe80::/10 && icmp6.type == {130, 131, 132}", "nominal")
_pred("mldv2", "ip6.dst == ff02::16 && icmp6.type == 143", "nominal")

_pred("tcp", "ip.proto == 6", "nominal")
_field("tcp.src", 16, True, "tcp")
_field("tcp.dst", 16, True, "tcp")
_field("tcp.flags", 12, True, "tcp", write=None)
_pred("udp", "ip.proto == 17", "nominal")
_field("udp.src", 16, True, "udp")
_field("udp.dst", 16, True, "udp")
_pred("sctp", "ip.proto == 132", "nominal")
_field("sctp.src", 16, True, "sctp")
_field("sctp.dst", 16, True, "sctp")

_field("pkt.mark", 32, True)

# OVN-only fields, written by actions inside icmp4/icmp6 error replies. OVN's
# parser accepts them in a match too, but ovn-controller 23.03.1 then stops
# processing (measured by tests/integration/test_lang_ovn.py): refuse that.
# Measured on ovn-controller 23.03.1: a match on ip.dscp or ip.ecn is left out of
# the OpenFlow flow (``ip.dscp == 10 && udp`` matches every UDP packet), while
# assigning them works. Newer releases may fix it; until then we refuse the match.
for _name in ("ip.dscp", "ip.ecn"):
    SYMBOLS[_name] = replace(SYMBOLS[_name], match_dropped=True)

SYMBOLS["icmp4.frag_mtu"] = Symbol("icmp4.frag_mtu", 16, "nominal", action_only=True)
SYMBOLS["icmp6.frag_mtu"] = Symbol("icmp6.frag_mtu", 32, "nominal", action_only=True)


def lookup(name: str, table: Mapping[str, Symbol] | None = None) -> Symbol | None:
    return (SYMBOLS if table is None else table).get(name)


def resolve(
    name: str, low: int, high: int, table: Mapping[str, Symbol] | None = None
) -> tuple[Symbol, int, int]:
    """The root (non-subfield) symbol and bit range that ``name[low..high]`` occupies."""
    known = SYMBOLS if table is None else table
    symbol = known[name]
    while symbol.parent is not None:
        low += symbol.parent_ofs
        high += symbol.parent_ofs
        symbol = known[symbol.parent]
    return symbol, low, high


def register_of(root: str, bit: int) -> tuple[int, int] | None:
    """Which 32-bit register (index, bit) holds ``bit`` of root register field ``root``."""
    if root.startswith("xxreg"):
        return 4 * int(root[5:]) + 3 - bit // 32, bit % 32
    if root.startswith("xreg"):
        return 2 * int(root[4:]) + 1 - bit // 32, bit % 32
    return None
