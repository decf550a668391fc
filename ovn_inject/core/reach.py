"""Who a tenant's flow may act on, and what its rewrites may write, per hook (pure, no I/O).

docs/design.md, "What a flow may do": a flow acts on a packet only when the
packet comes from one of the tenant's own endpoint ports (its VMs) or is
being delivered to one. A router-type or localnet port of the tenant carries
other tenants' traffic too on a shared switch, so it is in scope only for
packets tied to an own endpoint by what the pipeline knows at that hook
(:data:`TIES`). A rewrite may only write addresses of the tenant's own
endpoints there (:data:`REWRITES`): whatever a flow matches, it may drop or
steer within the tenant, never make a packet reach, or claim to come from,
another tenant's port.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from ovn_inject.core.hooks import HOOK_POINTS, DatapathKind, HookPoint
from ovn_inject.core.topology import Reach, Topology
from ovn_inject.records import record


class Tie(StrEnum):
    """How a packet through a transit (router/localnet) port is tied to an own endpoint at a hook."""

    TO_MAC = "eth.dst"  # delivered to an own endpoint: the L2 destination, known before the L2 lookup
    FROM_PORT = "inport"  # a switch's egress: it came in from an own endpoint
    FROM_MAC = "eth.src"  # a router's ingress before routing: sent by an own endpoint of the peer switch
    FROM_IP = "ip.src"  # after routing, which rewrote eth.src: the sender's address


#: Per hook: how a transit port's packets are tied to the tenant's own endpoints.
#: Switch ingress runs before ls_in_l2_lkup picks the outport, so only eth.dst
#: says where a packet goes; switch egress knows the inport. A router's ingress
#: sees the sender's eth.src until lr_in_ip_routing sets its own; its egress
#: runs after lr_in_arp_resolve set eth.dst to the next hop's MAC.
TIES: dict[str, Tie] = {
    "ls-in-port": Tie.TO_MAC,
    "ls-in-forward": Tie.TO_MAC,
    "ls-out-port": Tie.FROM_PORT,
    "ls-out-deliver": Tie.FROM_PORT,
    "lr-in-route": Tie.FROM_MAC,
    "lr-in-forward": Tie.FROM_IP,
    "lr-out-snat": Tie.TO_MAC,
    "lr-out-deliver": Tie.TO_MAC,
}


class Values(StrEnum):
    """What a rewrite of an address field may write at a hook."""

    OWN_MACS = "a MAC of the tenant's own ports"
    OWN_IPS = "an IP of the tenant's own ports"
    OWN_OR_ROUTER_IPS = "an IP of the tenant's own ports or router ports"
    NONE = "nothing: the field cannot be rewritten at this hook"


#: Address fields (roots); a rewrite of any other writable field (TTL, DSCP, ECN,
#: L4 ports) does not change which port a packet reaches or claims to come from.
ADDRESS_FIELDS = frozenset({"eth.src", "eth.dst", "ip4.src", "ip4.dst", "ip6.src", "ip6.dst"})

_SWITCH = {
    # before the L2 lookup eth.dst picks the outport; after a router or localnet
    # port it picks the next hop's port; after port security eth.src is identity
    "eth.dst": Values.OWN_MACS,
    "eth.src": Values.OWN_MACS,
    # ip.dst picks the next hop when a router routes the packet later on; ip.src
    # is where the replies go
    "ip4.dst": Values.OWN_IPS,
    "ip6.dst": Values.OWN_IPS,
    "ip4.src": Values.OWN_IPS,
    "ip6.src": Values.OWN_IPS,
}
_ROUTER = {
    # the router owns the L2 header of what it sends: routing sets eth.src,
    # ARP resolution eth.dst; a rewrite could only misdeliver or spoof
    "eth.dst": Values.NONE,
    "eth.src": Values.NONE,
    "ip4.dst": Values.OWN_IPS,
    "ip6.dst": Values.OWN_IPS,
    # a source NAT to the tenant's router address is what a router does
    "ip4.src": Values.OWN_OR_ROUTER_IPS,
    "ip6.src": Values.OWN_OR_ROUTER_IPS,
}
#: Per hook: address field -> what a rewrite may write there.
REWRITES: dict[str, dict[str, Values]] = {
    hook.name: _SWITCH if hook.datapath is DatapathKind.SWITCH else _ROUTER for hook in HOOK_POINTS
}


@record(frozen=True)
class Write:
    """A constant written into an address field by a flow's actions (canonical text)."""

    field: str
    value: str
    pos: int = 0


