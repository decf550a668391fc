"""The hiding logic of the northd gate, as pure functions on decoded OVSDB JSON.

A row is ours when its ``external_ids`` hold :data:`~ovn_inject.constants.OWNER_KEY`.
Rows are hidden as they first appear (initial rows of a monitor reply, inserts
of an update, or a modify that adds the key) and stay hidden until they are
deleted, so modify/delete updates that carry no ``external_ids`` are removed
too. A row that loses the key stays hidden: the gate cannot show northd a row
it never saw in full, and the compiler never unmarks its rows.

For every hidden row the gate keeps the rows it references strongly (from the
schema when known), because a transaction of northd that deletes such a row
(a ``Datapath_Binding`` or ``Logical_DP_Group``) would otherwise fail with a
referential-integrity error: :func:`rewrite_transaction` adds the deletes of
those hidden rows, :func:`reshape_transact_reply` hides them from the reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ovn_inject.constants import OWNER_KEY
from ovn_inject.errors import OvnInjectError

Json = Any
UUID_KEY_WHERE = "_uuid"


class ProtocolError(OvnInjectError):
    """A peer sent something that is not the OVSDB protocol the gate understands."""


# ---- schema: which columns hold strong references --------------------------------


@dataclass(frozen=True)
class RefColumn:
    """A column whose key and/or value is a strong reference."""

    kind: str  # "scalar", "set" or "map"
    key_is_ref: bool
    value_is_ref: bool


@dataclass(frozen=True)
class Schema:
    """The part of an OVSDB schema the gate needs: strong-reference columns per table."""

    ref_columns: Mapping[str, Mapping[str, RefColumn]]


def _strong_ref(base: Json) -> bool:
    return isinstance(base, dict) and "refTable" in base and base.get("refType", "strong") == "strong"


def schema_from_json(schema: Json) -> Schema:
    """Strong-reference columns of a ``get_schema`` reply."""
    if not isinstance(schema, dict) or not isinstance(schema.get("tables"), dict):
        raise ProtocolError("get_schema reply has no 'tables' object")
    tables: dict[str, dict[str, RefColumn]] = {}
    for table, definition in schema["tables"].items():
        columns: dict[str, RefColumn] = {}
        for column, spec in (definition.get("columns") or {}).items():
            kind_type = spec.get("type") if isinstance(spec, dict) else None
            if not isinstance(kind_type, dict):
                continue
            key_ref = _strong_ref(kind_type.get("key"))
            value_ref = _strong_ref(kind_type.get("value"))
            if not (key_ref or value_ref):
                continue
            if "value" in kind_type:
                kind = "map"
            elif kind_type.get("min", 1) == 1 and kind_type.get("max", 1) == 1:
                kind = "scalar"
            else:
                kind = "set"
            columns[column] = RefColumn(kind, key_ref, value_ref)
        if columns:
            tables[table] = columns
    return Schema(tables)


# ---- OVSDB datum helpers -------------------------------------------------------------


def _atom_key(atom: Json) -> Any:
    """A hashable form of one OVSDB atom."""
    if isinstance(atom, list):
        return tuple(atom) if len(atom) == 2 and isinstance(atom[1], str) else repr(atom)
    return atom


def _elements(datum: Json) -> list[Json]:
    if isinstance(datum, list) and len(datum) == 2 and datum[0] == "set" and isinstance(datum[1], list):
        return datum[1]
    return [datum]


def _pairs(datum: Json) -> list[tuple[Json, Json]]:
    if isinstance(datum, list) and len(datum) == 2 and datum[0] == "map" and isinstance(datum[1], list):
        return [(pair[0], pair[1]) for pair in datum[1] if isinstance(pair, list) and len(pair) == 2]
    return []


def _uuids(atoms: Iterable[Any]) -> set[str]:
    return {atom[1] for atom in atoms if isinstance(atom, tuple) and atom[0] == "uuid"}


def has_owner_key(row: Json, owner_key: str = OWNER_KEY) -> bool:
    """True when ``row`` (a full row or an update2 diff) names ``owner_key`` in external_ids."""
    if not isinstance(row, dict):
        return False
    return any(key == owner_key for key, _ in _pairs(row.get("external_ids")))


# ---- hidden rows ---------------------------------------------------------------------


@dataclass
class HiddenRow:
    """What the gate remembers of a row it hides: enough to keep references intact."""

    table: str
    columns: dict[str, Any] = field(default_factory=dict)  # column -> frozenset or dict of atoms

    def references(self) -> set[str]:
        found: set[str] = set()
        for value in self.columns.values():
            if isinstance(value, dict):
                found |= _uuids(value) | _uuids(value.values())
            else:
                found |= _uuids(value)
        return found


def _ref_spec(schema: Schema | None, table: str) -> Mapping[str, RefColumn] | None:
    if schema is None:
        return None
    return schema.ref_columns.get(table, {})


def _column_value(spec: RefColumn | None, datum: Json) -> Any:
    if spec is not None and spec.kind == "map":
        pairs = _pairs(datum)
        return {_atom_key(k): _atom_key(v) for k, v in pairs}
    return frozenset(_atom_key(atom) for atom in _elements(datum))


def _tracked_columns(schema: Schema | None, table: str, row: Json) -> dict[str, Any]:
    """The reference-bearing columns of a full row."""
    spec = _ref_spec(schema, table)
    columns: dict[str, Any] = {}
    if not isinstance(row, dict):
        return columns
    for column, datum in row.items():
        if spec is None:
            value = _column_value(None, datum)
            if _uuids(value):
                columns[column] = value
        elif column in spec:
            columns[column] = _column_value(spec[column], datum)
    return columns


def _apply_diff(hidden: HiddenRow, schema: Schema | None, diff: Json) -> None:
    """Apply an update2 ``modify`` diff to the tracked columns of a hidden row."""
    spec = _ref_spec(schema, hidden.table)
    if not isinstance(diff, dict):
        return
    for column, datum in diff.items():
        if spec is not None and column not in spec:
            continue
        column_spec = spec[column] if spec is not None else None
        change = _column_value(column_spec, datum)
        if column_spec is not None and column_spec.kind == "scalar":
            hidden.columns[column] = change
        elif isinstance(change, dict):
            current = dict(hidden.columns.get(column, {}))
            for key, value in change.items():
                if current.get(key) == value:
                    del current[key]
                else:
                    current[key] = value
            hidden.columns[column] = current
        else:
            if spec is None and not _uuids(change) and column not in hidden.columns:
                continue
            hidden.columns[column] = frozenset(hidden.columns.get(column, frozenset())) ^ change


@dataclass
class MonitorState:
    """One monitor of one database: the rows it hides from northd."""

    database: str
    hidden: dict[str, HiddenRow] = field(default_factory=dict)


@dataclass
class FilterStats:
    rows_hidden: int = 0
    updates_removed: int = 0


def filter_table_updates(
    updates: Json,
    form: int,
    monitor: MonitorState,
    schema: Schema | None,
    owner_key: str = OWNER_KEY,
    stats: FilterStats | None = None,
) -> Json:
    """``updates`` (form 1 = ``update``, 2 = ``update2``/``update3``) without hidden rows.

    Updates ``monitor.hidden`` as rows appear, change and disappear.
    """
    if not isinstance(updates, dict):
        raise ProtocolError(f"table updates must be a JSON object, got {type(updates).__name__}")
    result: dict[str, Json] = {}
    hidden = monitor.hidden
    for table, rows in updates.items():
        if not isinstance(rows, dict):
            raise ProtocolError(f"updates of table {table!r} must be a JSON object")
        kept: dict[str, Json] = {}
        for uuid, change in rows.items():
            if not isinstance(change, dict):
                raise ProtocolError(f"update of row {uuid} in {table!r} must be a JSON object")
            shown = (
                _filter_row_v1(table, uuid, change, hidden, schema, owner_key, stats)
                if form == 1
                else _filter_row_v2(table, uuid, change, hidden, schema, owner_key, stats)
            )
            if shown is not None:
                kept[uuid] = shown
        if kept:
            result[table] = kept
    return result


def _hide(
    table: str, uuid: str, row: Json, hidden: dict[str, HiddenRow], schema: Schema | None, stats: Any
) -> None:
    hidden[uuid] = HiddenRow(table, _tracked_columns(schema, table, row))
    if stats is not None:
        stats.rows_hidden += 1


def _filter_row_v2(
    table: str,
    uuid: str,
    change: dict[str, Json],
    hidden: dict[str, HiddenRow],
    schema: Schema | None,
    owner_key: str,
    stats: FilterStats | None,
) -> Json | None:
    if uuid in hidden:
        if "delete" in change:
            del hidden[uuid]
        elif "modify" in change:
            _apply_diff(hidden[uuid], schema, change["modify"])
        elif "insert" in change or "initial" in change:
            row = change.get("insert", change.get("initial"))
            hidden[uuid] = HiddenRow(table, _tracked_columns(schema, table, row))
        if stats is not None:
            stats.updates_removed += 1
        return None
    row = change.get("initial", change.get("insert"))
    if row is not None:
        if has_owner_key(row, owner_key):
            _hide(table, uuid, row, hidden, schema, stats)
            return None
        return change
    if "modify" in change and has_owner_key(change["modify"], owner_key):
        # A row northd saw became ours: northd must forget it.
        _hide(table, uuid, change["modify"], hidden, schema, stats)
        return {"delete": None}
    return change


def _filter_row_v1(
    table: str,
    uuid: str,
    change: dict[str, Json],
    hidden: dict[str, HiddenRow],
    schema: Schema | None,
    owner_key: str,
    stats: FilterStats | None,
) -> Json | None:
    new = change.get("new")
    if uuid in hidden:
        if new is None:
            del hidden[uuid]
        else:
            hidden[uuid] = HiddenRow(table, _tracked_columns(schema, table, new))
        if stats is not None:
            stats.updates_removed += 1
        return None
    if new is not None and has_owner_key(new, owner_key):
        _hide(table, uuid, new, hidden, schema, stats)
        if "old" in change:  # it was visible before: northd must forget it
            return {"old": change["old"]}
        return None
    return change


# ---- transactions ------------------------------------------------------------------


def _deleted_uuid(operation: Json) -> str | None:
    """The row a ``delete`` operation names by ``_uuid ==``, as the IDL writes it."""
    if not isinstance(operation, dict) or operation.get("op") != "delete":
        return None
    where = operation.get("where")
    if not isinstance(where, list) or len(where) != 1:
        return None
    clause = where[0]
    if (
        isinstance(clause, list)
        and len(clause) == 3
        and clause[0] == UUID_KEY_WHERE
        and clause[1] == "=="
        and isinstance(clause[2], list)
        and len(clause[2]) == 2
        and clause[2][0] == "uuid"
        and isinstance(clause[2][1], str)
    ):
        return clause[2][1]
    return None


def hidden_references(monitors: Iterable[MonitorState], database: str) -> dict[str, set[str]]:
    """Referenced uuid -> hidden rows (uuids) that reference it, over one database."""
    index: dict[str, set[str]] = {}
    for monitor in monitors:
        if monitor.database != database:
            continue
        for uuid, row in monitor.hidden.items():
            for target in row.references():
                index.setdefault(target, set()).add(uuid)
    return index


def rewrite_transaction(params: Json, monitors: Iterable[MonitorState]) -> tuple[Json, int]:
    """``transact`` params plus deletes of hidden rows that reference rows it deletes.

    Returns the new params and how many operations were appended.
    """
    if not isinstance(params, list) or not params or not isinstance(params[0], str):
        raise ProtocolError("transact params must be [database, operation...]")
    monitors = list(monitors)
    index = hidden_references(monitors, params[0])
    if not index:
        return params, 0
    tables = {uuid: row.table for monitor in monitors for uuid, row in monitor.hidden.items()}
    doomed: list[str] = []
    seen: set[str] = set()
    for operation in params[1:]:
        target = _deleted_uuid(operation)
        if target is None:
            continue
        for uuid in sorted(index.get(target, ())):
            if uuid not in seen:
                seen.add(uuid)
                doomed.append(uuid)
    if not doomed:
        return params, 0
    extra = [
        {"op": "delete", "table": tables[uuid], "where": [[UUID_KEY_WHERE, "==", ["uuid", uuid]]]}
        for uuid in doomed
    ]
    return [*params, *extra], len(extra)


def reshape_transact_reply(result: Json, original_ops: int, appended: int) -> Json:
    """The reply northd's own transaction would have got: results of appended ops removed.

    A commit error (one element past the operations) is kept at the end.
    """
    if not appended or not isinstance(result, list):
        return result
    return result[:original_ops] + result[original_ops + appended :]
