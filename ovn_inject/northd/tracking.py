"""An OVS IDL that remembers which rows changed since the daemon last looked.

The daemon recompiles from in-memory rows; knowing which tables (and which
Service_Flow rows) changed lets it skip a pass that cannot change anything
(NB_Global's ``hv_cfg`` moving, our own rows echoed back) and re-read only
the rows that changed. When the IDL changed in a way it gave no row notice
for (its first dump, a reconnection that cleared it, a lock acquired), the
changes are reported as "everything".

Rows are built lazily: python-ovs turns every column of every row it
receives into a checked Datum (and compares it with a default one) before
anyone reads it, which made the IDL the largest cost of a cold start (the
initial dump of 10,000 flows, then the echo of the 11,000 rows the daemon
writes to SB, which it never reads). Here a row inserted by the server keeps
the JSON of its columns (``db.lazyrows``), and a column becomes a Datum the
first time it is read through the row; ``db.lazyrows.read`` reads it from
the JSON without building one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ovs.db.error
import ovs.db.idl
import ovs.ovsuuid

from ovn_inject.db import lazyidl
from ovn_inject.ovs_json import install as _linear_json

# Without its C extension (the index's wheel has none) python-ovs parses JSON per character.
_linear_json()


@dataclass
class Changes:
    """What changed in one IDL; ``everything`` means: assume any row may have."""

    everything: bool = False
    rows: dict[str, set[uuid.UUID]] = field(default_factory=dict)

    def touched(self, *tables: str) -> bool:
        return self.everything or any(table in self.rows for table in tables)

    def any_but(self, *tables: str) -> bool:
        return self.everything or any(table not in tables for table in self.rows)

    def of(self, table: str) -> set[uuid.UUID] | None:
        """The changed rows of ``table``; None when every row must be re-read."""
        return None if self.everything else self.rows.get(table, set())

    def merge(self, other: Changes) -> None:
        self.everything = self.everything or other.everything
        for table, rows in other.rows.items():
            self.rows.setdefault(table, set()).update(rows)


class TrackingIdl(lazyidl.LazyRows, ovs.db.idl.Idl):
    """``ignore``: table -> columns whose changes alone are not reported (echoes of our own writes)."""

    def __init__(self, *args: Any, ignore: Mapping[str, frozenset[str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ignore = dict(ignore or {})
        self._pending = Changes(everything=True)
        self._notices = 0
        self._seen_seqno = self.change_seqno

    def _Idl__do_parse_update(self, table_updates: Any, version: str, tables: Any) -> None:
        """python-ovs's loop over the rows of an update2/update3, for less per row.

        The same checks, notices and order; it parses each row's uuid once
        (python-ovs validates it twice) and skips its per-row hook for green
        threads, which the daemon does not use. On a cold start the echo of
        the daemon's own 11,000 SB inserts goes through here while the pass
        is still writing.
        """
        if version not in (ovs.db.idl.OVSDB_UPDATE2, ovs.db.idl.OVSDB_UPDATE3) or not isinstance(
            table_updates, dict
        ):
            super()._Idl__do_parse_update(table_updates, version, tables)
            return
        process = self._Idl__process_update2
        server = tables is self.server_tables
        notices = []
        for table_name, table_update in table_updates.items():
            table = tables.get(table_name)
            if not table:
                raise ovs.db.error.Error(f'<table-updates> includes unknown table "{table_name}"')
            if not isinstance(table_update, dict):
                raise ovs.db.error.Error(f'<table-update> for table "{table_name}" is not an object')
            for uuid_string, row_update in table_update.items():
                if not ovs.ovsuuid.is_valid_string(uuid_string):
                    raise ovs.db.error.Error(
                        f'<table-update> for table "{table_name}" contains bad UUID "{uuid_string}"'
                    )
                if not isinstance(row_update, dict):
                    raise ovs.db.error.Error(
                        f'<table-update> for table "{table_name}" contains a <row-update> '
                        f"for {uuid_string} that is not an object"
                    )
                changes = process(table, uuid.UUID(uuid_string), row_update)
                if changes and not server:
                    notices.append(changes)
                    self.change_seqno += 1
        for notice in notices:
            self.notify(*notice)

    @staticmethod
    def keeps_rows_as_json() -> bool:
        """Whether new rows stay JSON until read (the override of db.lazyidl is in use)."""
        return lazyidl.keeps_rows_as_json()

    def notify(self, event: Any, row: Any, updates: Any = None) -> None:
        self._notices += 1
        table = row._table.name
        if event == ovs.db.idl.ROW_UPDATE and updates is not None and table in self._ignore:
            changed = getattr(updates, "_data", None) or {}
            if changed and set(changed) <= self._ignore[table]:
                return
        self._pending.rows.setdefault(table, set()).add(row.uuid)

    def take_changes(self) -> Changes:
        """The changes since the last call (call after ``run``)."""
        # Every row notice bumps change_seqno once; any other bump is a change
        # the IDL did not describe row by row.
        if self.change_seqno - self._seen_seqno > self._notices:
            self._pending.everything = True
        changes = self._pending
        self._pending = Changes()
        self._notices = 0
        self._seen_seqno = self.change_seqno
        return changes

    def has_unseen_changes(self) -> bool:
        """Changes arrived since ``take_changes`` (e.g. read while a transaction committed).

        Such changes sit in memory with nothing left on the socket to wake the
        poller, so the caller must wake at once to look at them.
        """
        return self.change_seqno != self._seen_seqno


def _can_override(idl_class: type) -> bool:
    """Whether python-ovs still has the private handler the insert override replaces (db.lazyidl)."""
    return lazyidl.can_override(idl_class)
