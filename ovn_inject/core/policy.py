"""What a service may match and do at a hook (docs/design.md, "What a flow may do"), as data plus one walker.

The language module says whether a flow is OVN; this module says whether a
*service* may install it. It walks the parsed tree against white lists:
header fields to read and rewrite, ct state to read, ``inport``/``outport``
only against named ports (checked against the tenant's ports on the owning
datapath by the caller or the compiler), and a short list of actions.
Anything else is refused by name. Whatever passes is still confined by the
compiler, which prefixes every match with the hook's cursor and scope.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from functools import lru_cache

from ovn_inject.core.hooks import Pipeline
from ovn_inject.core.reach import ADDRESS_FIELDS, Write
from ovn_inject.errors import OvnInjectError
from ovn_inject.lang import (
    Actions,
    Context,
    Expr,
    LanguageError,
    Release,
    format_actions,
    format_match,
    parse_actions,
    parse_match,
)
from ovn_inject.lang import ast as n
from ovn_inject.lang.symbols import SYMBOLS, resolve
from ovn_inject.records import record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


#: Root fields a service may read (subfields of these too, e.g. ``ct.est``, ``eth.mcast``).
READABLE = frozenset({
    "eth.src", "eth.dst", "eth.type", "vlan.tci",
    "ip.proto", "ip.dscp", "ip.ecn", "ip.ttl", "ip.frag",
    "ip4.src", "ip4.dst", "icmp4.type", "icmp4.code",
    "ip6.src", "ip6.dst", "ip6.label", "icmp6.type", "icmp6.code",
    "arp.op", "arp.spa", "arp.sha", "arp.tpa", "arp.tha",
    "rarp.op", "rarp.spa", "rarp.sha", "rarp.tpa", "rarp.tha",
    "nd.target", "nd.sll", "nd.tll",
    "tcp.src", "tcp.dst", "tcp.flags", "udp.src", "udp.dst", "sctp.src", "sctp.dst",
    "ct_state",
})  # fmt: skip

#: Root fields a service may rewrite.
WRITABLE = frozenset({
    "eth.src", "eth.dst", "ip.dscp", "ip.ecn", "ip.ttl",
    "ip4.src", "ip4.dst", "ip6.src", "ip6.dst",
    "tcp.src", "tcp.dst", "udp.src", "udp.dst", "sctp.src", "sctp.dst",
})  # fmt: skip

PORT_FIELDS = frozenset({"inport", "outport"})
_CHAINS = (n.And, n.Or)  # for isinstance: ``n.And | n.Or`` in the call makes a union at every call


class PolicyError(OvnInjectError):
    """A flow that is valid OVN but that a service may not install (HTTP 403)."""

    def __init__(self, where: str, reason: str, column: int = 0) -> None:
        self.where = where
        self.reason = reason
        self.column = column
        at = f" at column {column}" if column else ""
        super().__init__(f"{where}: {reason}{at}")


@record(frozen=True)
class CheckedFlow:
    """A flow that passed the language and the policy; its text is printed from the tree."""

    match: Expr
    actions: Actions
    ports: frozenset[str]
    #: constants the actions write into address fields: checked per hook against the topology
    writes: tuple[Write, ...] = ()

    @property
    def match_text(self) -> str:
        return format_match(self.match)

    @property
    def actions_text(self) -> str:
        return format_actions(self.actions)


def check_flow(
    match: str, actions: str, pipelines: Iterable[Pipeline], release: Release | str | None = None
) -> CheckedFlow:
    """Parse, type-check and police a flow for hooks of the given pipelines, in ``release``'s language.

    Raises LanguageError (not OVN, 400) or PolicyError (not allowed, 403).
    """
    context = _context(release)
    match_tree = _parse(lambda text: parse_match(text, context), match, "match")
    actions_tree = _parse(lambda text: _actions(text, release), actions, "actions")
    ports: set[str] = set()
    writes: list[Write] = []
    _check_expr(match_tree, ports)
    for pipeline in set(pipelines):
        writes.clear()
        _check_actions(actions_tree, pipeline, ports, writes, in_clone=False)
    return CheckedFlow(match_tree, actions_tree, frozenset(ports), tuple(writes))


@lru_cache(maxsize=64)
def _context(release: Release | str | None) -> Context:
    """The (immutable) context of ``release``'s language, without ports or sets: made once."""
    return Context(release=release)


@lru_cache(maxsize=256)
def _actions(text: str, release: Release | str | None) -> Actions:
    """Actions parsed in ``release``'s language: a service's flows repeat a few texts (``drop;``).

    The tree is immutable and a function of the text and the release alone
    (no ports or sets in the context); a refused text raises anew each time.
    """
    return parse_actions(text, _context(release))


def _parse(parse: Callable[[str], T], text: str, where: str) -> T:
    try:
        return parse(text)
    except LanguageError as exc:
        exc.where = where
        raise


def check_ports(flow: CheckedFlow, allowed: Collection[str], where: str) -> None:
    """Every port the flow names must be one of ``allowed`` (the tenant's, on the datapath)."""
    for name in sorted(flow.ports - set(allowed)):
        raise PolicyError("match/actions", f"port '{name}' is not a port of {where}")


def _root(ref: n.FieldRef) -> str:
    return _root_of(ref.name)


@lru_cache(maxsize=1024)
def _root_of(name: str) -> str:
    """The field whose bits ``name`` names (itself for a predicate or an unknown name)."""
    symbol = SYMBOLS.get(name)
    if symbol is None:
        return name
    if symbol.predicate is not None:
        return name
    root, _, _ = resolve(name, 0, 0)
    return root.name


