"""NB rows, as the IDL or a JSON-RPC ``select`` hands them, turned into the topology builder's input.

Two readers of the same rows: a monitor's IDL (the daemon, the gateway) and
one-shot selects (the CLI). Both feed :func:`ovn_inject.core.topology.build_topology`,
so every process sees the same topology and the same tenancy.
"""

from __future__ import annotations

from collections.abc import Mapping

from ovn_inject.core.hooks import DatapathKind
from ovn_inject.core.topology import NB_TOPOLOGY_COLUMNS, NbDatapath, NbPort, NbPortGroup
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.rpc import Rpc, ovsdb_map

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

NB = "OVN_Northbound"
DATAPATH_TABLES = (("Logical_Switch", DatapathKind.SWITCH), ("Logical_Router", DatapathKind.ROUTER))


def from_idl(tables: Mapping[str, Any]) -> tuple[list[NbDatapath], list[NbPortGroup]]:
    """From an IDL that monitors NB_TOPOLOGY_COLUMNS."""
    # Here, not at the top: the CLI's one-shot selects (select_all) need no python-ovs.
    from ovn_inject.db.lazyrows import Reader, read

    datapaths = [
        NbDatapath(
            row.name,
            kind,
            str(row.uuid),
            row.external_ids,
            tuple(_idl_port(Reader(port)) for port in row.ports),
        )
        for table, kind in DATAPATH_TABLES
        for row in map(Reader, tables[table].rows.values())
    ]
    groups = [
        NbPortGroup(row.name, row.external_ids, tuple(read(p, "name") for p in row.ports))
        for row in map(Reader, tables["Port_Group"].rows.values())
    ]
    return datapaths, groups


def _idl_port(row: Any) -> NbPort:
    """A switch or router port row of the IDL (each table has only its own columns)."""
    if "networks" in row._row._table.columns:
        return NbPort(row.name, row.external_ids, mac=row.mac, networks=tuple(row.networks))
    dynamic = row.dynamic_addresses
    return NbPort(
        row.name,
        row.external_ids,
        type=row.type,
        addresses=tuple(row.addresses),
        dynamic_addresses=dynamic[0] if isinstance(dynamic, list) and dynamic else str(dynamic or ""),
        options=dict(row.options),
    )


def _select_port(row: Mapping[str, Any]) -> NbPort:
    """The same from a select's JSON row."""
    if "networks" in row:
        return NbPort(
            row["name"], ovsdb_map(row["external_ids"]), mac=row["mac"], networks=_strings(row["networks"])
        )
    dynamic = _strings(row["dynamic_addresses"])
    return NbPort(
        row["name"],
        ovsdb_map(row["external_ids"]),
        type=row["type"],
        addresses=_strings(row["addresses"]),
        dynamic_addresses=dynamic[0] if dynamic else "",
        options=ovsdb_map(row["options"]),
    )


def select_all(remote: str, timeout: float) -> tuple[list[NbDatapath], list[NbPortGroup]]:
    """The same rows with one-shot selects (no monitor): what a short-lived command needs.

    All in one ``transact``: one round trip (a flow-add's check waited for five in turn),
    and the tables as one snapshot.
    """
    with Rpc(remote, timeout, NB) as rpc:
        results = rpc.reply(send_select_all(rpc), what=NB)
    return _rows(results)


def send_select_all(rpc: Rpc) -> int:
    """Ask for :func:`select_all`'s rows on a connection to NB's server (which may serve another
    database too); :func:`selected_all` reads the reply."""
    ops = [
        {"op": "select", "table": table, "where": [], "columns": ["_uuid", *columns]}
        for table, columns in NB_TOPOLOGY_COLUMNS.items()
    ]
    return rpc.send("transact", [NB, *ops])


def selected_all(rpc: Rpc, sent: int) -> tuple[list[NbDatapath], list[NbPortGroup]]:
    """:func:`select_all`'s rows, from the request :func:`send_select_all` sent as ``sent``."""
    return _rows(rpc.reply(sent, what=NB))


def _rows(results: list[dict[str, Any]]) -> tuple[list[NbDatapath], list[NbPortGroup]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, result in zip(NB_TOPOLOGY_COLUMNS, results, strict=True):
        if "error" in result:
            raise InjectDbError(f"{NB}: select on {table} failed: {result['error']}")
        tables[table] = result["rows"]
    ports = {
        _uuid(row): _select_port(row)
        for table in ("Logical_Switch_Port", "Logical_Router_Port")
        for row in tables[table]
    }
    datapaths = [
        NbDatapath(
            row["name"],
            kind,
            _uuid(row),
            ovsdb_map(row["external_ids"]),
            tuple(ports[u] for u in _uuids(row["ports"]) if u in ports),
        )
        for table, kind in DATAPATH_TABLES
        for row in tables[table]
    ]
    groups = [
        NbPortGroup(
            row["name"],
            ovsdb_map(row["external_ids"]),
            tuple(ports[u].name for u in _uuids(row["ports"]) if u in ports),
        )
        for row in tables["Port_Group"]
    ]
    return datapaths, groups


def _uuid(row: Mapping[str, Any]) -> str:
    return str(row["_uuid"][1])


def _uuids(datum: Any) -> list[str]:
    """An OVSDB set of uuids (``["uuid", u]`` alone or ``["set", [...]]``) as strings."""
    if isinstance(datum, list) and datum and datum[0] == "uuid":
        return [str(datum[1])]
    if isinstance(datum, list) and datum and datum[0] == "set":
        return [str(item[1]) for item in datum[1]]
    return []


def _strings(datum: Any) -> tuple[str, ...]:
    """An OVSDB set of strings (a bare string, or ``["set", [...]]``)."""
    if isinstance(datum, str):
        return (datum,)
    if isinstance(datum, list) and datum and datum[0] == "set":
        return tuple(str(item) for item in datum[1])
    return ()
