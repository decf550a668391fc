"""The language of each OVN release, as data: the 23.03 base plus what every later release changes.

Each :class:`Delta` lists what one x.y release adds, removes or redefines
compared with the one before, read from OVN's sources at its tag
(lib/logical-fields.c, include/ovn/logical-fields.h, lib/actions.c,
lib/ovn-util.h). :data:`RELEASES` folds the deltas into one :class:`Release`
per x.y release. 23.03, 24.03, 25.03 and 26.03 are the supported (tested)
releases; the .09 ones in between are kept so a table exists for every SB
schema version from 23.03 on.

Not modelled: ovn-northd's separate symbol table for ACL matches (26.03's
``ovn_init_acl_ct_symtab``): it never reaches the Southbound database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ovn_inject.lang import symbols
from ovn_inject.lang.ast import FieldRef
from ovn_inject.lang.errors import ReleaseError
from ovn_inject.lang.symbols import LOGICAL_REGISTERS, Symbol, SymbolTable
from ovn_inject.records import field, record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Literal

    ArgsRule = Literal["none", "optional", "required"]
    #: (parentheses, nested block: None / "optional" / "required", scope inside the block).
    ActionRule = tuple[ArgsRule, str | None, str]

#: OVN 23.03's actions beyond the fully modelled ones (next, output, ip.ttl--, assignments, clone).
BASE_ACTIONS: dict[str, ActionRule] = {
    "push": ("required", None, ""),
    "pop": ("required", None, ""),
    "ct_next": ("none", None, ""),
    "ct_commit": ("optional", "optional", "ct_commit"),
    "ct_dnat": ("optional", None, ""),
    "ct_snat": ("optional", None, ""),
    "ct_dnat_in_czone": ("optional", None, ""),
    "ct_snat_in_czone": ("optional", None, ""),
    "ct_lb": ("optional", None, ""),
    "ct_lb_mark": ("optional", None, ""),
    "ct_clear": ("none", None, ""),
    "ct_commit_nat": ("none", None, ""),
    "ct_snat_to_vip": ("none", None, ""),
    "arp": ("none", "required", "inherit"),
    "icmp4": ("none", "required", "inherit"),
    "icmp4_error": ("none", "required", "inherit"),
    "icmp6": ("none", "required", "inherit"),
    "icmp6_error": ("none", "required", "inherit"),
    "igmp": ("none", None, ""),
    "tcp_reset": ("none", "required", "inherit"),
    "sctp_abort": ("none", "required", "inherit"),
    "nd_na": ("none", "required", "inherit"),
    "nd_na_router": ("none", "required", "inherit"),
    "nd_ns": ("none", "required", "inherit"),
    "reject": ("none", "required", "inherit"),
    "get_arp": ("required", None, ""),
    "put_arp": ("required", None, ""),
    "get_nd": ("required", None, ""),
    "put_nd": ("required", None, ""),
    "set_queue": ("required", None, ""),
    "log": ("optional", None, ""),
    "set_meter": ("required", None, ""),
    "trigger_event": ("required", None, ""),
    "bind_vport": ("required", None, ""),
    "handle_svc_check": ("required", None, ""),
    "fwd_group": ("required", None, ""),
    "handle_dhcpv6_reply": ("none", None, ""),
    "handle_bfd_msg": ("required", None, ""),
    "put_fdb": ("required", None, ""),
    "commit_ecmp_nh": ("required", None, ""),
    "commit_lb_aff": ("required", None, ""),
    "sample": ("required", None, ""),
}

#: OVN 23.03's functions: actions of the form ``field = name(args);``.
BASE_FUNCTIONS = frozenset(
    (
        "select",
        "put_dhcp_opts",
        "put_dhcpv6_opts",
        "dns_lookup",
        "put_nd_ra_opts",
        "check_pkt_larger",
        "lookup_arp",
        "lookup_nd",
        "lookup_arp_ip",
        "lookup_nd_ip",
        "chk_lb_hairpin",
        "chk_lb_hairpin_reply",
        "get_fdb",
        "lookup_fdb",
        "check_in_port_sec",
        "check_out_port_sec",
        "chk_ecmp_nh_mac",
        "chk_ecmp_nh",
        "chk_lb_aff",
    )
)

#: Registers an action writes without naming them (MFF_LOG_* in include/ovn/logical-fields.h):
#: in 23.03 the LB affinity lookup loads the backend into reg4 / xxreg0 (switches) /
#: xxreg1 (routers) and its port into reg8[0..15].
BASE_IMPLICIT_WRITES: dict[str, tuple[FieldRef, ...]] = {
    "chk_lb_aff": (FieldRef("reg4"), FieldRef("xxreg0"), FieldRef("xxreg1"), FieldRef("reg8", 0, 15)),
}

SymbolSpec = Callable[[SymbolTable], Symbol]


def sub(name: str, parent: str, low: int, high: int | None = None) -> SymbolSpec:
    """A subfield ``parent[low..high]`` (one bit when high is None)."""
    return lambda table: symbols.subfield(table, name, parent, low, low if high is None else high)


def pred(name: str, expansion: str, level: symbols.Level = "nominal") -> SymbolSpec:
    return lambda table: symbols.predicate(name, expansion, level)


def string_field(name: str, register: int) -> SymbolSpec:
    """A port-name field that overlays logical register ``reg<register>``."""
    return lambda table: Symbol(name, 0, "nominal", "string", register=register)


@record(frozen=True)
class Delta:
    """What one release changes compared with the previous one."""

    name: str
    schema: str  # OVN_Southbound schema version at its x.y.0 tag
    symbols: tuple[SymbolSpec, ...] = ()  # added or redefined
    removed: tuple[str, ...] = ()
    moved: Mapping[str, str] = field(default_factory=dict)  # removed name -> what replaces it
    actions: Mapping[str, ActionRule] = field(default_factory=dict)  # added or redefined
    functions: tuple[str, ...] = ()
    tables: tuple[int, int] | None = None  # (ingress, egress) logical tables
    implicit_writes: Mapping[str, tuple[FieldRef, ...]] = field(default_factory=dict)
    log_verdicts: tuple[str, ...] = ()
    features: tuple[str, ...] = ()  # syntax variants the argument checks ask about
    tested: bool = False


_LB_AFF_25_03 = (
    # 25.03 consolidated the registers (reg4, xxreg1, reg2); ovn-controller still writes the
    # old ones (xxreg0, reg8) for a northd that has not, so both count.
    FieldRef("reg4"),
    FieldRef("xxreg0"),
    FieldRef("xxreg1"),
    FieldRef("reg2", 0, 15),
    FieldRef("reg8", 0, 15),
)

_MOVED_24_09 = (
    "ct_label.blocked",
    "ct_label.natted",
    "ct_label.skip_snat",
    "ct_label.force_snat",
    "ct_label.ecmp_reply_port",
)

BASE = Delta("23.03", "20.27.0", tables=(29, 29), log_verdicts=("drop", "reject", "allow"), tested=True)

DELTAS: tuple[Delta, ...] = (
    Delta("23.09", "20.27.4", actions={"mac_cache_use": ("none", None, "")}),
    Delta(
        "24.03",
        "20.33.0",
        symbols=(
            sub("flags.localnet", "flags", 15),
            sub("flags.tunnel_rx", "flags", 16),
            sub("flags.icmp_snat", "flags", 17),
        ),
        actions={"ct_commit_nat": ("optional", None, "")},  # ct_commit_nat(dnat|snat)
        tested=True,
    ),
    Delta(
        "24.09",
        "20.37.0",
        symbols=(
            sub("ct_mark.obs_stage", "ct_mark", 4, 5),
            sub("ct_mark.obs_collector_id", "ct_mark", 16, 23),
            sub("ct_label.obs_point_id", "ct_label", 96, 127),
            sub("ct_label.obs_unused", "ct_label", 0, 95),
            pred("igmp", "ip4.mcast && ip.proto == 2"),
            pred("nd_ns_mcast", "ip6.mcast && icmp6.type == 135 && icmp6.code == 0 && ip.ttl == 255"),
            pred("mldv1", "eth.mcastv6 && ip6.src == fe80::/10 && icmp6.type == {130, 131, 132}"),
            pred("mldv2", "eth.mcastv6 && ip6.dst == ff02::16 && icmp6.type == 143"),
        ),
        # the copies in ct_label of ct_mark's flags are gone (ct_mark.blocked, .natted ... stay)
        removed=_MOVED_24_09,
        moved={name: name.replace("ct_label.", "ct_mark.") for name in _MOVED_24_09},
        actions={
            "ct_commit": ("none", "optional", "ct_commit"),  # the ct_commit(...) form is gone
            "ct_commit_to_zone": ("required", None, ""),
        },
        functions=("dhcp_relay_req_chk", "dhcp_relay_resp_chk"),
        tables=(30, 30),
        log_verdicts=("pass",),
    ),
    Delta(
        "25.03",
        "20.41.0",
        symbols=(
            sub("flags.from_ctrl", "flags", 19),
            sub("flags.unsnat_new", "flags", 20),
            sub("flags.unsnat_not_tracked", "flags", 21),
            sub("ct_mark.allow_established", "ct_mark", 6),
            sub("ct_label.acl_id", "ct_label", 80, 95),
        ),
        actions={"flood_remote": ("none", None, ""), "ct_next": ("optional", None, "")},  # ct_next(dnat|snat)
        features=("select_values",),  # select(values=(...); hash_fields="...")
        functions=("ct_nw_dst", "ct_ip6_dst", "ct_tp_dst"),
        implicit_writes={
            "chk_lb_aff": _LB_AFF_25_03,
            # scratch registers the result passes through (MFF_LOG_CT_ORIG_*)
            "ct_nw_dst": (FieldRef("reg1"),),
            "ct_ip6_dst": (FieldRef("xxreg1"),),
            "ct_tp_dst": (FieldRef("reg2", 0, 15),),
        },
        tested=True,
    ),
    Delta(
        "25.09",
        "21.5.0",
        symbols=(
            string_field("remote_outport", 1),
            sub("flags.igmp_loopback", "flags", 22),
            sub("flags.network_id", "flags", 28, 31),
            pred(
                "ip6.mcast_rsvd",
                "ip6.dst == {ff00::0, ff01::0, ff02::0, ff03::0, ff04::0, ff05::0, ff06::0, ff07::0,"
                " ff08::0, ff09::0, ff0a::0, ff0b::0, ff0c::0, ff0d::0, ff0e::0, ff0f::0}",
                "boolean",
            ),
        ),
        actions={"mirror": ("required", None, "")},
        functions=("ct_proto", "ct_state_save", "get_remote_fdb"),
        tables=(32, 14),
        implicit_writes={
            # the ct_*_dst results now pass through xxreg1, saved and restored around it
            "ct_nw_dst": (),
            "ct_ip6_dst": (),
            "ct_tp_dst": (),
            "ct_state_save": (FieldRef("reg4", 0, 7),),  # MFF_LOG_CT_SAVED_STATE
            "get_remote_fdb": (FieldRef("reg1"),),  # MFF_LOG_REMOTE_OUTPORT
        },
    ),
    Delta(
        "26.03",
        "21.8.0",
        symbols=(
            sub("flags.pkt_sampled", "flags", 23),
            sub("ct_label.nf", "ct_label", 7),
            sub("ct_label.nf_id", "ct_label", 17, 24),
            sub("ct_label.tun_if", "ct_label", 8),
            sub("ct_label.tun_if_id", "ct_label", 80, 95),
        ),
        actions={"ct_lb_mark_local": ("optional", None, "")},
        tables=(34, 16),
        tested=True,
    ),
)


@record(frozen=True, eq=False)
class Release:
    """Everything the parser needs to know about one OVN release's language."""

    name: str  # "26.03"
    schema: tuple[int, int, int]
    symbols: Mapping[str, Symbol]
    actions: Mapping[str, ActionRule]
    functions: frozenset[str]
    ingress_tables: int
    egress_tables: int
    implicit_writes: Mapping[str, tuple[FieldRef, ...]]
    log_verdicts: frozenset[str]
    tested: bool
    moved: Mapping[str, str]
    features: frozenset[str]
    registers: int = LOGICAL_REGISTERS

    @property
    def key(self) -> tuple[int, int]:
        major, minor = self.name.split(".")
        return int(major), int(minor)

    def tables(self, pipeline: str | None) -> int:
        """How many logical tables ``next(pipeline=..., table=N)`` may reach (the larger if unknown)."""
        if pipeline == "egress":
            return self.egress_tables
        if pipeline == "ingress":
            return self.ingress_tables
        return max(self.ingress_tables, self.egress_tables)

    def __repr__(self) -> str:
        return f"Release({self.name!r})"