def rewrite_problem(writes: Iterable[Write], hook: HookPoint, reach: Reach, where: str) -> str | None:
    """Why one of ``writes`` may not happen at ``hook`` on ``where``, or None."""
    rules = REWRITES[hook.name]
    for write in writes:
        rule = rules.get(write.field)
        if rule is None:
            continue
        allowed: frozenset[str]
        if rule is Values.NONE:
            allowed = frozenset()
        elif rule is Values.OWN_MACS:
            allowed = reach.macs
        elif rule is Values.OWN_IPS:
            allowed = reach.ips
        else:
            allowed = reach.ips | reach.router_ips
        if write.value in allowed:
            continue
        if rule is Values.NONE:
            return f"'{write.field}' cannot be rewritten at hook '{hook.name}': {_WHY_NONE}"
        return (
            f"'{write.field} = {write.value}' at hook '{hook.name}' on {where}: {write.field} may only be "
            f"set to {rule.value} there ({_listing(allowed)}), never to another tenant's or a "
            "broadcast/multicast address"
        )
    return None


_WHY_NONE = "a router sets the Ethernet addresses itself (routing and ARP resolution)"


def _listing(values: frozenset[str]) -> str:
    if not values:
        return "none here"
    shown = sorted(values)[:8]
    return ", ".join(shown) + (", ..." if len(values) > 8 else "")


# ---- the compiled scope --------------------------------------------------------------------------


def quote(name: str) -> str:
    """An OVN string constant for a port name."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _equals(field_name: str, values: Iterable[str], quoted: bool = False) -> str:
    items = sorted(values)
    texts = [quote(v) if quoted else v for v in items]
    if len(texts) == 1:
        return f"{field_name} == {texts[0]}"
    return f"{field_name} == {{{', '.join(texts)}}}"


def scope_match(
    topology: Topology, hook: HookPoint, datapath: str, ports: Iterable[str], tenant: str
) -> str | None:
    """The compiled scope of ``ports`` at ``hook`` on ``datapath``; None when no packet is in it.

    An own endpoint is in scope for all its traffic (``inport`` at ingress,
    ``outport`` at egress); a transit port only for packets tied to an own
    endpoint (:data:`TIES`).
    """
    field_name = hook.scope_field
    names = set(ports)
    whole = {p for p in names if topology.is_endpoint(p)}
    terms = [_equals(field_name, whole, quoted=True)] if whole else []
    by_tie: dict[str, set[str]] = {}
    for port in names - whole:
        tie = _tie_match(topology, TIES[hook.name], datapath, port, tenant)
        if tie is not None:
            by_tie.setdefault(tie, set()).add(port)
    for tie, members in sorted(by_tie.items(), key=lambda item: sorted(item[1])):
        terms.append(f"({_equals(field_name, members, quoted=True)} && {tie})")
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0] if whole else terms[0][1:-1]
    return "(" + " || ".join(terms) + ")"


def _tie_match(topology: Topology, tie: Tie, datapath: str, port: str, tenant: str) -> str | None:
    """The condition tying a transit port's packet to the tenant's own endpoints, or None if none can be."""
    switch = datapath if topology.is_switch(datapath) else topology.peer_switch(port)
    if switch is None:
        return None  # a router port joined to no switch we know: no own endpoint behind it
    if tie is Tie.FROM_PORT:
        own = topology.endpoints(switch, tenant)
        return _equals("inport", own, quoted=True) if own else None
    reach = topology.reach(switch, tenant)
    if tie is Tie.FROM_IP:
        v4 = {ip for ip in reach.ips if ":" not in ip}
        v6 = reach.ips - v4
        parts = [_equals(f, ips) for f, ips in (("ip4.src", v4), ("ip6.src", v6)) if ips]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else f"({' || '.join(parts)})"
    if not reach.macs:
        return None
    return _equals(tie.value, reach.macs)
