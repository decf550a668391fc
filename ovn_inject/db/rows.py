"""Reading IDL rows of OVN_Inject at O(1) per request, for services with many flows."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ovs.db.idl

from ovn_inject.core.validate import FlowKey
from ovn_inject.db.lazyrows import UNREAD, LazyColumns, raw_uuid, read

#: The Service column every flow writer bumps: verifying it guards a write at O(1)
#: where verifying ``flows`` sends the whole set (every uuid) with the transaction.
FLOWS_VERSION = "flows_seqno"


def _committed(row: Any, column: str) -> Any:
    """The column's datum as the server last sent it, or None for a row that has none (inserted here).

    Never ``_data.get``: python-ovs keeps a column at its default out of
    ``_data`` until it is read by subscript (ColumnDefaultDict), and falling
    back to ``getattr`` then reads the open transaction's own inserts, which
    a group commit also counts in :class:`Staged` (a fresh service's first
    group was counted twice against its quota).
    """
    data = getattr(row, "_data", None)
    if data is None or column not in data:
        return None
    return data[column]


def committed_scalar(row: Any, column: str) -> Any:
    """A scalar column as the server last sent it (None if the row has no such datum), for a reader
    on another thread than ovsdbapp's: ``getattr`` consults the open transaction's ``_changes`` and
    ``_mutations``, which python-ovs replaces as the transaction ends, between two of its own
    lookups (``KeyError: '_inserts'`` on the gateway's event loop, 2 requests in 20,000)."""
    data = getattr(row, "_data", None)
    # Only a datum the server sent: python-ovs's default datum of a string holds an Atom in an Atom.
    datum = dict.get(data, column) if data is not None else None
    return datum.as_scalar() if datum is not None else None


def current(row: Any, column: str) -> Any:
    """``getattr(row, column)`` in ovsdbapp's thread, without python-ovs's rebuild of the column's datum
    where the open transaction left the column alone.

    python-ovs turns a set's or map's datum into Python, back into a checked
    datum, and into Python again on every read. A column the transaction
    wrote or mutated, or a row it inserted or deleted, is read through python-ovs.
    """
    changes = row._changes
    mutations = row._mutations
    data = row._data
    if (
        type(changes) is not dict
        or column in changes
        or type(mutations) is not dict
        or any(column in found for found in mutations.values())
        or data is None
        or column not in row._table.columns
    ):
        return getattr(row, column)
    return data[column].to_python(row._uuid_to_row)


def set_size(row: Any, column: str) -> int:
    """How many references a set column holds as committed, without python-ovs building a list of rows.

    ``len(row.flows)`` turns every uuid into a Row and sorts them: 130 ms for
    6,000 flows, per request. The IDL's datum holds the uuids already.
    """
    datum = _committed(row, column)
    return len(datum.values) if datum is not None else len(getattr(row, column))


def set_uuids(row: Any, column: str) -> list[uuid.UUID]:
    """The uuids a set column holds as committed (see :func:`set_size`)."""
    datum = _committed(row, column)
    if datum is None:
        return [r.uuid for r in getattr(row, column)]
    return [atom.value for atom in datum.values]


def row_cost(row: Any) -> int:
    """The OpenFlow cost stored on a flow row (0 on a row written before the column existed)."""
    if type(getattr(row, "_data", None)) is LazyColumns:  # read from its JSON (db.lazyidl)
        try:
            return int(read(row, "openflow_flows") or 0)
        except AttributeError:
            return 0
    return int(getattr(row, "openflow_flows", 0) or 0)


def _ref(row: Any, column: str) -> uuid.UUID | None:
    """The uuid an optional reference holds, read from the datum (the row it names may be gone).

    A row still kept as JSON (db.lazyidl) is read from it, without a Datum.
    """
    data = row._data
    if type(data) is LazyColumns and not dict.__contains__(data, column):
        found = raw_uuid(data, column)
        if found is not UNREAD:
            return found
    datum = data.get(column)
    if datum is None:
        return None
    for atom in datum.values:
        return atom.value
    return None


def _raw_key(row: Any) -> FlowKey:
    attachment = _ref(row, "attachment")
    key = str(attachment) if attachment is not None else None
    return (key, int(read(row, "priority")), read(row, "match"))


def guard_flows(service: Row) -> None:
    """Make the transaction retry if another writer changed the service's flows meanwhile, at O(1).

    Every flow writer bumps ``flows_seqno`` (see :func:`bump_flows`); a
    database not yet converted to a schema that has it falls back to
    verifying the whole set.
    """
    if FLOWS_VERSION in service._table.columns:
        service.verify(FLOWS_VERSION)
    else:
        service.verify("flows")


def bump_flows(service: Row, staged: Staged | None = None) -> None:
    """Tell concurrent writers (through :func:`guard_flows`) that this transaction changes the flows.

    Once per transaction is enough: ``staged`` remembers it for the commands of a group.
    """
    if staged is not None:
        if service.uuid in staged.bumped:
            return
        staged.bumped.add(service.uuid)
    if FLOWS_VERSION in service._table.columns:
        service.verify(FLOWS_VERSION)
        setattr(service, FLOWS_VERSION, int(current(service, FLOWS_VERSION)) + 1)


Row = Any  # an ovs.db.idl.Row


class FlowIndex:
    """The (attachment, priority, match) keys of every stored flow, by service, kept current by the IDL.

    Installed on an IDL's ``notify``, it is updated in the IDL's thread as
    each update is applied, so a command (which runs in that thread) sees it
    exactly as current as the rows themselves: a duplicate check is a set
    lookup, not a scan of the service's flows. Those columns never change
    after insert (an attachment's deletion deletes its flows with it).
    """

    def __init__(self) -> None:
        self._keys: dict[uuid.UUID, dict[FlowKey, int]] = {}
        self._costs: dict[uuid.UUID, int] = {}
        self._of_flow: dict[uuid.UUID, tuple[uuid.UUID, FlowKey, int]] = {}
        self._lock = threading.Lock()

    def install(self, idl: Any) -> None:
        """Follow ``idl`` from now on; built from its rows first (call with its connection's lock held)."""
        with self._lock:
            for row in idl.tables["Service_Flow"].rows.values():
                self._add(row)
        previous: Callable[..., None] = idl.notify
        flows = idl.tables["Service_Flow"]  # a row's table is the IDL's own (``name`` is a __getattr__)

        def notify(event: str, row: Any, updates: Any = None) -> None:
            previous(event, row, updates)
            if row._table is flows:
                with self._lock:
                    if event == ovs.db.idl.ROW_CREATE:
                        self._add(row)
                    elif event == ovs.db.idl.ROW_DELETE:
                        self._remove(row.uuid)

        idl.notify = notify

    def _add(self, row: Any) -> None:
        service = _ref(row, "service")
        if service is None or row.uuid in self._of_flow:
            return
        key = _raw_key(row)
        keys = self._keys.setdefault(service, {})
        keys[key] = keys.get(key, 0) + 1
        cost = row_cost(row)
        self._costs[service] = self._costs.get(service, 0) + cost
        self._of_flow[row.uuid] = (service, key, cost)

    def _remove(self, flow: uuid.UUID) -> None:
        found = self._of_flow.pop(flow, None)
        if found is None:
            return
        service, key, cost = found
        self._costs[service] -= cost
        keys = self._keys[service]
        if keys[key] > 1:
            keys[key] -= 1
        else:
            del keys[key]
            if not keys:
                del self._keys[service]
                del self._costs[service]

    def holds(self, service: uuid.UUID, key: FlowKey) -> bool:
        return key in self._keys.get(service, {})

    def cost(self, service: uuid.UUID) -> int:
        """The OpenFlow flows the service's stored flows cost together (its budget in use)."""
        return self._costs.get(service, 0)

    def keys_of(self, flows: Iterable[Any]) -> Iterator[FlowKey]:
        """Keys of the given flow rows (what a delete takes away)."""
        for row in flows:
            found = self._of_flow.get(row.uuid)
            yield found[1] if found is not None else _raw_key(row)


class ScanIndex:
    """The same questions answered by reading the service's flows: a one-shot client's index (the CLI)."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self._keys: dict[uuid.UUID, set[FlowKey]] = {}

    def _flows(self, service: uuid.UUID) -> Iterator[Any]:
        row = self._api.tables["Service"].rows.get(service)
        rows = self._api.tables["Service_Flow"].rows
        found = (rows.get(u) for u in (set_uuids(row, "flows") if row is not None else ()))
        return (r for r in found if r is not None)

    def holds(self, service: uuid.UUID, key: FlowKey) -> bool:
        keys = self._keys.get(service)
        if keys is None:
            keys = self._keys[service] = {_raw_key(r) for r in self._flows(service)}
        return key in keys

    def cost(self, service: uuid.UUID) -> int:
        return sum(row_cost(r) for r in self._flows(service))

    def keys_of(self, flows: Iterable[Any]) -> Iterator[FlowKey]:
        return (_raw_key(row) for row in flows)


@dataclass
class Staged:
    """What earlier commands of the same transaction did to each service's flows.

    Group commit runs many requests' commands in one transaction: a later one
    must see the flows an earlier one adds or deletes, which the IDL (and so
    the index) shows only once the transaction commits.
    """

    added: dict[uuid.UUID, set[FlowKey]] = field(default_factory=dict)
    removed: dict[uuid.UUID, set[FlowKey]] = field(default_factory=dict)
    delta: dict[uuid.UUID, int] = field(default_factory=dict)
    cost_delta: dict[uuid.UUID, int] = field(default_factory=dict)
    replaced: set[uuid.UUID] = field(default_factory=set)
    #: Read once per attempt for the commands of a group (no flow command changes them): the tokens
    #: verified, the services whose flows_seqno is bumped, each service's options and attachments.
    guarded: set[str] = field(default_factory=set)
    bumped: set[uuid.UUID] = field(default_factory=set)
    _options: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    _attachments: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    def options(self, service: Any) -> dict[str, str]:
        """The service's options (do not change the dict)."""
        found = self._options.get(service.uuid)
        if found is None:
            found = self._options[service.uuid] = current(service, "options")
        return found

    def attachments(self, service: Any) -> dict[str, Any]:
        """The service's attachment rows by uuid (do not change the dict)."""
        found = self._attachments.get(service.uuid)
        if found is None:
            found = self._attachments[service.uuid] = {
                str(a.uuid): a for a in current(service, "attachments")
            }
        return found

    def holds(self, index: FlowIndex | ScanIndex, service: uuid.UUID, key: FlowKey) -> bool:
        if key in self.added.get(service, ()):
            return True
        if service in self.replaced or key in self.removed.get(service, ()):
            return False
        return index.holds(service, key)

    def cost(self, index: FlowIndex | ScanIndex, service: uuid.UUID) -> int:
        """The service's OpenFlow budget in use, with what this transaction did so far."""
        base = 0 if service in self.replaced else index.cost(service)
        return base + self.cost_delta.get(service, 0)

    def add(self, service: uuid.UUID, keys: Iterable[FlowKey], cost: int = 0) -> None:
        added = self.added.setdefault(service, set())
        removed = self.removed.get(service, set())
        for key in keys:
            added.add(key)
            removed.discard(key)
            self.delta[service] = self.delta.get(service, 0) + 1
        self.cost_delta[service] = self.cost_delta.get(service, 0) + cost

    def remove(self, service: uuid.UUID, keys: Iterable[FlowKey], cost: int = 0) -> None:
        added = self.added.get(service, set())
        removed = self.removed.setdefault(service, set())
        for key in keys:
            added.discard(key)
            removed.add(key)
            self.delta[service] = self.delta.get(service, 0) - 1
        self.cost_delta[service] = self.cost_delta.get(service, 0) - cost
