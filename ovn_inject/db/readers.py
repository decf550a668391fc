"""Read-only views of OVN NB and SB for the checks of the CLI (and the gateway).

Each reads exactly the rows it needs with one-shot selects and hands plain
data to the pure modules (targets, stages).
"""

from __future__ import annotations

from ovn_inject.core.hooks import TargetKind
from ovn_inject.core.topology import Topology, build_topology
from ovn_inject.db import nbrows
from ovn_inject.db.rpc import Rpc, ovsdb_map

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:  # core.targets is imported by the reader that needs it: a flow-add's check does not
    from ovn_inject.core.targets import Target, TargetRow

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
        from ovn_inject.core.targets import TargetRow

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
    return build_topology(*nbrows.select_all(remote, timeout), tenant_key)