@lru_cache(maxsize=1024)
def _readable(name: str) -> bool:
    """Whether a service may read ``name``: a header predicate (tcp, ip4, eth.bcast ...) only tests
    header fields; a field, if its root is one of READABLE or a port field."""
    symbol = SYMBOLS.get(name)
    if symbol is not None and symbol.predicate is not None:
        return True
    root = _root_of(name)
    return root in READABLE or root in PORT_FIELDS


def _check_read(ref: n.FieldRef, where: str) -> None:
    if not _readable(ref.name):
        raise PolicyError(where, f"field '{ref.name}' is not available to services", ref.pos)


def _check_expr(expr: Expr, ports: set[str]) -> None:
    # By exact type, the usual nodes first: the tree's classes have no subclasses.
    if type(expr) is n.Comparison:
        _check_read(expr.field, "match")
        for value in expr.values:
            if type(value) is n.String:
                ports.add(value.value)
            elif type(value) is n.AddressSetRef or type(value) is n.PortGroupRef:
                sigil = "$" if type(value) is n.AddressSetRef else "@"
                raise PolicyError(
                    "match",
                    f"'{sigil}{value.name}' is not allowed: address sets and port groups "
                    "may hold other tenants' addresses and ports",
                    expr.pos,
                )
    elif type(expr) is n.And or type(expr) is n.Or:
        for item in expr.items:
            _check_expr(item, ports)
    elif type(expr) is n.Not:
        _check_expr(expr.operand, ports)
    elif type(expr) is n.Test:
        _check_read(expr.field, "match")
    elif type(expr) is n.ChassisResident:
        raise PolicyError("match", "is_chassis_resident() is not available to services", expr.pos)


def _check_actions(
    actions: Actions, pipeline: Pipeline, ports: set[str], writes: list[Write], in_clone: bool
) -> None:
    outport_set = False
    for action in actions.items:
        if isinstance(action, n.Drop | n.DecTtl):
            continue
        if isinstance(action, n.Next):
            if action.table is not None or action.pipeline is not None:
                raise PolicyError(
                    "actions", "only a plain 'next;' (continue) is allowed, not next(...)", action.pos
                )
            if in_clone:
                raise PolicyError("actions", "'next;' inside clone would duplicate the packet", action.pos)
        elif isinstance(action, n.Output):
            if pipeline is not Pipeline.INGRESS:
                raise PolicyError("actions", "'output;' is only allowed in ingress hooks", action.pos)
            if not outport_set:
                raise PolicyError("actions", "'output;' must follow 'outport = \"PORT\";'", action.pos)
        elif isinstance(action, n.Load):
            if action.dst.name == "outport":
                if pipeline is not Pipeline.INGRESS:
                    raise PolicyError("actions", "outport can only be set in ingress hooks", action.pos)
                if action.dst.low is not None or not isinstance(action.value, n.String):
                    raise PolicyError("actions", "outport must be set to a port name", action.pos)
                ports.add(action.value.value)
                outport_set = True
                continue
            _check_write(action.dst)
            if _root(action.dst) in ADDRESS_FIELDS:
                writes.append(_address_write(action))
        elif isinstance(action, n.Move):
            _check_write(action.dst)
            _check_not_address(action.dst, "copied into")
            if _root(action.src) in PORT_FIELDS:
                raise PolicyError("actions", "inport/outport cannot be copied", action.pos)
            _check_read(action.src, "actions")
        elif isinstance(action, n.Exchange):
            _check_write(action.a)
            _check_write(action.b)
            _check_not_address(action.a, "exchanged")
            _check_not_address(action.b, "exchanged")
        elif isinstance(action, n.Clone):
            _check_actions(action.body, pipeline, ports, writes, in_clone=True)
        else:
            name = action.name if isinstance(action, n.Generic) else type(action).__name__
            raise PolicyError("actions", f"action '{name}' is not available to services", action.pos)


def _check_write(ref: n.FieldRef) -> None:
    root = _root(ref)
    if root not in WRITABLE:
        raise PolicyError("actions", f"field '{ref.name}' cannot be written by services", ref.pos)


def _check_not_address(ref: n.FieldRef, how: str) -> None:
    """An address field takes a constant only, checked against the tenant's addresses at each hook."""
    if _root(ref) in ADDRESS_FIELDS:
        raise PolicyError(
            "actions",
            f"'{ref.name}' cannot be {how}: an address may only be set to a constant "
            "address of the tenant's own ports (docs/application.md, rewrites)",
            ref.pos,
        )


def _address_write(action: n.Load) -> Write:
    """The constant a load writes into a whole address field, printed as the topology's addresses are."""
    root = _root(action.dst)
    if action.dst.name != root or action.dst.low is not None:
        raise PolicyError(
            "actions", f"'{action.dst.name}': only a whole address can be written, not a part", action.pos
        )
    value = action.value
    if not isinstance(value, n.Integer) or value.mask is not None:
        raise PolicyError("actions", f"'{root}' must be set to one address, not a mask", action.pos)
    if root.startswith("eth."):
        text = ":".join(f"{b:02x}" for b in value.value.to_bytes(6, "big"))
        return Write(root, text, action.pos)
    import ipaddress  # here: a flow that writes no IP address does without its import

    if root.startswith("ip4."):
        text = str(ipaddress.IPv4Address(value.value))
    else:
        text = str(ipaddress.IPv6Address(value.value))
    return Write(root, text, action.pos)
