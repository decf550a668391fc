"""What the gateway keeps in memory: its database connections and a cached NB topology.

Three connections: OVN_Inject through the typed API (an IDL kept current by
ovsdbapp's thread), NB through a monitor of only the tables that say who owns
which port, and a small pool of one-shot JSON-RPC connections for token
lookups. Tokens are looked up with a ``select`` on every request, never from
a cache, so that a revoked token fails on the very next request (on the
event loop, many requests' reads in one round trip: gateway.tokenreads);
writes also ``verify`` the token row, so that no write commits after its
revocation. For that reason a flow add, the hot path, skips the ``select``
when the IDL's replica vouches for its token (:meth:`GatewayState.authenticate_replica`):
its transaction's guard is the server's word, and a replica that lags a
revocation makes the transaction retry and the write fail. The other way
round, a token the server shows before the replica does (created a moment
ago) is waited for: the guard would take its absence for a revocation.

Rows are read from the IDL without its lock, but a miss is looked up again
under it: the IDL takes a row out of its table while it applies a change to
it, so a service whose flows change all the time is briefly absent from a
lock-free read.

The topology is rebuilt from the NB IDL's rows only when NB changed
(``change_seqno``), which keeps validation at a few microseconds per flow
while a port that moves to another tenant is refused as soon as the monitor
delivers the change.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_NAME
from ovn_inject.core.placement import Placement, Unusable
from ovn_inject.core.tokens import TokenError, check_token, split_token
from ovn_inject.core.topology import NB_TOPOLOGY_COLUMNS, Topology, build_topology
from ovn_inject.core.validate import ServiceView, scoped
from ovn_inject.db import nbrows
from ovn_inject.db.discovery import discover
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.group import GroupCommit
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl, connect, open_idl
from ovn_inject.db.records import ovn_release, service_view
from ovn_inject.db.rows import FlowIndex, committed_scalar, set_size
from ovn_inject.db.rpc import Rpc
from ovn_inject.gateway.tokenreads import COLUMNS as TOKEN_COLUMNS
from ovn_inject.gateway.tokenreads import TokenReads
from ovn_inject.lang import Release

LOG = logging.getLogger("ovn_inject.gateway")

#: How long northd's stage/register discovery (one select of every SB lflow) is reused for dry runs.
PLACEMENT_TTL = 5.0
#: At most this many tokens remembered for :meth:`GatewayState.authenticate_replica` (then forgotten
#: at once: each is remembered again by its next read from the server).
MAX_VOUCHED = 65536
#: While waiting for the IDL to show a token and its service, re-check the token this often (it may go).
SERVICE_RECHECK_SECONDS = 0.2
YIELD_EVERY_ROWS = 64
#: Services whose attachments' reach is kept between requests (until NB changes).
REACH_CACHE_SIZE = 4096
#: The columns records.service_view reads, of the service and of each of its attachments.
VIEW_COLUMNS = ("name", "tenant", "options", "attachments")
VIEW_ATTACHMENT_COLUMNS = ("target_kind", "target_name", "hook")


@dataclass(frozen=True)
class _Reach:
    """What a service's attachments let its flows name and reach, for one NB topology."""

    allowed: Mapping[str, frozenset[str]]
    reach: Mapping[str, Any]
    scopes: Mapping[str, Any]


