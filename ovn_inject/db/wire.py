"""OVN_Inject's rows as records from one ``transact`` of selects: the CLI's reads, no IDL.

An IDL downloads every table and imports ovsdbapp before it answers; a read
command needs one round trip and a few tables. Records have the shape
:func:`ovn_inject.db.records.to_record` gives an IDL row (uuids as strings,
an optional column as its value or None, sets as sorted lists), typed from the
schema the package ships.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.db.errors import AmbiguousRecordError, RowNotFoundError
from ovn_inject.db.schema import schema

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

    Record = dict[str, Any]

#: What a uuid prefix is made of (a reference of 4 to 36 of them may be one); no ``re`` (see lang.lexer).
_UUID_CHARS = frozenset("0123456789abcdefABCDEF-")


@cache  # per row of every read otherwise: the schema does not change in a process
def _column_types(table: str) -> dict[str, dict[str, Any]]:
    tables = schema()["tables"]
    assert isinstance(tables, dict)
    columns: dict[str, Any] = tables[table]["columns"]
    out = {}
    for name, column in columns.items():
        kind = column["type"]
        out[name] = kind if isinstance(kind, dict) else {"key": kind}
    return out


def columns_of(table: str) -> list[str]:
    """``_uuid`` and the table's columns in name order (as ``list`` shows them)."""
    return ["_uuid", *sorted(_column_types(table))]


def _atom(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def _elements(value: Any) -> list[Any]:
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return [_atom(v) for v in value[1]]
    return [_atom(value)]


def _decode(value: Any, kind: Mapping[str, Any]) -> Any:
    if "value" in kind:
        pairs = value[1] if isinstance(value, list) and value and value[0] == "map" else []
        return {_atom(k): _atom(v) for k, v in sorted(pairs, key=lambda p: str(p[0]))}
    low, high = kind.get("min", 1), kind.get("max", 1)
    if low == 1 and high == 1:
        return _atom(value)
    elements = _elements(value)
    if high == 1:
        return elements[0] if elements else None
    return sorted(elements, key=str)


def decode_row(table: str, row: Mapping[str, Any]) -> Record:
    """One selected row as a record; cookies are shown unsigned, as the user gave them."""
    types = _column_types(table)
    record: Record = {}
    for name, value in row.items():
        if name == "_uuid":
            record[name] = _atom(value)
        elif name in types:
            record[name] = _decode(value, types[name])
    if table == "Service_Flow" and isinstance(record.get("cookie"), int) and record["cookie"] < 0:
        record["cookie"] += 1 << 64
    return record


def select(
    remote: str, timeout: float, tables: Iterable[str], where: Mapping[str, list[Any]] | None = None
) -> dict[str, list[Record]]:
    """Every row (or those matching ``where[table]``) of each table, all in one transaction."""
    from ovn_inject.db.rpc import Rpc

    names = list(tables)
    conditions = where or {}
    ops = [{"op": "select", "table": t, "where": conditions.get(t, [])} for t in names]
    from ovn_inject.db.errors import InjectDbError
    from ovn_inject.db.rpc import RpcError

    with Rpc(remote, timeout, INJECT_DB_NAME) as rpc:
        try:
            results = rpc.request("transact", [INJECT_DB_NAME, *ops])
        except RpcError as exc:
            if "unknown database" not in str(exc.error):
                raise
            raise InjectDbError(
                f"cannot reach {INJECT_DB_NAME}: {rpc.remote} has no database {INJECT_DB_NAME} "
                "(is it served there? 'ovsdb-server/add-db' adds a database)"
            ) from None
    out = {}
    for table, result in zip(names, results, strict=False):
        if "error" in result:
            raise InjectDbError(f"{INJECT_DB_NAME}: select on {table} failed: {result['error']}")
        out[table] = [decode_row(table, row) for row in result["rows"]]
    return out


def find_service(services: Sequence[Record], reference: str) -> Record:
    """The service a reference names, as :func:`ovn_inject.db.services.find_service` resolves it."""
    by_uuid = [s for s in services if s["_uuid"] == reference.lower()]
    if by_uuid:
        return by_uuid[0]
    tenant, separator, name = reference.rpartition("/")
    if separator:
        found = [s for s in services if s["tenant"] == tenant and s["name"] == name]
    else:
        found = [s for s in services if s["name"] == reference]
        if len(found) > 1:
            tenants = ", ".join(sorted(s["tenant"] for s in found))
            raise AmbiguousRecordError(
                f"service '{reference}' exists for tenants {tenants}: name it TENANT/{reference} or by uuid"
            )
        if not found and 4 <= len(reference) <= 36 and _UUID_CHARS.issuperset(reference):
            found = [s for s in services if s["_uuid"].startswith(reference.lower())]
            if len(found) > 1:
                raise AmbiguousRecordError(
                    f"service '{reference}' is ambiguous: {len(found)} rows start with it"
                )
    if not found:
        raise RowNotFoundError(f"service '{reference}'", " (see 'ovn-inject service-list')")
    return found[0]


def attachment_name(attachment: Mapping[str, Any]) -> str:
    """How every output names an attachment: ``KIND:NAME@HOOK``."""
    return f"{attachment['target_kind']}:{attachment['target_name']}@{attachment['hook']}"


#: What listings show for a flow stored without an attachment (it applies at every one).
ALL_ATTACHMENTS = "*all*"
