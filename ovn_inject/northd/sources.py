"""What the daemon monitors, and its topology: NB's rows joined with SB's bindings.

Only what exists in SB is used: a switch whose Datapath_Binding northd has
not written yet has no datapath to put flows on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ovn_inject.core.topology import NB_TOPOLOGY_COLUMNS, Topology, build_topology
from ovn_inject.db import nbrows
from ovn_inject.db.lazyrows import read

Tables = Mapping[str, Any]  # ovs.db.idl table name -> ovs.db.schema.TableSchema with .rows

#: What the daemon monitors, per database: table -> columns. Nothing else is mirrored.
NB_COLUMNS = {"NB_Global": ["nb_cfg", "hv_cfg", "sb_cfg"], **NB_TOPOLOGY_COLUMNS}
SB_COLUMNS = {
    "Datapath_Binding": ["external_ids"],
    "Port_Binding": ["logical_port", "datapath"],
    # Our own rows (a conditional monitor): only which exist matters, their uuid says what they
    # hold (see core.compiler.LogicalFlow.uuid), and sbwriter writes them as JSON. Mirroring their
    # content cost more than writing it at a cold start.
    "Logical_Flow": ["table_id"],
}
INJECT_COLUMNS = {
    "Inject_Global": ["cfg", "sb_cfg", "hv_cfg", "options"],
    "Service": ["name", "tenant", "enabled", "attachments", "flows", "options"],
    # Not their status and reason: the daemon writes those, and reads them once (Daemon._read_statuses).
    "Attachment": ["service", "target_kind", "target_name", "hook", "order"],
    "Service_Flow": [
        "service",
        "attachment",
        "priority",
        "match",
        "actions",
        "hard_timeout",
        "created",
    ],
}
#: Columns whose change alone is no reason to look at the row again: those only the daemon
#: writes (the echo of our own writes), and a service's lists of attachments and flows (their
#: own rows change with them, and each names its service).
IGNORED_ALONE = {
    "Inject_Global": frozenset({"sb_cfg", "hv_cfg"}),
    "Service": frozenset({"flows", "attachments"}),
}


def topology(nb: Tables, sb: Tables, tenant_key: str) -> Topology:
    """NB's topology, limited to the datapaths and ports SB already has bindings for."""
    sb_datapaths: dict[str, str] = {}
    for row in sb["Datapath_Binding"].rows.values():
        ids = read(row, "external_ids")
        nb_uuid = ids.get("logical-switch") or ids.get("logical-router")
        if nb_uuid:
            sb_datapaths[nb_uuid] = str(row.uuid)
    bound = {read(row, "logical_port") for row in sb["Port_Binding"].rows.values()}
    datapaths, groups = nbrows.from_idl(nb)
    return build_topology(datapaths, groups, tenant_key, sb_datapaths, bound)