@dataclass(frozen=True)
class Options:
    inject_db: str
    nb: str
    sb: str | None = None
    tenant_key: str = DEFAULT_TENANT_KEY
    timeout: float = 30.0
    #: ``MODULE:CALLABLE`` that validates tenant tokens not of ovn-inject's own (see gateway.tenant_auth).
    tenant_validator: str | None = None


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the service its token names."""

    service: str
    service_uuid: str
    token: str  # public id


def _yield_less_often(idl: Any, every: int = YIELD_EVERY_ROWS) -> None:
    """ovsdbapp's IDL gives up the GIL after every row of an update (``time.sleep(0)``).

    Measured: 13% of the gateway's CPU under load went to those switches,
    while its request threads mostly wait for that very update. Yield once
    per ``every`` rows instead: a large update still lets requests through.
    """
    count = 0

    def cooperative_yield() -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            time.sleep(0)

    idl.cooperative_yield = cooperative_yield


def _row_uuid(row: dict[str, Any]) -> uuid.UUID | None:
    """The ``_uuid`` of a row a ``select`` returned, None if it was not asked for."""
    found = row.get("_uuid")
    if isinstance(found, list) and len(found) == 2 and found[0] == "uuid":
        return uuid.UUID(found[1])
    return None


class GatewayState:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.api: InjectDbApiIdlImpl = connect(options.inject_db, options.timeout, lazy_flows=True)
        self._nb = open_idl(options.nb, "OVN_Northbound", NB_TOPOLOGY_COLUMNS, options.timeout)
        for connection in (self.api.ovsdb_connection, self._nb):
            _yield_less_often(connection.idl)
        self._topology: Topology | None = None
        self._topology_seqno = -1
        self._topology_lock = threading.Lock()
        self._reach_topology: Topology | None = None
        self._reach: dict[tuple[Any, ...], _Reach] = {}
        self._views: dict[uuid.UUID, tuple[tuple[Any, ...], ServiceView]] = {}
        self._release: Release | None = None
        self._release_key: tuple[Any, Any] | None = None
        self._rpcs: queue.SimpleQueue[Rpc] = queue.SimpleQueue()
        self.token_reads = TokenReads(options.inject_db, options.timeout)
        self._vouched: dict[str, uuid.UUID] = {}  # public id -> its Token row (authenticate_replica)
        self._placements: dict[str, Placement | Unusable] | None = None
        self._placements_at = 0.0
        self.flow_index = FlowIndex()
        with self.api.ovsdb_connection.lock:
            self.flow_index.install(self.api.ovsdb_connection.idl)
        self.group = GroupCommit(self.api)
        self._closing = threading.Event()

    def stopping(self) -> None:
        """Requests that wait (for the compiler, for a service to appear) give up at once."""
        self._closing.set()

    def close(self) -> None:
        self.stopping()
        self.group.close()
        self.api.close()
        self._nb.stop()
        while not self._rpcs.empty():
            self._rpcs.get_nowait().close()

    # ---- tokens -----------------------------------------------------------

    @contextlib.contextmanager
    def _rpc(self, fresh: bool = False) -> Iterator[Rpc]:
        try:
            if fresh:
                raise queue.Empty
            rpc = self._rpcs.get_nowait()
        except queue.Empty:
            rpc = Rpc(self.options.inject_db, self.options.timeout, INJECT_DB_NAME)
        try:
            yield rpc
        except BaseException:
            rpc.close()  # a connection in an unknown state is not reused
            raise
        self._rpcs.put(rpc)

    def select(self, table: str, where: list[Any], columns: list[str]) -> list[dict[str, Any]]:
        """A one-shot ``select`` on OVN_Inject, never from the IDL's cache (credentials are read so)."""
        with self._rpc() as rpc:
            rows: list[dict[str, Any]] = rpc.select(INJECT_DB_NAME, table, where, columns)
        return rows

    def _token_row(self, public_id: str) -> dict[str, Any] | None:
        """The token's row, read now from the server (a pooled connection may predate a restart)."""
        columns = TOKEN_COLUMNS
        where = [["public_id", "==", public_id]]
        try:
            with self._rpc() as rpc:
                rows = rpc.select(INJECT_DB_NAME, "Token", where, columns)
        except InjectDbError:
            with self._rpc(fresh=True) as rpc:
                rows = rpc.select(INJECT_DB_NAME, "Token", where, columns)
        return rows[0] if rows else None

    @staticmethod
    def _service_of(row: dict[str, Any]) -> str | None:
        service = row["service"]
        if isinstance(service, list) and service and service[0] == "uuid":
            return str(service[1])
        return None  # a weak reference: the service was deleted

    def authenticate(self, token: str) -> Caller:
        """The service a token names; raises TokenError (401) for any bad, expired or revoked token."""
        public_id, secret = split_token(token)
        row = self._token_row(public_id)
        service_uuid = self._checked_service(secret, row)
        assert row is not None  # checked
        self._vouch(public_id, row)
        return Caller(self._once_replicated(public_id, row, service_uuid), service_uuid, public_id)

    def authenticate_replica(self, token: str) -> Caller | None:
        """The caller as the IDL's replica shows a token the server showed before; None when the
        replica does not vouch for it (unknown, changed, expired, its service gone: ask the server).

        Only for a write whose transaction guards its token (db.tokenguard):
        what the replica says is checked again by the server as it commits.
        It saves the round trip of :meth:`authenticate_async`'s read, which every
        request of a group commit waited for.
        """
        public_id, secret = split_token(token)
        known = self._vouched.get(public_id)
        row = self.row("Token", known) if known is not None else None
        if row is None or committed_scalar(row, "public_id") != public_id:
            return None
        secret_hash = committed_scalar(row, "secret_hash")
        expires = committed_scalar(row, "expires")
        service_uuid = committed_scalar(row, "service")
        if not isinstance(secret_hash, str) or not isinstance(service_uuid, uuid.UUID):
            return None
        try:
            expires_ms = expires if isinstance(expires, int) else None
            check_token(secret, secret_hash, expires_ms, int(time.time() * 1000))
        except TokenError:
            return None  # the server's read says why
        service = self.row("Service", service_uuid)
        if service is None:
            return None
        return Caller(self._name_of(service), str(service_uuid), public_id)

    def _vouch(self, public_id: str, row: dict[str, Any]) -> None:
        """Remember which replica row a token the server accepted is (:meth:`authenticate_replica`)."""
        found = _row_uuid(row)
        if found is not None:
            if len(self._vouched) >= MAX_VOUCHED:
                self._vouched.clear()
            self._vouched[public_id] = found

    async def authenticate_async(self, token: str) -> Caller | None:
        """:meth:`authenticate` without a thread; None when it needs one (call :meth:`authenticate`).

        It needs one when the token reads cannot be made on the event loop
        (an ``ssl:`` remote), when that read failed (the threaded read tries
        a fresh connection, then says why), or when the IDL does not show the
        token's service yet (created a moment ago: waiting for it blocks).
        """
        if not self.token_reads.usable:
            return None
        public_id, secret = split_token(token)
        try:
            row = await self.token_reads.read(public_id)
        except InjectDbError:
            return None
        service_uuid = self._checked_service(secret, row)
        assert row is not None  # checked
        self._vouch(public_id, row)
        service = self.service_row(service_uuid)
        if service is None or not self._token_replicated(row):
            return None  # the threaded path waits for the rows, or says why not
        return Caller(self._name_of(service), service_uuid, public_id)

    def _token_replicated(self, row: dict[str, Any]) -> bool:
        """Whether the IDL's replica shows the token row the server sent.

        A write's transaction checks its token in the replica (db.tokenguard):
        one created a moment ago, not there yet, would be refused as revoked.
        """
        found = _row_uuid(row)
        return found is None or self.row("Token", found) is not None  # none asked for: nothing to wait for

    def _name_of(self, service: Any) -> str:
        """The service's name, read without meeting ovsdbapp's thread as it ends a commit (see
        db.rows.committed_scalar); under the lock only for a row whose name the server did not send."""
        name = committed_scalar(service, "name")
        if name is None:
            with self.lock:
                name = service.name
        return str(name)

    def _checked_service(self, secret: str, row: dict[str, Any] | None) -> str:
        """The service uuid of a token row whose secret matches and that has not expired."""
        if row is None:
            raise TokenError("invalid token")
        expires = row["expires"]
        expires_ms = expires if isinstance(expires, int) else None
        check_token(secret, row["secret_hash"], expires_ms, int(time.time() * 1000))
        service_uuid = self._service_of(row)
        if service_uuid is None:
            raise TokenError("invalid token: its service is gone")
        return service_uuid

    def _once_replicated(self, public_id: str, token: dict[str, Any], service_uuid: str) -> str:
        """The service's name once the IDL's replica shows the service and the token.

        The token's select saw both, so the IDL shows them once it has caught
        up with that read (a service or token created a moment ago): wait for
        the IDL to move, as long as the token still names the service.
        """
        idl = self.api.ovsdb_connection.idl
        deadline = time.monotonic() + self.options.timeout
        recheck = time.monotonic() + SERVICE_RECHECK_SECONDS
        while True:
            seqno = idl.change_seqno
            row = self.service_row(service_uuid)
            if row is not None and self._token_replicated(token):
                return self._name_of(row)
            now = time.monotonic()
            if now >= recheck:
                again = self._token_row(public_id)
                if again is None:
                    raise TokenError("token revoked")
                if self._service_of(again) != service_uuid:
                    raise TokenError("invalid token: its service is gone")
                recheck = now + SERVICE_RECHECK_SECONDS
            if now >= deadline or self._closing.is_set():
                if row is None:
                    raise TokenError("invalid token: its service is gone")
                raise TokenError("token not yet known to the gateway's replica of OVN_Inject; try again")
            while idl.change_seqno == seqno and time.monotonic() < recheck:
                if self._closing.wait(0.002):
                    break

    # ---- OVN_Inject -------------------------------------------------------

    @property
    def lock(self) -> Any:
        """Held to iterate whole IDL tables, so that ovsdbapp's thread does not change them meanwhile.

        ovsdbapp also holds it for the whole round trip of every commit, so
        per-request reads of single rows go without it: a dict lookup and the
        datum it finds (which the IDL replaces, never edits) are atomic under the GIL.
        """
        return self.api.ovsdb_connection.lock

    def row(self, table: str, key: uuid.UUID | str) -> Any:
        """The IDL's row, or None if it has none (checked under the lock: see the module's doc)."""
        key = key if isinstance(key, uuid.UUID) else uuid.UUID(key)
        rows = self.api.tables[table].rows
        try:
            row = rows.get(key)
        except IndexError:  # python-ovs's indexed rows, caught between removing and re-adding the row
            row = None
        if row is None:
            with self.lock:
                row = rows.get(key)
        return row

    def fresh_row(self, table: str, key: uuid.UUID) -> Any:
        """The row once the IDL shows it, if the server has it (the IDL may lag a write just acknowledged)."""
        row = self.row(table, key)
        if row is not None or not self.select(table, [["_uuid", "==", ["uuid", str(key)]]], ["_uuid"]):
            return row
        deadline = time.monotonic() + self.options.timeout
        while row is None and time.monotonic() < deadline and not self._closing.is_set():
            time.sleep(0.005)
            row = self.row(table, key)
        return row

    def service_row(self, service_uuid: str) -> Any:
        return self.row("Service", service_uuid)

    def service_view(self, caller: Caller) -> ServiceView:
        """The caller's service as the validation seam needs it, ports included."""
        topology = self.topology()
        row = self.service_row(caller.service_uuid)
        if row is None:
            raise TokenError("invalid token: its service is gone")
        view = self._base_view(row)  # its flow_count is 0: the flows are counted below, every time
        release = self.release()
        # What the attachments may reach depends only on them, the tenant and NB: kept until one changes.
        key = (view.tenant, view.attachments, release)
        with self._topology_lock:
            if self._reach_topology is not topology:
                self._reach_topology, self._reach = topology, {}
            found = self._reach.get(key)
        if found is None:
            full = scoped(view, topology, release)
            assert full.allowed_ports is not None and full.reach is not None and full.scopes is not None
            found = _Reach(full.allowed_ports, full.reach, full.scopes)
            with self._topology_lock:
                if self._reach_topology is topology and len(self._reach) < REACH_CACHE_SIZE:
                    self._reach[key] = found
        # Every field said, as dataclasses.replace would copy them, without its walk over the fields
        # (two replaces were some 8 us of each flow's check).
        return ServiceView(
            name=view.name,
            tenant=view.tenant,
            max_flows=view.max_flows,
            attachments=view.attachments,
            flow_count=set_size(row, "flows"),
            allowed_ports=found.allowed,
            reach=found.reach,
            release=release,
            scopes=found.scopes,
            max_openflow_flows=view.max_openflow_flows,
            openflow_flows=view.openflow_flows,
            flow_limit=view.flow_limit,
        )

    def _base_view(self, row: Any) -> ServiceView:
        """records.service_view of the row, reused while the columns it reads are the same objects.

        The IDL replaces a column's datum when the column changes and leaves
        it alone otherwise; a service whose flows change all the time keeps
        its name, options and attachments, whose conversion cost as much as
        checking a flow.
        """
        identity = self._view_identity(row)
        if identity is not None:
            found = self._views.get(row.uuid)
            if (
                found is not None
                and len(found[0]) == len(identity)
                and all(a is b for a, b in zip(found[0], identity, strict=True))
            ):
                return found[1]
        with self.lock:  # seldom (a column changed): getattr must not meet ovsdbapp's thread ending a commit
            view = service_view(row, 0)
        if identity is not None:
            if len(self._views) >= REACH_CACHE_SIZE:
                self._views.clear()
            self._views[row.uuid] = (identity, view)
        return view

    def _view_identity(self, row: Any) -> tuple[Any, ...] | None:
        data = getattr(row, "_data", None)
        if data is None:
            return None
        parts = [data.get(column) for column in VIEW_COLUMNS]
        attachments = self.api.tables["Attachment"].rows
        held = data.get("attachments")
        for atom in held.values if held is not None else ():
            attachment = attachments.get(atom.value)
            if attachment is None or attachment._data is None:
                return None
            parts += [attachment._data.get(column) for column in VIEW_ATTACHMENT_COLUMNS]
        return tuple(parts)

    def release(self) -> Release | None:
        """The OVN release flows are checked in: what the compiler daemon learnt from SB."""
        rows = list(self.api.tables["Inject_Global"].rows.values())
        data = rows[0]._data if rows else None
        # The row and its options datum (None while the column holds its default) say if it changed.
        key = (rows[0] if rows else None, data.get("options") if data is not None else None)
        known = self._release_key
        if data is None or known is None or key[0] is not known[0] or key[1] is not known[1]:
            self._release = ovn_release(self.api.tables)
            self._release_key = key if data is not None else None
        return self._release

    # ---- NB ---------------------------------------------------------------

    def topology(self) -> Topology:
        """NB's topology, rebuilt only when the NB monitor saw a change."""
        idl = self._nb.idl
        with self._topology_lock:
            seqno = idl.change_seqno
            if self._topology is None or seqno != self._topology_seqno:
                with self._nb.lock:
                    seqno = idl.change_seqno
                    self._topology = build_topology(*nbrows.from_idl(idl.tables), self.options.tenant_key)
                self._topology_seqno = seqno
            return self._topology

    # ---- SB (dry runs only) -----------------------------------------------

    def placements(self) -> dict[str, Placement | Unusable]:
        """Where each hook lives on this OVN, from northd's lflows; reused for a few seconds."""
        if self.options.sb is None:
            from ovn_inject.gateway.errors import ApiError

            raise ApiError(503, "unavailable", "the gateway was started without --sb: no dry runs")
        now = time.monotonic()
        if self._placements is None or now - self._placements_at > PLACEMENT_TTL:
            self._placements = discover(self.options.sb, self.options.timeout).placements
            self._placements_at = now
        return self._placements

    def wait_cfg(self, column: str, cfg: int, timeout: float) -> bool:
        """Wait until Inject_Global.<column> >= cfg; False on timeout or when the gateway stops."""
        deadline = time.monotonic() + timeout
        while self.api.current_cfg(column) < cfg:
            if time.monotonic() >= deadline or self._closing.wait(0.01):
                return False
        return True
