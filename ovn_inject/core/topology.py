"""The tenant topology every process works on, as a graph (pure, no I/O).

Nodes are datapaths (``("dp", name)``), ports (``("port", name)``) and port
groups (``("pg", name)``); a port is linked to the datapath it sits on and to
the port groups that hold it. :func:`build_topology` is the one builder: the
daemon gives it NB rows plus SB's bindings (only what exists in SB is used),
the gateway and the CLI give it NB rows alone. :func:`tenant_of` is the one
rule for whose a row is.
"""

from __future__ import annotations

import _socket  # inet_pton without the socket module's import (see lang.lexer)
from collections.abc import Collection, Iterable, Iterator, Mapping
from functools import cached_property

from ovn_inject.core.hooks import TARGET_DATAPATH, DatapathKind, TargetKind
from ovn_inject.errors import OvnInjectError
from ovn_inject.records import field, record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

#: The NB columns that say what exists and whose it is: the one list every monitor and select uses.
NB_TOPOLOGY_COLUMNS: dict[str, list[str]] = {
    "Logical_Switch": ["name", "ports", "external_ids"],
    "Logical_Switch_Port": ["name", "external_ids", "type", "addresses", "dynamic_addresses", "options"],
    "Logical_Router": ["name", "ports", "external_ids"],
    "Logical_Router_Port": ["name", "external_ids", "mac", "networks"],
    "Port_Group": ["name", "ports", "external_ids"],
}


def tenant_of(
    external_ids: Mapping[str, str], parent_ids: Mapping[str, str] | None, tenant_key: str
) -> str | None:
    """A row's own tenant, else (for a port) its switch's or router's; an empty value counts as unset."""
    own = external_ids.get(tenant_key)
    if own:
        return own
    if parent_ids is not None:
        return parent_ids.get(tenant_key) or None
    return None


#: Switch port types whose traffic is one VM's (or host's) own: everything else (router,
#: localnet, localport, l2gateway, vtep, ...) carries traffic of other ports too (docs/design.md,
#: "What a flow may do").
ENDPOINT_TYPES = frozenset({""})
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


@record(frozen=True)
class NbPort:
    """A switch or router port as NB has it (router ports: ``mac``/``networks``; switch ports the rest)."""

    name: str
    external_ids: Mapping[str, str]
    type: str = ""
    addresses: tuple[str, ...] = ()
    dynamic_addresses: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    mac: str = ""
    networks: tuple[str, ...] = ()


def mac_text(text: str) -> str | None:
    """A unicast MAC in canonical form (``02:00:00:00:01:0b``), else None."""
    parts = text.removesuffix("\n").split(":")  # (a regex's "$" took one newline at the end too)
    if len(parts) != 6 or not all(0 < len(part) <= 2 and _HEXDIGITS.issuperset(part) for part in parts):
        return None
    octets = [int(part, 16) for part in parts]
    if octets[0] & 1:
        return None  # broadcast or multicast: never one port's address
    return ":".join(f"{o:02x}" for o in octets)


def ip_text(text: str) -> str | None:
    """A unicast IPv4/IPv6 address (a prefix's address part too) in canonical form, else None."""
    quick = _ipv4_text(text)
    return quick if quick != _UNSURE else ip_text_by_ipaddress(text)


def ip_text_by_ipaddress(text: str) -> str | None:
    """:func:`ip_text` as ``ipaddress`` reads it: every form, at the cost of its import."""
    import ipaddress  # here: the usual IPv4 forms do without its import (0.7 ms of a flow-add)

    try:
        address = ipaddress.ip_interface(text).ip
    except ValueError:
        return None
    if address.is_multicast or address.is_unspecified or str(address) == "255.255.255.255":
        return None
    return str(address)


#: What :func:`_ipv4_text` returns for a text it leaves to ipaddress.
_UNSURE = ""


def _ipv4_text(text: str) -> str | None:
    """:func:`ip_text` of ``A.B.C.D`` and ``A.B.C.D/LEN``, read as ipaddress reads them, or _UNSURE.

    inet_pton takes the IPv4 addresses ipaddress takes (four decimal octets, no leading
    zeros); any other form (a netmask, IPv6, a text either refuses) is left to ipaddress.
    """
    address, slash, length = text.partition("/")
    if not address or address.strip("0123456789."):
        return _UNSURE
    if slash and not (length.isascii() and length.isdigit() and int(length) <= 32):
        return _UNSURE
    try:
        packed = _socket.inet_pton(_socket.AF_INET, address)
    except OSError:
        return _UNSURE
    if 224 <= packed[0] <= 239 or packed in (b"\0\0\0\0", b"\xff\xff\xff\xff"):
        return None  # multicast, unspecified, broadcast
    return ".".join(map(str, packed))


