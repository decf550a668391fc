"""What the gateway keeps in memory: its database connections and a cached NB topology.

Three connections: OVN_Inject through the typed API (an IDL kept current by
ovsdbapp's thread), NB through a monitor of only the tables that say who owns
which port, and a small pool of one-shot JSON-RPC connections for token
lookups. Tokens are looked up with a ``select`` on every request, never from
a cache, so that a revoked token fails on the very next request; writes also
``verify`` the token row, so that no write commits after its revocation.

The topology is rebuilt from the NB IDL's rows only when NB changed
(``change_seqno``), which keeps validation at a few microseconds per flow
while a port that moves to another tenant is refused as soon as the monitor
delivers the change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_NAME
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl, connect, open_idl
from ovn_inject.db.rpc import Rpc
from ovn_inject.db.validate import AttachmentView, ServiceView
from ovn_inject.gateway.rows import FlowKeys, set_size
from ovn_inject.hooks import DatapathKind, TargetKind
from ovn_inject.northd import discovery
from ovn_inject.northd.placement import Placement, Unusable, place_hooks
from ovn_inject.northd.topology import Datapath, Port, PortGroup, Topology
from ovn_inject.tokens import TokenError, check_token, split_token

LOG = logging.getLogger("ovn_inject.gateway")

#: The NB columns the gateway monitors: names, port membership and tenancy, nothing else.
NB_TABLES: dict[str, Sequence[str]] = {
    "Logical_Switch": ["name", "ports", "external_ids"],
    "Logical_Switch_Port": ["name", "external_ids"],
    "Logical_Router": ["name", "ports", "external_ids"],
    "Logical_Router_Port": ["name", "external_ids"],
    "Port_Group": ["name", "ports", "external_ids"],
}
#: How long northd's stage/register discovery (one select of every SB lflow) is reused for dry runs.
PLACEMENT_TTL = 5.0
#: How long to wait for the IDL to show a service a fresh token names (it was created just before).
SERVICE_APPEAR_TIMEOUT = 2.0
YIELD_EVERY_ROWS = 64


@dataclass(frozen=True)
class Options:
    inject_db: str
    nb: str
    sb: str | None = None
    tenant_key: str = DEFAULT_TENANT_KEY
    timeout: float = 30.0


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the service its token names."""

    service: str
    service_uuid: str
    token: str  # public id


def nb_topology(tables: Any, tenant_key: str) -> Topology:
    """Datapaths, ports and port groups with their tenants, from NB IDL rows (no SB: a dry run needs none).

    Datapaths carry their NB name where the compiler expects an SB uuid, so
    that a dry run's lflows name the switch or router they would land on.
    """
    datapaths: list[Datapath] = []
    ports: list[Port] = []
    for table, kind in (("Logical_Switch", DatapathKind.SWITCH), ("Logical_Router", DatapathKind.ROUTER)):
        for row in tables[table].rows.values():
            tenant = row.external_ids.get(tenant_key)
            datapaths.append(Datapath(row.name, kind, tenant, sb_uuid=row.name))
            for port in row.ports:
                ports.append(Port(port.name, row.name, port.external_ids.get(tenant_key, tenant)))
    groups = [
        PortGroup(row.name, row.external_ids.get(tenant_key), tuple(p.name for p in row.ports))
        for row in tables["Port_Group"].rows.values()
    ]
    return Topology.build(datapaths, ports, groups)


def _service_view(row: Any) -> ServiceView:
    """records.service_view, but counting flows without python-ovs building a sorted list of rows."""
    max_flows = row.options.get("max_flows")
    attachments = tuple(
        AttachmentView(str(a.uuid), a.target_kind, a.target_name, a.hook) for a in row.attachments
    )
    return ServiceView(
        name=row.name,
        tenant=row.tenant,
        max_flows=int(max_flows) if max_flows and max_flows.isdigit() else None,
        attachments=attachments,
        flow_count=set_size(row, "flows"),
    )


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


