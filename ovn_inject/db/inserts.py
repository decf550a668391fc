"""Inserting a row with its columns at once: each Datum built directly, not through ``Row.__setattr__``.

python-ovs writes one column of a row at a time: ``row.x = v`` first asks
whether the row has ``x`` (for a new row, an AttributeError built and caught
per column), converts the value with every check twice, walks the table's
indexes, then copies the Datum it just built. For the gateway, eight columns
of every flow it inserts: a fifth of its IDL thread's CPU.

:func:`insert` builds the Datum of a column whose value has a plain shape (an
atom, or a list or set of atoms) as ``Datum.from_python`` would, with the
same type and constraint checks, and stores it where ``Transaction._write``
stores a new row's column. Anything else (a map, a value python-ovs would
refuse and log, a table with indexes or read-only columns, a python-ovs
whose internals differ: :func:`can_write_directly`) goes through the row's
own ``__setattr__``, so python-ovs decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ovs.db.data
import ovs.db.idl
import ovs.db.types

#: python-ovs's code this relies on: a new row's written columns are ``_changes[name] = datum``.
WRITE_PARAMETERS = ("self", "row", "column", "datum")


def can_write_directly(row_class: type = ovs.db.idl.Row, txn_class: type = ovs.db.idl.Transaction) -> bool:
    """Whether python-ovs keeps a row's pending writes as this module expects.

    ``Transaction._write(row, column, datum)`` stores ``row._changes[column.name]``;
    ``Row.__init__`` creates ``_changes`` and ``__setattr__`` goes to ``_write``; a Datum is
    its ``type`` and ``values`` alone (what :class:`_Written` sets).
    """
    if getattr(ovs.db.data.Datum, "__slots__", None) != ("type", "values"):
        return False
    write = getattr(txn_class.__dict__.get("_write"), "__code__", None)
    init = getattr(row_class.__dict__.get("__init__"), "__code__", None)
    setattr_ = getattr(row_class.__dict__.get("__setattr__"), "__code__", None)
    if write is None or init is None or setattr_ is None:
        return False
    return (
        tuple(write.co_varnames[: write.co_argcount]) == WRITE_PARAMETERS
        and "_changes" in write.co_names
        and "_changes" in init.co_consts
        and "_write" in setattr_.co_names
    )


DIRECT = can_write_directly()


def can_add_directly(row_class: type = ovs.db.idl.Row) -> bool:
    """Whether ``Row.addvalue(column_name, key)`` checks ``key`` and then adds it to
    ``_mutations["_inserts"][column_name]`` (a set), as :func:`add_value` does without the check."""
    code = getattr(row_class.__dict__.get("addvalue"), "__code__", None)
    return (
        code is not None
        and tuple(code.co_varnames[: code.co_argcount]) == ("self", "column_name", "key")
        and "_inserts" in code.co_consts
        and {"_mutations", "_txn_rows", "setdefault", "add"} <= set(code.co_names)
    )


ADD_DIRECT = can_add_directly()


class _Written(ovs.db.data.Datum):
    """A column's Datum as ``Datum.from_python`` builds it, with what the commit asks of it computed
    once: whether it is the type's default (a new row's default columns are not sent) and its JSON."""

    __slots__ = ("_default", "_json")

    def __init__(self, kind: Any, values: dict[Any, None], default: bool, json: Any) -> None:
        self.type = kind  # type: ignore[misc]  # Datum's slots (python-ovs has no hints)
        self.values = values  # type: ignore[misc]
        self._default = default
        self._json = json

    def is_default(self) -> bool:
        return self._default

    def to_json(self) -> Any:
        return self._json


@dataclass(frozen=True)
class _Column:
    kind: Any  # ovs.db.types.Type
    key: Any  # its key's ovs.db.types.BaseType
    atomic: Any  # its key's ovs.db.types.AtomicType
    default: Any  # Datum.default(kind).values
    is_uuid: bool
    allows: Callable[[Any], bool]  # Atom.check_constraints of the key, on a value of its type


#: Where a table (an IdlTable) keeps what building its columns' datums needs: python-ovs reads a
#: column's type through ``IdlColumn.__getattr__``, a Python call per column per row.
_PLAN = "_ovn_inject_columns"


def _columns(table: Any) -> dict[str, _Column | None]:
    found: dict[str, _Column | None] | None = vars(table).get(_PLAN)
    if found is None:
        found = {}
        for name, column in table.columns.items():
            kind = column.type
            found[name] = (
                None
                if kind.is_map()
                else _Column(
                    kind,
                    kind.key,
                    kind.key.type,
                    ovs.db.data.Datum.default(kind).values,
                    kind.key.type == ovs.db.types.UuidType,
                    _constraints(kind.key),
                )
            )
        setattr(table, _PLAN, found)
    return found


def columns_of(table: Any) -> dict[str, _Column | None]:
    """Each column of ``table`` (an IdlTable) as :func:`insert` checks it; None for a map."""
    return _columns(table)


def _constraints(base: Any) -> Callable[[Any], bool]:
    """``Atom.check_constraints(base)`` as a test of a value (of base's type) that raises nothing.

    The same tests in the same order: an enum alone if there is one, else an
    integer's or real's range, else a string's length; a uuid's or boolean's
    are none (python-ovs leaves a reference's to the server).
    """
    if base.enum is not None:
        allowed = frozenset(atom.value for atom in base.enum.values)
        return allowed.__contains__
    if base.type in (ovs.db.types.IntegerType, ovs.db.types.RealType):
        low, high = base.min, base.max
        return lambda value: (low is None or value >= low) and (high is None or value <= high)
    if base.type == ovs.db.types.StringType:
        shortest, longest = base.min_length, base.max_length
        return lambda value: shortest <= len(value) <= longest
    return lambda value: True


def insert(txn: Any, table: Any, values: Mapping[str, Any], new_uuid: uuid.UUID | None = None) -> Any:
    """``txn.insert(table)`` with ``values`` (column -> Python value) written, as ``row.column = value``."""
    row = txn.insert(table, new_uuid)
    direct = DIRECT and not getattr(table.rows, "indexes", True)
    changes = row.__dict__["_changes"] if direct else None
    if type(changes) is not dict or row._data is not None:
        direct = False
    columns = _columns(table) if direct else {}
    readonly = row._idl.readonly.get(table.name, ())  # python-ovs warns and drops such a write
    for name, value in values.items():
        column = columns.get(name) if name not in readonly else None
        datum = _datum(column, value) if column is not None else None
        if datum is None:
            setattr(row, name, value)  # python-ovs's own path: it checks, converts (or refuses and logs)
        else:
            assert changes is not None
            changes[name] = datum
    return row


def add_value(row: Any, column_name: str, key: Any) -> None:
    """``row.addvalue(column_name, key)``; for a row (or uuid) added to a set of uuids, without
    python-ovs's check of it, which cannot fail there (a uuid has no constraint it checks)."""
    column = _columns(row._table).get(column_name) if ADD_DIRECT else None
    if (
        column is None
        or not column.is_uuid
        or column.key.enum is not None
        or column.kind.n_max < 1
        or not isinstance(key, ovs.db.idl.Row | uuid.UUID)
        or type(row._mutations) is not dict
    ):
        row.addvalue(column_name, key)
        return
    row._idl.txn._txn_rows[row.uuid] = row
    row._mutations.setdefault("_inserts", {}).setdefault(column_name, set()).add(key)


def _datum(column: _Column, value: Any) -> _Written | None:
    """``Datum.from_python(kind, value)`` for an atom or a list, tuple or set of atoms; None otherwise
    (a value python-ovs would refuse: it then refuses it itself)."""
    kind = column.kind
    if isinstance(value, (list, tuple, set)):
        if not kind.n_min <= len(value) <= kind.n_max:
            return None
        values: dict[Any, None] = {}
        for item in value:
            atom = _atom(column, item)
            if atom is None:
                return None
            values[atom] = None
        if len(values) < kind.n_min:  # duplicates folded
            return None
    else:
        atom = _atom(column, value)
        if atom is None:
            return None
        values = {atom: None}
    return _Written(kind, values, values == column.default, _json(column, values))


def _json(column: _Column, values: dict[Any, None]) -> Any:
    """``Datum.to_json`` of a set or an atom (not a map)."""
    if len(values) == 1:
        (atom,) = values
        return ["uuid", str(atom.value)] if column.is_uuid else atom.value
    atoms = sorted(values)
    return ["set", [["uuid", str(a.value)] if column.is_uuid else a.value for a in atoms]]


def _atom(column: _Column, value: Any) -> Any:
    """``Atom.from_python`` of a row, uuid, int, str or bool (as python-ovs converts a row to its uuid)."""
    if isinstance(value, ovs.db.idl.Row):
        value = value.uuid
    atomic = column.atomic
    if type(value) not in (str, int, bool, uuid.UUID) or not isinstance(value, atomic.python_types):
        return None
    return ovs.db.data.Atom(atomic, value) if column.allows(value) else None
