"""Turn the rows the daemon's IDLs hold into the compiler's inputs.

These functions only read in-memory IDL rows; the daemon owns the
connections. Only what exists in SB is used: a switch whose
Datapath_Binding northd has not written yet has no datapath to put flows on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ovn_inject.hooks import DatapathKind, TargetKind
from ovn_inject.northd.compiler import AttachmentSpec, ServiceSpec
from ovn_inject.northd.topology import Datapath, Port, PortGroup, Topology

Tables = Mapping[str, Any]  # ovs.db.idl table name -> ovs.db.schema.TableSchema with .rows

#: What the daemon monitors, per database: table -> columns. Nothing else is mirrored.
NB_COLUMNS = {
    "NB_Global": ["nb_cfg", "hv_cfg", "sb_cfg"],
    "Logical_Switch": ["name", "ports", "external_ids"],
    "Logical_Switch_Port": ["name", "external_ids"],
    "Logical_Router": ["name", "ports", "external_ids"],
    "Logical_Router_Port": ["name", "external_ids"],
    "Port_Group": ["name", "ports", "external_ids"],
}
SB_COLUMNS = {
    "Datapath_Binding": ["external_ids"],
    "Port_Binding": ["logical_port", "datapath"],
    "Logical_Flow": [
        "logical_datapath",
        "logical_dp_group",
        "pipeline",
        "table_id",
        "priority",
        "match",
        "actions",
        "external_ids",
    ],
}
INJECT_COLUMNS = {
    "Inject_Global": ["cfg", "sb_cfg", "hv_cfg", "options"],
    "Service": ["name", "tenant", "enabled", "attachments", "flows", "options"],
    "Attachment": ["service", "target_kind", "target_name", "hook", "order", "status", "reason"],
    "Service_Flow": [
        "service",
        "attachment",
        "priority",
        "match",
        "actions",
        "cookie",
        "hard_timeout",
        "created",
        "status",
        "reason",
    ],
}
#: Columns whose change alone is no reason to look at the row again: those only the daemon
#: writes (the echo of our own writes), and a service's lists of attachments and flows (their
#: own rows change with them, and each names its service).
IGNORED_ALONE = {
    "Service_Flow": frozenset({"status", "reason"}),
    "Attachment": frozenset({"status", "reason"}),
    "Inject_Global": frozenset({"sb_cfg", "hv_cfg"}),
    "Service": frozenset({"flows", "attachments"}),
}


def _first(value: Any) -> Any:
    """An optional (0..1) IDL column as a value or None."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def topology(nb: Tables, sb: Tables, tenant_key: str) -> Topology:
    sb_datapaths: dict[str, str] = {}
    for row in sb["Datapath_Binding"].rows.values():
        ids = row.external_ids
        nb_uuid = ids.get("logical-switch") or ids.get("logical-router")
        if nb_uuid:
            sb_datapaths[nb_uuid] = str(row.uuid)
    bound = {row.logical_port for row in sb["Port_Binding"].rows.values()}

    datapaths: list[Datapath] = []
    ports: list[Port] = []
    for table, kind in (("Logical_Switch", DatapathKind.SWITCH), ("Logical_Router", DatapathKind.ROUTER)):
        for row in nb[table].rows.values():
            sb_uuid = sb_datapaths.get(str(row.uuid))
            if sb_uuid is None:
                continue
            tenant = row.external_ids.get(tenant_key)
            datapaths.append(Datapath(row.name, kind, tenant, sb_uuid))
            for port in row.ports:
                if port.name in bound:
                    ports.append(Port(port.name, row.name, port.external_ids.get(tenant_key, tenant)))
    groups = [
        PortGroup(row.name, row.external_ids.get(tenant_key), tuple(p.name for p in row.ports))
        for row in nb["Port_Group"].rows.values()
    ]
    return Topology.build(datapaths, ports, groups)


def services(inject: Tables) -> list[ServiceSpec]:
    return [
        ServiceSpec(str(row.uuid), row.name, row.tenant, bool(row.enabled))
        for row in inject["Service"].rows.values()
    ]


def attachments(inject: Tables) -> list[AttachmentSpec]:
    out = []
    for row in inject["Attachment"].rows.values():
        service = _first(row.service)
        if service is None:
            continue
        out.append(
            AttachmentSpec(
                str(row.uuid),
                str(service.uuid),
                TargetKind(row.target_kind),
                row.target_name,
                row.hook,
                int(row.order),
            )
        )
    return out