class GatewayState:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.api: InjectDbApiIdlImpl = connect(options.inject_db, options.timeout)
        self._nb = open_idl(options.nb, "OVN_Northbound", NB_TABLES, options.timeout)
        for connection in (self.api.ovsdb_connection, self._nb):
            _yield_less_often(connection.idl)
        self._topology: Topology | None = None
        self._topology_seqno = -1
        self._topology_lock = threading.Lock()
        self._rpcs: queue.SimpleQueue[Rpc] = queue.SimpleQueue()
        self._placements: dict[str, Placement | Unusable] | None = None
        self._placements_at = 0.0
        self.flow_keys = FlowKeys()

    def close(self) -> None:
        self.api.close()
        self._nb.stop()
        while not self._rpcs.empty():
            self._rpcs.get_nowait().close()

    # ---- tokens -----------------------------------------------------------

    @contextlib.contextmanager
    def _rpc(self) -> Iterator[Rpc]:
        try:
            rpc = self._rpcs.get_nowait()
        except queue.Empty:
            rpc = Rpc(self.options.inject_db, self.options.timeout, INJECT_DB_NAME)
        try:
            yield rpc
        except BaseException:
            rpc.close()  # a connection in an unknown state is not reused
            raise
        self._rpcs.put(rpc)

    def authenticate(self, token: str) -> Caller:
        """The service a token names; raises TokenError (401) for any bad, expired or revoked token."""
        public_id, secret = split_token(token)
        with self._rpc() as rpc:
            rows = rpc.select(
                INJECT_DB_NAME,
                "Token",
                [["public_id", "==", public_id]],
                ["service", "secret_hash", "expires"],
            )
        if not rows:
            raise TokenError("invalid token")
        row = rows[0]
        expires = row["expires"]
        expires_ms = expires if isinstance(expires, int) else None
        check_token(secret, row["secret_hash"], expires_ms, int(time.time() * 1000))
        service = row["service"]
        if not (isinstance(service, list) and service and service[0] == "uuid"):
            raise TokenError("invalid token: its service is gone")
        service_uuid = str(service[1])
        return Caller(self._service_name(service_uuid), service_uuid, public_id)

    def _service_name(self, service_uuid: str) -> str:
        deadline = time.monotonic() + SERVICE_APPEAR_TIMEOUT
        while True:
            row = self.service_row(service_uuid)
            if row is not None:
                return str(row.name)
            if time.monotonic() >= deadline:
                raise TokenError("invalid token: its service is gone")
            time.sleep(0.01)

    # ---- OVN_Inject -------------------------------------------------------

    @property
    def lock(self) -> Any:
        """Held to iterate whole IDL tables, so that ovsdbapp's thread does not change them meanwhile.

        ovsdbapp also holds it for the whole round trip of every commit, so
        per-request reads of single rows go without it: a dict lookup and the
        datum it finds (which the IDL replaces, never edits) are atomic under the GIL.
        """
        return self.api.ovsdb_connection.lock

    def service_row(self, service_uuid: str) -> Any:
        return self.api.tables["Service"].rows.get(uuid.UUID(service_uuid))

    def service_view(self, caller: Caller) -> ServiceView:
        """The caller's service as the validation seam needs it, ports included."""
        topology = self.topology()
        row = self.api.tables["Service"].rows.get(uuid.UUID(caller.service_uuid))
        if row is None:
            raise TokenError("invalid token: its service is gone")
        view = _service_view(row)
        allowed = {
            a.uuid: topology.tenant_ports(TargetKind(a.target_kind), a.target_name, view.tenant)
            for a in view.attachments
        }
        return dataclasses.replace(view, allowed_ports=allowed)

    # ---- NB ---------------------------------------------------------------

    def topology(self) -> Topology:
        """NB's topology, rebuilt only when the NB monitor saw a change."""
        idl = self._nb.idl
        with self._topology_lock:
            seqno = idl.change_seqno
            if self._topology is None or seqno != self._topology_seqno:
                with self._nb.lock:
                    seqno = idl.change_seqno
                    self._topology = nb_topology(idl.tables, self.options.tenant_key)
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
            rows = discovery.fetch_northd_flows(self.options.sb, self.options.timeout)
            stages, used = discovery.analyze(rows)
            self._placements = place_hooks(stages, used)
            self._placements_at = now
        return self._placements

    def wait_cfg(self, column: str, cfg: int, timeout: float) -> bool:
        return self.api.wait_cfg(column, cfg, timeout)
