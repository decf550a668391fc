"""IDL update handling for less per row: new rows kept as JSON, set diffs without a whole-set compare.

Two of python-ovs's private per-row handlers are replaced, each only where
python-ovs still has it with the same parameters (:func:`can_override`);
elsewhere python-ovs's own run, slower and as correct.

- A row inserted by the server keeps the JSON of its columns
  (:class:`~ovn_inject.db.lazyrows.LazyColumns`) and a column becomes a Datum
  the first time it is read. python-ovs parses and checks every column of every
  new row on arrival: the compiler daemon's cold start (10,000 flows, then the
  echo of the 11,000 SB rows it writes) and the gateway's echo of each flow it
  inserts, of which it reads four columns.
- A modification's set diff is applied as python-ovs applies it (in place),
  but without then comparing the set with itself: python-ovs compares the
  changed datum with the row's, which is the same object for a set, key by key
  through a Python ``__hash__``. A service's ``flows`` set has a key per flow,
  so every flow write cost O(flows stored) in the gateway's IDL thread.
"""

from __future__ import annotations

import logging
import uuid
import weakref
from typing import Any

import ovs.db.data
import ovs.db.error
import ovs.db.idl
from ovs.db.custom_index import IndexedRows

from ovn_inject.db.lazyrows import LazyColumns

LOG = logging.getLogger("ovn_inject.db.lazyidl")

#: The private handlers replaced here and the parameters each must have in python-ovs.
HANDLERS = {
    "_Idl__process_update2": ("self", "table", "uuid", "row_update"),
    "_Idl__apply_diff": ("self", "table", "row", "row_diff"),
}


class LazyRows:
    """Mixin for an ``ovs.db.idl.Idl`` subclass (first among its bases): the handlers above.

    ``lazy_tables``: the tables whose new rows stay JSON (None: every table).
    """

    lazy_tables: frozenset[str] | None = None

    def _Idl__process_update2(self, table: Any, uuid: uuid.UUID, row_update: dict[str, Any]) -> Any:
        """python-ovs's handling of one row of an update2/update3, with new rows kept as JSON.

        Modifications and deletions go to python-ovs as they are (a
        modification reads the columns it changes, which parses them first).
        """
        new = row_update.get("insert")
        if new is None:
            new = row_update.get("initial")
        lazy = self.lazy_tables
        if new is None or not isinstance(new, dict) or (lazy is not None and table.name not in lazy):
            return super()._Idl__process_update2(table, uuid, row_update)  # type: ignore[misc]
        rows = table.rows
        if uuid in rows:
            del rows[uuid]  # as python-ovs does (it warns: the server sent a row twice)
        row = ovs.db.idl.Row(self, table, uuid, LazyColumns(table, new))
        if type(rows) is IndexedRows and not rows.indexes:
            rows.data[uuid] = [row]  # what its __setitem__ does, without a KeyError per new row
        else:
            rows[uuid] = row
        # As python-ovs: a new row is a change if it sets a column that alerts (every monitored
        # column but read-only ones); the server leaves out the columns at their default.
        columns = table.columns
        if any(name in columns and columns[name].alert for name in new):
            return ovs.db.idl.Notice(ovs.db.idl.ROW_CREATE, row)
        return False

    def _Idl__apply_diff(self, table: Any, row: Any, row_diff: dict[str, Any]) -> dict[str, Any]:
        """python-ovs's, but a datum that the diff changed in place is not compared with itself.

        Returns the old values of the changed columns (for the notice), as python-ovs does.
        """
        old_row: dict[str, Any] = {}
        for column_name, datum_diff_json in row_diff.items():
            column = table.columns.get(column_name)
            if not column:
                LOG.warning("unknown column %s updating table %s", column_name, table.name)
                continue
            try:
                datum_diff = ovs.db.data.Datum.from_json(column.type, datum_diff_json)
            except ovs.db.error.Error as e:
                LOG.warning("error parsing column %s in table %s: %s", column_name, table.name, e)
                continue
            data = row._data
            current = data[column_name]
            before: weakref.WeakValueDictionary[int, _Before] | None = self.__dict__.get("_lazy_before")
            if before is None:
                before = self.__dict__["_lazy_before"] = weakref.WeakValueDictionary()
            pending = before.get(id(current))
            if pending is not None:
                pending.values  # noqa: B018 (a notice still held reads it: build it before the change)
            values = current.values
            undo = {key: values.get(key, _MISSING) for key in datum_diff.values}
            datum = current.diff(datum_diff)
            if datum is current and _REBUILDS:  # changed in place: rebuilt from the diff when read
                old_row[column_name] = before[id(current)] = _Before(current, undo)
            else:
                old_row[column_name] = current.copy()
            # The datum the row holds, changed in place, equals itself: python-ovs's compare would
            # say so after visiting every key. A default one (not held: built when read) is compared.
            if datum is not dict.get(data, column_name) and datum != data[column_name]:
                data[column_name] = datum
        return old_row


_MISSING = object()
#: A Datum is its ``type`` and ``values`` alone, which :class:`_Before` sets (python-ovs copies otherwise).
_REBUILDS = getattr(ovs.db.data.Datum, "__slots__", None) == ("type", "values")


class _Before(ovs.db.data.Datum):
    """A column's value before a diff changed its Datum in place, rebuilt from the diff when read.

    python-ovs copies the whole Datum for every modification's notice: a
    service's ``flows`` set, a key per flow, on every flow write. Here the
    notice's old value keeps the live Datum and, per key the diff touched,
    its value before (``_MISSING``: absent). The IDL builds it before the live
    Datum changes again (while a notice still holds it), so it stays right.
    """

    __slots__ = ("__weakref__", "_built", "_live", "_undo")

    def __init__(self, live: Any, undo: dict[Any, Any]) -> None:  # no super().__init__: values is built
        self.type = live.type  # type: ignore[misc]  # Datum's slot (python-ovs has no hints)
        self._live = live
        self._undo = undo
        self._built: dict[Any, Any] | None = None

    @property
    def values(self) -> dict[Any, Any]:
        built = self._built
        if built is None:
            built = dict(self._live.values)
            for key, value in self._undo.items():
                if value is _MISSING:
                    built.pop(key, None)
                else:
                    built[key] = value
            self._built = built
        return built


def can_override(idl_class: type, name: str = "_Idl__process_update2") -> bool:
    """Whether ``idl_class`` (python-ovs's Idl) has the private handler ``name`` with the parameters
    the override expects.

    The overrides are speed-ups only: on a python-ovs that renamed or changed
    a handler, its own runs.
    """
    method = idl_class.__dict__.get(name)
    code = getattr(method, "__code__", None)
    if code is None:
        return False
    return tuple(code.co_varnames[: code.co_argcount]) == HANDLERS[name]


def keeps_rows_as_json() -> bool:
    """Whether new rows stay JSON until read (the insert override is in use)."""
    return "_Idl__process_update2" in LazyRows.__dict__


for _name in HANDLERS:
    if not can_override(ovs.db.idl.Idl, _name):
        delattr(LazyRows, _name)
