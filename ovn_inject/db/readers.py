"""Read-only views of OVN NB and SB for the checks of the CLI (and the gateway).

Each reads exactly the rows it needs with one-shot selects and hands plain
data to the pure modules (targets, stages).
"""

from __future__ import annotations

from typing import Any

from ovn_inject.db.rpc import Rpc, ovsdb_map
from ovn_inject.hooks import DatapathKind, TargetKind
from ovn_inject.northd.topology import Datapath, Port, PortGroup, Topology
from ovn_inject.targets import Target, TargetRow

NB = "OVN_Northbound"
SB = "OVN_Southbound"
_TABLE_OF = {
    TargetKind.LSP: "Logical_Switch_Port",
    TargetKind.LS: "Logical_Switch",
    TargetKind.LR: "Logical_Router",
    TargetKind.LRP: "Logical_Router_Port",
    TargetKind.PG: "Port_Group",
}
_PARENT_OF = {TargetKind.LSP: "Logical_Switch", TargetKind.LRP: "Logical_Router"}


class NbReader:
    def __init__(self, remote: str, timeout: float) -> None:
        self._rpc = Rpc(remote, timeout, NB)

    def close(self) -> None:
        self._rpc.close()

    def __enter__(self) -> NbReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def target_row(self, target: Target) -> TargetRow | None:
        """The target's external_ids and, for a port, those of its switch or router."""
        found = self._rpc.select(
            NB, _TABLE_OF[target.kind], [["name", "==", target.name]], ["_uuid", "external_ids"]
        )
        if not found:
            return None
        row = found[0]
        parent_table = _PARENT_OF.get(target.kind)
        parent_ids = None
        if parent_table is not None:
            parents = self._rpc.select(
                NB, parent_table, [["ports", "includes", row["_uuid"]]], ["external_ids"]
            )
            if parents:
                parent_ids = ovsdb_map(parents[0]["external_ids"])
        return TargetRow(ovsdb_map(row["external_ids"]), parent_ids)


def read_topology(remote: str, timeout: float, tenant_key: str) -> Topology:
    """Switches, routers, their ports and port groups with their tenants, from NB alone."""
    with Rpc(remote, timeout, NB) as rpc:
        tables = {
            table: rpc.select(NB, table, [], ["_uuid", "name", *extra])
            for table, extra in (
                ("Logical_Switch", ["ports", "external_ids"]),
                ("Logical_Router", ["ports", "external_ids"]),
                ("Logical_Switch_Port", ["external_ids"]),
                ("Logical_Router_Port", ["external_ids"]),
                ("Port_Group", ["ports", "external_ids"]),
            )
        }
    port_rows = {
        _uuid(r): r for table in ("Logical_Switch_Port", "Logical_Router_Port") for r in tables[table]
    }
    datapaths: list[Datapath] = []
    ports: list[Port] = []
    for table, kind in (("Logical_Switch", DatapathKind.SWITCH), ("Logical_Router", DatapathKind.ROUTER)):
        for row in tables[table]:
            tenant = ovsdb_map(row["external_ids"]).get(tenant_key)
            datapaths.append(Datapath(row["name"], kind, tenant, sb_uuid=""))
            for ref in _uuids(row["ports"]):
                port = port_rows.get(ref)
                if port is not None:
                    own = ovsdb_map(port["external_ids"]).get(tenant_key)
                    ports.append(Port(port["name"], row["name"], own or tenant))
    names = {ref: row["name"] for ref, row in port_rows.items()}
    groups = [
        PortGroup(
            r["name"],
            ovsdb_map(r["external_ids"]).get(tenant_key),
            tuple(names[u] for u in _uuids(r["ports"]) if u in names),
        )
        for r in tables["Port_Group"]
    ]
    return Topology.build(datapaths, ports, groups)


def _uuid(row: dict[str, Any]) -> str:
    return str(row["_uuid"][1])


def _uuids(datum: Any) -> list[str]:
    """An OVSDB set of uuids (``["uuid", u]`` alone or ``["set", [...]]``) as strings."""
    if isinstance(datum, list) and datum and datum[0] == "uuid":
        return [str(datum[1])]
    if isinstance(datum, list) and datum and datum[0] == "set":
        return [str(item[1]) for item in datum[1]]
    return []
