"""IDL rows kept as the server's JSON until a column is read, and a reader that needs no Datum.

python-ovs turns every column of every row it receives into a checked Datum
(and compares it with a default one) before anyone reads it, then reading a
column through the row (``row.name``) checks the transaction's changes and
converts the Datum to Python again. For the daemon's cold start (10,000
flows, 3,000 NB rows, and the echo of 11,000 rows it writes to SB) that was
most of its CPU. :class:`LazyColumns` is a row's committed data that parses
a column when python-ovs reads it; :func:`read` returns the Python value
python-ovs would return, straight from the JSON, for the column types the
daemon reads (anything else is read through the row).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ovs.db.data
import ovs.db.error
import ovs.db.idl
import ovs.db.types
import ovs.ovsuuid

_ATOMS = {"string", "integer", "real", "boolean", "uuid"}


class LazyColumns(ovs.db.idl.ColumnDefaultDict):
    """A row's committed data (``Row._data``) whose columns are parsed from the server's JSON when read.

    Behaves as python-ovs's own dictionary: every column of the table is in
    it, and one the server left out (its default) reads as the default. The
    JSON of a column stays valid while the column was never parsed (a
    modification parses the columns it changes first).
    """

    __slots__ = ("_raw",)

    def __init__(self, table: Any, raw: dict[str, Any]) -> None:
        super().__init__(table)
        self._raw = raw

    def __missing__(self, column: str) -> Any:
        kind = self._table.columns[column].type
        raw = self._raw
        if column in raw:
            value = raw.pop(column)  # parsed once: from now on the row's Datum says
        elif kind.n_min != 0 and not kind.is_map():
            # A required column left out: its default, built as python-ovs builds it (from JSON;
            # its Datum.default reads back as an Atom, not a value).
            value = kind.key.type.default
            if kind.key.type == ovs.db.types.UuidType:
                value = ovs.ovsuuid.to_json(value)
        else:
            return ovs.db.data.Datum.default(kind)  # an empty set or map
        try:
            datum = self[column] = ovs.db.data.Datum.from_json(kind, value)
        except ovs.db.error.Error:  # python-ovs leaves a column it cannot parse at its default
            return ovs.db.data.Datum.default(kind)
        return datum

    def get(self, column: str, default: Any = None) -> Any:
        # dict.get would not parse a column that is still JSON
        return self[column] if column in self else default  # noqa: SIM401


UNREAD: Any = object()


def raw_uuid(data: LazyColumns, column: str) -> Any:
    """The uuid an optional uuid column holds (None if empty) from a row's JSON, or ``UNREAD``
    where the JSON is not one such (the Datum then says)."""
    value = data._raw.get(column, _ABSENT)
    if value is _ABSENT:
        return None  # left out: its default, the empty set
    if type(value) is list and len(value) == 2 and value[0] == "uuid":
        text = value[1]
        found = _PARSED.get(text) if type(text) is str else None
        if found is not None:
            return found
        try:
            found = ovs.ovsuuid.from_json(value)  # as Atom.from_json reads it
        except ovs.db.error.Error:
            return UNREAD
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = found
        return found
    return UNREAD


#: The uuids raw_uuid parsed last, by their text: a service's flows all name it (bounded: a cache).
_PARSED: dict[str, uuid.UUID] = {}
_PARSED_MAX = 256


def read(row: Any, column: str) -> Any:
    """``getattr(row, column)``, from the row's JSON when it still has it.

    Scalars, optional values, sets of non-references and string maps; a
    reference becomes its row (a dangling one is left out of a set, as
    python-ovs does).
    """
    data = row._data
    if type(data) is LazyColumns and not row._changes and not dict.__contains__(data, column):
        schema = row._table.columns.get(column)
        if schema is not None:
            decode = _DECODERS.get(schema)
            if decode is None:
                decode = _DECODERS[schema] = _decoder(schema)
            if decode is not _UNSUPPORTED:
                return decode(row, data._raw.get(column, _ABSENT))
    return getattr(row, column)


_ABSENT = object()
Decoder = Callable[[Any, Any], Any]


def _unsupported(row: Any, value: Any) -> Any:
    raise AssertionError("never called")


_UNSUPPORTED: Decoder = _unsupported
#: column schema -> how to turn its JSON (or _ABSENT: the default) into python-ovs's value
_DECODERS: dict[Any, Decoder] = {}


def _decoder(schema: Any) -> Decoder:
    name, kind = schema.name, schema.type
    key = kind.key
    if key.type.to_string() not in _ATOMS:
        return _UNSUPPORTED
    is_uuid = key.type == ovs.db.types.UuidType
    if kind.is_map():
        if kind.value.type.to_string() not in ("string", "integer") or key.ref_table_name:
            return _UNSUPPORTED
        return lambda row, value: {} if value is _ABSENT else dict(value[1])
    if kind.is_scalar():
        if is_uuid:
            return lambda row, value: getattr(row, name) if value is _ABSENT else _atom(row, key, value)
        default = key.type.default
        return lambda row, value: default if value is _ABSENT else value

    # an optional value or a set: python-ovs returns a sorted list
    def atoms(value: Any) -> list[Any]:
        return value[1] if isinstance(value, list) and value and value[0] == "set" else [value]

    if not is_uuid:
        return lambda row, value: [] if value is _ABSENT else sorted(set(atoms(value)))
    if kind.n_max != 1 and key.ref_table_name is None:
        return lambda row, value: [] if value is _ABSENT else sorted({uuid.UUID(a[1]) for a in atoms(value)})

    def refs(row: Any, value: Any) -> list[Any]:
        if value is _ABSENT:
            return []
        found = {_atom(row, key, atom) for atom in atoms(value)}
        found.discard(None)
        return sorted(found)

    return refs


def _atom(row: Any, key: Any, value: list[str]) -> Any:
    """A uuid atom (``["uuid", "..."]``): a uuid.UUID, or the row it refers to (None when gone)."""
    target = uuid.UUID(value[1])
    if key.ref_table_name is None:
        return target
    return row._idl.tables[key.ref_table_name].rows.get(target)


class Reader:
    """A row whose columns are read with :func:`read` (``uuid`` is the row's)."""

    __slots__ = ("_row", "uuid")

    def __init__(self, row: Any) -> None:
        self._row = row
        self.uuid = row.uuid

    def __getattr__(self, column: str) -> Any:
        return read(self._row, column)


class Readers(Mapping[uuid.UUID, Reader]):
    """An IDL table's ``rows``, each handed as a :class:`Reader`."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Mapping[uuid.UUID, Any]) -> None:
        self._rows = rows

    def __getitem__(self, key: uuid.UUID) -> Reader:
        return Reader(self._rows[key])

    def __iter__(self) -> Iterator[uuid.UUID]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)
