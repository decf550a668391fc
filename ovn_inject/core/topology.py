"""The tenant topology every process works on, as a graph (pure, no I/O).

Nodes are datapaths (``("dp", name)``), ports (``("port", name)``) and port
groups (``("pg", name)``); a port is linked to the datapath it sits on and to
the port groups that hold it. :func:`build_topology` is the one builder: the
daemon gives it NB rows plus SB's bindings (only what exists in SB is used),
the gateway and the CLI give it NB rows alone. :func:`tenant_of` is the one
rule for whose a row is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from ovn_inject.core.hooks import TARGET_DATAPATH, DatapathKind, TargetKind
from ovn_inject.errors import OvnInjectError

#: The NB columns that say what exists and whose it is: the one list every monitor and select uses.
NB_TOPOLOGY_COLUMNS: dict[str, list[str]] = {
    "Logical_Switch": ["name", "ports", "external_ids"],
    "Logical_Switch_Port": ["name", "external_ids"],
    "Logical_Router": ["name", "ports", "external_ids"],
    "Logical_Router_Port": ["name", "external_ids"],
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


@dataclass(frozen=True)
class NbPort:
    """A switch or router port as NB has it."""

    name: str
    external_ids: Mapping[str, str]


@dataclass(frozen=True)
class NbDatapath:
    """A logical switch or router as NB has it, with its ports."""

    name: str
    kind: DatapathKind
    nb_uuid: str
    external_ids: Mapping[str, str]
    ports: tuple[NbPort, ...]


@dataclass(frozen=True)
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
                ports.append(
                    Port(port.name, dp.name, tenant_of(port.external_ids, dp.external_ids, tenant_key))
                )
    groups = [
        PortGroup(pg.name, tenant_of(pg.external_ids, None, tenant_key), pg.ports) for pg in port_groups
    ]
    return Topology.build(nodes, ports, groups)


@dataclass(frozen=True)
class Datapath:
    name: str
    kind: DatapathKind
    tenant: str | None
    sb_uuid: str  # SB Datapath_Binding row: what Logical_Flow.logical_datapath points at


@dataclass(frozen=True)
class Port:
    name: str
    datapath: str
    tenant: str | None  # the port's own tenant, else its datapath's


@dataclass(frozen=True)
class PortGroup:
    name: str
    tenant: str | None
    ports: tuple[str, ...]


class TargetError(OvnInjectError):
    """An attachment's target cannot be resolved; the message says why (shown as its status)."""


@dataclass
class Topology:
    """What exists, who owns it, and which ports each attachment target covers."""

    graph: nx.Graph = field(default_factory=nx.Graph)

    @classmethod
    def build(
        cls, datapaths: Iterable[Datapath], ports: Iterable[Port], port_groups: Iterable[PortGroup] = ()
    ) -> Topology:
        graph = nx.Graph()
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