def port_addresses(port: NbPort) -> tuple[frozenset[str], frozenset[str]]:
    """A port's MACs and IPs: its ``addresses`` (dynamic ones too), a router port's ``mac``/``networks``.

    Keywords (``router``, ``unknown``, ``dynamic`` without an allocation) give no address.
    """
    entries = [port.mac, *port.networks] if port.mac else []
    words: list[list[str]] = [entries] if entries else []
    for entry in port.addresses:
        if entry.split()[:1] == ["dynamic"] and port.dynamic_addresses:
            entry = port.dynamic_addresses
        words.append(entry.split())
    macs: set[str] = set()
    ips: set[str] = set()
    for item in words:
        mac = mac_text(item[0]) if item else None
        if mac is None:
            continue
        macs.add(mac)
        ips.update(ip for ip in map(ip_text, item[1:]) if ip is not None)
    return frozenset(macs), frozenset(ips)


@record(frozen=True)
class NbDatapath:
    """A logical switch or router as NB has it, with its ports."""

    name: str
    kind: DatapathKind
    nb_uuid: str
    external_ids: Mapping[str, str]
    ports: tuple[NbPort, ...]


@record(frozen=True)
class NbPortGroup:
    name: str
    external_ids: Mapping[str, str]
    ports: tuple[str, ...]  # port names


def build_topology(
    datapaths: Iterable[NbDatapath],
    port_groups: Iterable[NbPortGroup],
    tenant_key: str,
    sb_datapaths: Mapping[str, str] | None = None,
    bound_ports: Collection[str] | None = None,
) -> Topology:
    """The topology of NB rows; with SB's bindings, only what SB holds.

    ``sb_datapaths`` maps an NB datapath uuid to its SB Datapath_Binding uuid
    (what a Logical_Flow points at); without it a datapath is named by its NB
    name (a dry run shows where its flows would land). ``bound_ports`` are the
    ports with an SB Port_Binding.
    """
    nodes: list[Datapath] = []
    ports: list[Port] = []
    for dp in datapaths:
        if sb_datapaths is None:
            sb_uuid = dp.name
        else:
            found = sb_datapaths.get(dp.nb_uuid)
            if found is None:
                continue  # northd has not written its Datapath_Binding yet
            sb_uuid = found
        tenant = tenant_of(dp.external_ids, None, tenant_key)
        nodes.append(Datapath(dp.name, dp.kind, tenant, sb_uuid))
        for port in dp.ports:
            if bound_ports is None or port.name in bound_ports:
                macs, ips = port_addresses(port)
                ports.append(
                    Port(
                        port.name,
                        dp.name,
                        tenant_of(port.external_ids, dp.external_ids, tenant_key),
                        port.type,
                        macs,
                        ips,
                        port.options.get("router-port") if port.type == "router" else None,
                    )
                )
    groups = [
        PortGroup(pg.name, tenant_of(pg.external_ids, None, tenant_key), pg.ports) for pg in port_groups
    ]
    return Topology.build(nodes, ports, groups)


@record(frozen=True)
class Datapath:
    name: str
    kind: DatapathKind
    tenant: str | None
    sb_uuid: str  # SB Datapath_Binding row: what Logical_Flow.logical_datapath points at


@record(frozen=True)
class Port:
    name: str
    datapath: str
    tenant: str | None  # the port's own tenant, else its datapath's
    type: str = ""  # a switch port's NB type ("" a VM, "router", "localnet", ...)
    macs: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()
    peer: str | None = None  # a router-type switch port: the router port it joins


@record(frozen=True)
class Reach:
    """The addresses a tenant's flows may write at a datapath (docs/design.md, "What a flow may do").

    ``macs``/``ips``: of the tenant's own endpoint ports on the switch (for a
    router: on the switches its ports join), less any address a port of
    another tenant there claims too; ``router_ips``: the tenant's router ports' own.
    """

    macs: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()
    router_ips: frozenset[str] = frozenset()

    def __and__(self, other: Reach) -> Reach:
        return Reach(self.macs & other.macs, self.ips & other.ips, self.router_ips & other.router_ips)


@record(frozen=True)
class PortGroup:
    name: str
    tenant: str | None
    ports: tuple[str, ...]


#: A node: ("dp" | "port" | "pg", name).
Node = tuple[str, str]


class _Nodes(dict[Node, "dict[str, Any]"]):
    """Node -> its attributes; called with ``data=True``, the (node, attributes) pairs (networkx's view)."""

    def __call__(self, data: bool = False) -> Iterable[Any]:
        return iter(self.items()) if data else iter(self)


