"""Read-only views of OVN NB and SB for the checks of the CLI (and the gateway).

Each opens a short-lived ovsdbapp connection that monitors only the columns
it needs, and hands plain data to the pure modules (targets, stages).
"""

from __future__ import annotations

from typing import Any

from ovn_inject.db.impl_idl import open_idl
from ovn_inject.hooks import TargetKind
from ovn_inject.stages import LflowRow
from ovn_inject.targets import Target, TargetRow

NB_TABLES: dict[str, list[str]] = {
    "Logical_Switch": ["name", "ports", "external_ids"],
    "Logical_Switch_Port": ["name", "external_ids"],
    "Logical_Router": ["name", "ports", "external_ids"],
    "Logical_Router_Port": ["name", "external_ids"],
    "Port_Group": ["name", "external_ids"],
}
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
        self._conn = open_idl(remote, "OVN_Northbound", {t: c for t, c in NB_TABLES.items()}, timeout)

    def close(self) -> None:
        self._conn.stop()

    def __enter__(self) -> NbReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def target_row(self, target: Target) -> TargetRow | None:
        tables: Any = self._conn.idl.tables
        with self._conn.lock:
            rows = [r for r in tables[_TABLE_OF[target.kind]].rows.values() if r.name == target.name]
            if not rows:
                return None
            row = rows[0]
            parent_table = _PARENT_OF.get(target.kind)
            parent_ids = None
            if parent_table is not None:
                for parent in tables[parent_table].rows.values():
                    if any(port.uuid == row.uuid for port in parent.ports):
                        parent_ids = dict(parent.external_ids)
                        break
            return TargetRow(dict(row.external_ids), parent_ids)


def read_lflows(remote: str, timeout: float) -> list[LflowRow]:
    """Every SB Logical_Flow's stage-name, pipeline, table and priority."""
    columns = ["external_ids", "pipeline", "table_id", "priority"]
    conn = open_idl(remote, "OVN_Southbound", {"Logical_Flow": columns}, timeout)
    try:
        with conn.lock:
            return [
                LflowRow(dict(r.external_ids), r.pipeline, r.table_id, r.priority)
                for r in conn.idl.tables["Logical_Flow"].rows.values()
            ]
    finally:
        conn.stop()