def _schema(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


def _build() -> dict[str, Release]:
    table: SymbolTable = dict(symbols.SYMBOLS)
    actions = dict(BASE_ACTIONS)
    functions = set(BASE_FUNCTIONS)
    writes = dict(BASE_IMPLICIT_WRITES)
    verdicts = set(BASE.log_verdicts)
    moved: dict[str, str] = {}
    features: set[str] = set()
    tables = BASE.tables
    built: dict[str, Release] = {}
    for delta in (BASE, *DELTAS):
        for name in delta.removed:
            del table[name]
        for spec in delta.symbols:
            symbol = spec(table)
            table[symbol.name] = symbol
        actions.update(delta.actions)
        functions.update(delta.functions)
        writes.update(delta.implicit_writes)
        verdicts.update(delta.log_verdicts)
        moved.update(delta.moved)
        features.update(delta.features)
        tables = delta.tables or tables
        assert tables is not None
        built[delta.name] = Release(
            delta.name,
            _schema(delta.schema),
            MappingProxyType(dict(table)),
            MappingProxyType(dict(actions)),
            frozenset(functions),
            tables[0],
            tables[1],
            MappingProxyType({k: v for k, v in writes.items() if v}),
            frozenset(verdicts),
            delta.tested,
            MappingProxyType({k: v for k, v in moved.items() if k not in table}),
            frozenset(features),
        )
    return built


#: Every release we have a table for, oldest first.
RELEASES: Mapping[str, Release] = MappingProxyType(_build())
#: The releases tested against real OVN.
SUPPORTED: tuple[Release, ...] = tuple(r for r in RELEASES.values() if r.tested)
DEFAULT: Release = RELEASES["23.03"]
NEWEST: Release = tuple(RELEASES.values())[-1]


def get(name: str | Release | None) -> Release:
    """The release named ``name`` ("26.03"); None means :data:`DEFAULT`."""
    if name is None:
        return DEFAULT
    if isinstance(name, Release):
        return name
    return parse_release(name)


def parse_release(text: str) -> Release:
    """A release from "26.03", "26.03.1" or "v26.03.0" (a ``--release`` option's value)."""
    parts = text.strip().removeprefix("v").split(".")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ReleaseError(f"'{text}' is not an OVN release; expected YY.MM such as 26.03 or 26.03.1")
    name = f"{int(parts[0]):02d}.{int(parts[1]):02d}"
    release = RELEASES.get(name)
    if release is None:
        known = ", ".join(RELEASES)
        raise ReleaseError(f"OVN {name} is not a release ovn-inject knows; known releases: {known}")
    return release


@record(frozen=True)
class Detected:
    """The release an OVN_Southbound schema version maps to.

    ``newer``: the schema is newer than any release we know (the newest table
    is used; the caller should log it). ``older``: older than 23.03 (the
    oldest table is used, and flows may be refused that the server accepts).
    """

    release: Release
    schema: tuple[int, int, int]
    newer: bool = False
    older: bool = False


def from_schema(version: str) -> Detected:
    """The release whose SB schema ``version`` ("21.8.0") is; point releases change it, so ranges."""
    try:
        schema = _schema(version.strip())
    except ValueError:
        raise ReleaseError(f"'{version}' is not an OVN_Southbound schema version (x.y.z)") from None
    ordered = list(RELEASES.values())
    if schema < ordered[0].schema:
        return Detected(ordered[0], schema, older=True)
    found = ordered[0]
    for release in ordered:
        if release.schema <= schema:
            found = release
    return Detected(found, schema, newer=schema > ordered[-1].schema)


def _knows(release: Release, what: str, name: str) -> bool:
    if what == "field":
        return name in release.symbols
    if what == "function":
        return name in release.functions
    return name in release.actions


def since(what: str, name: str) -> tuple[Release, ...]:
    """The releases that know field, action or function (``what``) ``name``."""
    return tuple(r for r in RELEASES.values() if _knows(r, what, name))


def where_known(what: str, name: str) -> str:
    """A hint saying which releases know ``name`` ("" when none does)."""
    known = since(what, name)
    if not known:
        return ""
    first, last = known[0].name, known[-1].name
    if last == NEWEST.name:
        return f"OVN {first} and later know it"
    return f"only OVN {first} to {last} know it" if first != last else f"only OVN {first} knows it"