class Graph:
    """The few graph operations the topology needs: nodes with attributes, and their neighbours.

    A plain adjacency map: importing a graph library cost every process that
    reads the topology (the CLI's flow-add among them) a third of a second.
    """

    def __init__(self) -> None:
        self.nodes = _Nodes()
        self._adjacent: dict[Node, dict[Node, None]] = {}

    def __contains__(self, node: object) -> bool:
        return node in self.nodes

    def add_node(self, node: Node, **attributes: Any) -> None:
        self.nodes.setdefault(node, {}).update(attributes)
        self._adjacent.setdefault(node, {})

    def add_edge(self, one: Node, other: Node) -> None:
        for node in (one, other):
            self.add_node(node)
        self._adjacent[one][other] = None
        self._adjacent[other][one] = None

    def neighbors(self, node: Node) -> Iterator[Node]:
        return iter(self._adjacent[node])


class TargetError(OvnInjectError):
    """An attachment's target cannot be resolved; the message says why (shown as its status)."""


@record
class Topology:
    """What exists, who owns it, and which ports each attachment target covers."""

    graph: Graph = field(default_factory=Graph)

    @classmethod
    def build(
        cls, datapaths: Iterable[Datapath], ports: Iterable[Port], port_groups: Iterable[PortGroup] = ()
    ) -> Topology:
        graph = Graph()
        for dp in datapaths:
            graph.add_node(("dp", dp.name), item=dp)
        for port in ports:
            if ("dp", port.datapath) not in graph:
                continue  # its datapath is not in SB yet
            graph.add_node(("port", port.name), item=port)
            graph.add_edge(("port", port.name), ("dp", port.datapath))
        for group in port_groups:
            graph.add_node(("pg", group.name), item=group)
            for member in group.ports:
                if ("port", member) in graph:
                    graph.add_edge(("pg", group.name), ("port", member))
        return cls(graph)

    def datapath(self, name: str) -> Datapath | None:
        node = self.graph.nodes.get(("dp", name))
        return node["item"] if node else None

    def port(self, name: str) -> Port | None:
        node = self.graph.nodes.get(("port", name))
        return node["item"] if node else None

    def port_group(self, name: str) -> PortGroup | None:
        node = self.graph.nodes.get(("pg", name))
        return node["item"] if node else None

    def ports_on(self, datapath: str) -> frozenset[str]:
        node = ("dp", datapath)
        if node not in self.graph:
            return frozenset()
        return frozenset(n[1] for n in self.graph.neighbors(node) if n[0] == "port")

    def tenant_of(self, kind: TargetKind, name: str) -> str | None:
        if kind in (TargetKind.LSP, TargetKind.LRP):
            port = self.port(name)
            return port.tenant if port else None
        if kind is TargetKind.PG:
            group = self.port_group(name)
            return group.tenant if group else None
        dp = self.datapath(name)
        return dp.tenant if dp else None

    def scope(self, kind: TargetKind, name: str, tenant: str) -> dict[str, frozenset[str]]:
        """Datapath name -> the ports of ``tenant`` that target ``kind:name`` covers there.

        Raises TargetError when the target does not exist (yet), is of another
        kind of datapath, or belongs to another tenant.
        """
        if kind in (TargetKind.LSP, TargetKind.LRP):
            port = self.port(name)
            if port is None:
                raise TargetError(f"port '{name}' does not exist (or is not bound in SB yet)")
            self._check_kind(kind, port.datapath)
            self._check_tenant(port.tenant, tenant, f"port '{name}'")
            return {port.datapath: frozenset([name])}
        if kind is TargetKind.PG:
            group = self.port_group(name)
            if group is None:
                raise TargetError(f"port group '{name}' does not exist")
            self._check_tenant(group.tenant, tenant, f"port group '{name}'")
            scope: dict[str, set[str]] = {}
            for node in self.graph.neighbors(("pg", name)):
                port = self.graph.nodes[node]["item"]
                if port.tenant == tenant:
                    scope.setdefault(port.datapath, set()).add(port.name)
            return {dp: frozenset(ports) for dp, ports in scope.items()}
        dp = self.datapath(name)
        if dp is None:
            raise TargetError(f"{'switch' if kind is TargetKind.LS else 'router'} '{name}' does not exist")
        self._check_kind(kind, name)
        self._check_tenant(dp.tenant, tenant, f"datapath '{name}'")
        ports = frozenset(p for p in self.ports_on(name) if self._port_tenant(p) == tenant)
        return {name: ports}

    def tenant_ports(self, kind: TargetKind, name: str, tenant: str) -> frozenset[str]:
        """The ports a flow of an attachment to ``kind:name`` may name: the tenant's, on its datapaths."""
        try:
            scope = self.scope(kind, name, tenant)
        except TargetError:
            return frozenset()
        return frozenset(p for dp in scope for p in self.ports_on(dp) if self._port_tenant(p) == tenant)

    def is_switch(self, datapath: str) -> bool:
        dp = self.datapath(datapath)
        return dp is not None and dp.kind is DatapathKind.SWITCH

    def is_endpoint(self, name: str) -> bool:
        """A switch port whose traffic is its own (a VM's), not a router's or a network's."""
        port = self.port(name)
        if port is None:
            return False
        dp = self.datapath(port.datapath)
        return dp is not None and dp.kind is DatapathKind.SWITCH and port.type in ENDPOINT_TYPES

    def endpoints(self, datapath: str, tenant: str) -> frozenset[str]:
        """The tenant's own endpoint ports on a switch."""
        return frozenset(
            p for p in self.ports_on(datapath) if self.is_endpoint(p) and self._port_tenant(p) == tenant
        )

    @cached_property
    def _peer_switch(self) -> dict[str, str]:
        """Router port name -> the switch whose router-type port joins it."""
        found: dict[str, str] = {}
        for node, data in self.graph.nodes(data=True):
            item = data["item"]
            if node[0] == "port" and item.peer:
                found[item.peer] = item.datapath
        return found

    def peer_switch(self, router_port: str) -> str | None:
        return self._peer_switch.get(router_port)

    def reach(self, datapath: str, tenant: str) -> Reach:
        """What the tenant's flows at ``datapath`` may write as addresses (see :class:`Reach`)."""
        cache: dict[tuple[str, str], Reach] = self.__dict__.setdefault("_reach_cache", {})
        found = cache.get((datapath, tenant))
        if found is None:
            found = cache[(datapath, tenant)] = self._reach(datapath, tenant)
        return found

    def _reach(self, datapath: str, tenant: str) -> Reach:
        dp = self.datapath(datapath)
        if dp is None:
            return Reach()
        if dp.kind is DatapathKind.SWITCH:
            return self._switch_reach(datapath, tenant)
        macs: set[str] = set()
        ips: set[str] = set()
        router_ips: set[str] = set()
        for name in self.ports_on(datapath):
            port = self.port(name)
            assert port is not None
            if port.tenant == tenant:
                router_ips |= port.ips
            switch = self.peer_switch(name)
            if switch is not None:
                found = self._switch_reach(switch, tenant)
                macs |= found.macs
                ips |= found.ips
        return Reach(frozenset(macs), frozenset(ips), frozenset(router_ips))

    def _switch_reach(self, switch: str, tenant: str) -> Reach:
        own_macs: set[str] = set()
        own_ips: set[str] = set()
        other_macs: set[str] = set()
        other_ips: set[str] = set()
        for name in self.ports_on(switch):
            port = self.port(name)
            assert port is not None
            if port.tenant == tenant and self.is_endpoint(name):
                own_macs |= port.macs
                own_ips |= port.ips
            elif port.tenant != tenant:
                other_macs |= port.macs
                other_ips |= port.ips
        return Reach(frozenset(own_macs - other_macs), frozenset(own_ips - other_ips))

    def target_reach(self, kind: TargetKind, name: str, tenant: str) -> Reach:
        """What flows of an attachment to ``kind:name`` may write: what every datapath it covers allows."""
        cache: dict[tuple[str, str, str], Reach] = self.__dict__.setdefault("_target_reach_cache", {})
        found = cache.get((kind, name, tenant))
        if found is None:
            found = cache[(kind, name, tenant)] = self._target_reach(kind, name, tenant)
        return found

    def _target_reach(self, kind: TargetKind, name: str, tenant: str) -> Reach:
        try:
            scope = self.scope(kind, name, tenant)
        except TargetError:
            return Reach()
        reaches = [self.reach(dp, tenant) for dp in sorted(scope)]
        found = reaches[0] if reaches else Reach()
        for other in reaches[1:]:
            found &= other
        return found

    def _port_tenant(self, name: str) -> str | None:
        port = self.port(name)
        return port.tenant if port else None

    def _check_kind(self, kind: TargetKind, datapath: str) -> None:
        dp = self.datapath(datapath)
        if dp is not None and dp.kind is not TARGET_DATAPATH[kind]:
            raise TargetError(f"'{kind.value}' target sits on {dp.kind.value} datapath '{datapath}'")

    @staticmethod
    def _check_tenant(owner: str | None, tenant: str, what: str) -> None:
        if owner != tenant:
            raise TargetError(f"{what} belongs to tenant '{owner or '(none)'}', not to '{tenant}'")
