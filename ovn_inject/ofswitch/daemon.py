"""``ovn-inject ofswitch``: the asyncio shell that serves each service's switch on its targets.

It watches OVN_Inject (the gateway's own connections: the same IDL, NB
topology and validation), opens a listener per passive target and a dialer
per active one, and runs a :class:`~ovn_inject.ofswitch.session.Session` on
every connection. Consecutive flow_mods are committed together (one
transaction per batch); a BARRIER or any other message first waits for them.
Each connection is its own task: whatever one peer sends ends at most that
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ovn_inject.core.validate import FlowRequest, ServiceView, ValidFlow, validate_flow
from ovn_inject.db.rows import set_uuids
from ovn_inject.gateway.state import Caller, GatewayState, Options
from ovn_inject.ofswitch.errors import OfError
from ovn_inject.ofswitch.identity import datapath_id, port_numbers
from ovn_inject.ofswitch.targets import (
    BARRIER_WAIT_OPTION,
    PEER_CN_OPTION,
    TARGETS_COLUMN,
    Target,
    TargetSyntaxError,
    parse_target,
)

if TYPE_CHECKING:
    from ovn_inject.ofswitch import table
    from ovn_inject.ofswitch.session import Session

# The OpenFlow side (os-ken's parsers, the session, the wire format, table 0) is imported
# when a controller connects or a flow written over OpenFlow appears, not at start: os-ken
# imports every OpenFlow version's parser, a third of the daemon's start-up.

LOG = logging.getLogger("ovn_inject.ofswitch")
POLL_INTERVAL = 0.1
#: At most this many flow_mods go into one transaction.
BATCH_MAX = 1000
RECONNECT_MIN, RECONNECT_MAX = 0.5, 8.0
READ_SIZE = 1 << 16
#: An idle connection gets an ECHO_REQUEST after this long, and is closed after twice as long.
ECHO_INTERVAL = 15.0
WAIT_COLUMNS = {"sb": "sb_cfg", "hv": "hv_cfg"}


T = TypeVar("T")


def unlocked(read: Callable[[], T], attempts: int = 100) -> T:
    """Read IDL tables without their lock, again if the IDL's thread changed them meanwhile.

    ovsdbapp holds that lock for the whole round trip of every commit: taking it
    here would stall every connection of the event loop behind another's commit.
    """
    for _ in range(attempts - 1):
        try:
            return read()
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return read()


def _removal_watched(row: Any) -> table.StoredFlow | None:
    """The flow of ``row`` if its controller asked for a FLOW_REMOVED (OFPFF_SEND_FLOW_REM), else None.

    Only a flow written over OpenFlow has flags: any other is None without its OpenFlow form parsed.
    """
    if "of-match" not in row.external_ids:
        return None
    from os_ken.ofproto import ofproto_v1_3 as ofp

    from ovn_inject.ofswitch.store import cached_flow

    flow = cached_flow(row)
    return flow if flow.flags & ofp.OFPFF_SEND_FLOW_REM else None


class ServiceSwitch:
    """A service as a session sees it, read from the daemon's IDL copies."""

    def __init__(self, state: GatewayState, name: str, service_uuid: str) -> None:
        self.state = state
        self.name = name
        self.service_uuid = service_uuid
        self.datapath_id = datapath_id(name)
        self._ports_key: frozenset[str] | None = None
        self._ports: dict[str, int] = {}

    def view(self) -> ServiceView:
        return self.state.service_view(Caller(self.name, self.service_uuid, ""))

    def ports(self) -> dict[str, int]:
        allowed = self.view().allowed_ports or {}
        names = frozenset().union(*allowed.values()) if allowed else frozenset()
        if names != self._ports_key:
            self._ports_key, self._ports = names, port_numbers(names)
        return self._ports

    def flows(self) -> list[table.StoredFlow]:
        from ovn_inject.ofswitch.store import service_flows

        row = self.state.service_row(self.service_uuid)
        rows = self.state.api.tables["Service_Flow"].rows
        return unlocked(lambda: service_flows(row, rows)) if row is not None else []


@dataclass(eq=False)
class Connection:
    session: Session
    writer: asyncio.StreamWriter

    def send(self, messages: list[bytes]) -> None:
        for data in messages:
            self.writer.write(data)


@dataclass
class Endpoint:
    service: str
    target: Target
    task: asyncio.Task[None] | None = None
    server: asyncio.AbstractServer | None = None
    connections: set[Connection] = field(default_factory=set)


@dataclass(frozen=True)
class Tls:
    """Our key and certificate, and the CA that peers' certificates must chain to (OVS's -p/-c/-C)."""

    private_key: Path
    certificate: Path
    ca_cert: Path

    def context(self, server: bool) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        context.load_cert_chain(self.certificate, self.private_key)
        context.load_verify_locations(self.ca_cert)
        context.check_hostname = False  # as OVS: the chain is checked, then who the peer is, below
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def peer_name(writer: asyncio.StreamWriter) -> str | None:
    """The common name of the peer's certificate (None without TLS)."""
    cert = writer.get_extra_info("peercert")
    if not cert:
        return None
    for entry in cert.get("subject", ()):
        for key, value in entry:
            if key == "commonName":
                return str(value)
    return ""


class OfSwitchDaemon:
    def __init__(self, options: Options, tls: Tls | None = None) -> None:
        self.state = GatewayState(options)
        self.tls = tls
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        self.switches: dict[str, ServiceSwitch] = {}
        self._seqno = -1
        self._removal_watch: dict[str, dict[uuid.UUID, table.StoredFlow | None]] = {}

    # ---- configuration ---------------------------------------------------------------------

    def _wanted(self) -> dict[tuple[str, str], tuple[str, Target]]:
        wanted: dict[tuple[str, str], tuple[str, Target]] = {}
        taken: dict[tuple[str, int], str] = {}
        services = self.state.api.tables["Service"].rows
        rows = sorted(unlocked(lambda: list(services.values())), key=lambda r: r.name)
        for row in rows:
            self.switches.setdefault(row.name, ServiceSwitch(self.state, row.name, str(row.uuid)))
            self.switches[row.name].service_uuid = str(row.uuid)
            for text in getattr(row, TARGETS_COLUMN, []):
                try:
                    target = parse_target(text)
                except TargetSyntaxError as exc:
                    LOG.warning("service %s: %s", row.name, exc)
                    continue
                if target.passive:
                    owner = taken.setdefault(target.endpoint, row.name)
                    if owner != row.name:
                        LOG.warning("%s is %s's endpoint; not also %s's", text, owner, row.name)
                        continue
                wanted[(row.name, text)] = (str(row.uuid), target)
        return wanted

    async def reconcile(self) -> None:
        wanted = self._wanted()
        for key in [k for k in self.endpoints if k not in wanted]:
            await self._stop(self.endpoints.pop(key))
        for key, (_, target) in wanted.items():
            if key not in self.endpoints:
                endpoint = Endpoint(key[0], target)
                self.endpoints[key] = endpoint
                await self._start(endpoint)

    async def _start(self, endpoint: Endpoint) -> None:
        target = endpoint.target
        if target.ssl and self.tls is None:
            LOG.error(
                "%s: %s needs --private-key, --certificate and --ca-cert; ignored",
                endpoint.service,
                target.text,
            )
            return
        if target.passive:
            context = self.tls.context(server=True) if target.ssl and self.tls else None
            try:
                endpoint.server = await asyncio.start_server(
                    lambda r, w: self._serve(endpoint, r, w),
                    target.host,
                    target.port,
                    reuse_address=True,
                    ssl=context,
                )
            except OSError as exc:
                LOG.error("%s: cannot listen on %s: %s", endpoint.service, target.text, exc)
                return
            LOG.info("%s: listening on %s", endpoint.service, target.text)
        else:
            endpoint.task = asyncio.create_task(self._dial(endpoint))

    async def _stop(self, endpoint: Endpoint) -> None:
        if endpoint.server is not None:
            endpoint.server.close()
        if endpoint.task is not None:
            endpoint.task.cancel()
        for connection in list(endpoint.connections):
            connection.writer.close()
        LOG.info("%s: stopped %s", endpoint.service, endpoint.target.text)

    async def _dial(self, endpoint: Endpoint) -> None:
        delay = RECONNECT_MIN
        while True:
            context = self.tls.context(server=False) if endpoint.target.ssl and self.tls else None
            try:
                reader, writer = await asyncio.open_connection(*endpoint.target.endpoint, ssl=context)
            except (OSError, ssl.SSLError) as exc:
                LOG.debug("%s: %s: %s", endpoint.service, endpoint.target.text, exc)
            else:
                LOG.info("%s: connected to %s", endpoint.service, endpoint.target.text)
                delay = RECONNECT_MIN
                await self._serve(endpoint, reader, writer)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    # ---- one connection ------------------------------------------------------------------

    async def _serve(
        self, endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = str(writer.get_extra_info("peername"))
        switch = self.switches[endpoint.service]
        if endpoint.target.ssl and endpoint.target.passive:
            wanted = self._peer_for(switch)
            got = peer_name(writer)
            if got != wanted:
                LOG.warning(
                    "%s: %s: certificate of '%s', not '%s': refused", endpoint.service, peer, got, wanted
                )
                writer.close()
                return
        from ovn_inject.ofswitch import wire
        from ovn_inject.ofswitch.session import Session

        connection = Connection(Session(switch, peer), writer)
        endpoint.connections.add(connection)
        try:
            await self._converse(switch, connection, reader)
        except (ConnectionError, wire.FramingError) as exc:
            LOG.info("%s: %s: connection ends: %s", endpoint.service, peer, exc)
        except Exception:
            LOG.exception("%s: %s: connection failed", endpoint.service, peer)
        finally:
            endpoint.connections.discard(connection)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(
        self, switch: ServiceSwitch, connection: Connection, reader: asyncio.StreamReader
    ) -> None:
        from os_ken.ofproto import ofproto_v1_3 as ofp

        from ovn_inject.ofswitch import wire

        session, framer = connection.session, wire.Framer()
        connection.send([session.greeting()])
        pending: list[table.FlowMod] = []
        idle = 0
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), ECHO_INTERVAL)
            except TimeoutError:
                idle += 1
                if idle > 1:
                    raise ConnectionError(f"no answer to an echo request in {ECHO_INTERVAL:g} s") from None
                connection.send([wire.message(ofp.OFPT_ECHO_REQUEST, 0)])
                await connection.writer.drain()
                continue
            idle = 0
            if not data:
                return
            for raw in framer.feed(data):
                step = session.receive(raw)
                if step.mod is not None:
                    pending.append(step.mod)
                    if len(pending) >= BATCH_MAX:
                        await self._flush(switch, connection, pending)
                    continue
                await self._flush(switch, connection, pending)
                connection.send(step.replies)
                if step.barrier is not None:
                    await self._barrier_wait(switch)
                    connection.send([wire.barrier_reply(step.barrier)])
                if step.close:
                    await connection.writer.drain()
                    return
            await self._flush(switch, connection, pending)
            await connection.writer.drain()

    async def _flush(
        self, switch: ServiceSwitch, connection: Connection, pending: list[table.FlowMod]
    ) -> None:
        if not pending:
            return
        from os_ken.ofproto import ofproto_v1_3 as ofp

        from ovn_inject.ofswitch.session import error_reply
        from ovn_inject.ofswitch.store import FlowModCommand

        mods = list(pending)
        pending.clear()
        view = switch.view()

        def validate(request: FlowRequest) -> ValidFlow:
            return validate_flow(request, view)

        command = FlowModCommand(self.state.api, switch.name, mods, validate)
        try:
            [results] = await asyncio.to_thread(self.state.api.commit, command)
        except Exception as exc:
            LOG.warning("%s: %d flow_mods not committed: %s", switch.name, len(mods), exc)
            failure = OfError(ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_UNKNOWN, str(exc))
            results = [failure] * len(mods)
        for mod, result in zip(mods, results, strict=True):
            if result is not None:
                LOG.info("%s: flow_mod xid %d refused: %s", switch.name, mod.xid, result.reason)
                connection.send([error_reply(mod.raw, result)])

    def _peer_for(self, switch: ServiceSwitch) -> str:
        """Whose certificate a pssl endpoint accepts: options:openflow_peer_cn, else the service name."""
        row = self.state.service_row(switch.service_uuid)
        return str(row.options.get(PEER_CN_OPTION, switch.name)) if row is not None else switch.name

    async def _barrier_wait(self, switch: ServiceSwitch) -> None:
        """With the service's openflow_barrier_wait option, a barrier also waits for SB or the chassis."""
        row = self.state.service_row(switch.service_uuid)
        column = WAIT_COLUMNS.get(row.options.get(BARRIER_WAIT_OPTION, "")) if row is not None else None
        if column is None:
            return
        api, timeout = self.state.api, self.state.options.timeout

        def wait() -> bool:
            [cfg] = api.commit(api.bump_cfg())
            return bool(api.wait_cfg(column, cfg, timeout))

        if not await asyncio.to_thread(wait):
            LOG.warning(
                "%s: barrier answered before %s caught up (is 'ovn-inject northd' running?)",
                switch.name,
                column,
            )

    # ---- FLOW_REMOVED ----------------------------------------------------------------------

    def _flow_removals(self) -> None:
        """Flows with OFPFF_SEND_FLOW_REM that vanished (deleted, expired): tell the service's controllers.

        Only new rows are read (once): a service's flows change a few at a time.
        """
        now = time.time()
        unlocked(lambda: self._scan_removals(now))

    def _scan_removals(self, now: float) -> None:
        for name, switch in self.switches.items():
            row = self.state.service_row(switch.service_uuid)
            current = set(set_uuids(row, "flows")) if row is not None else set()
            before = self._removal_watch.setdefault(name, {})
            rows = self.state.api.tables["Service_Flow"].rows
            for flow_uuid in current - before.keys():
                flow_row = rows.get(flow_uuid)
                before[flow_uuid] = _removal_watched(flow_row) if flow_row is not None else None
            gone = [before.pop(u) for u in list(before.keys() - current)]
            connections = [c for e in self.endpoints.values() if e.service == name for c in e.connections]
            for flow in gone:
                if flow is None or not connections:
                    continue
                from os_ken.ofproto import ofproto_v1_3 as ofp

                from ovn_inject.ofswitch import wire

                expired = flow.hard_timeout and now >= flow.created_ms / 1000 + flow.hard_timeout - 1
                reason = ofp.OFPRR_HARD_TIMEOUT if expired else ofp.OFPRR_DELETE
                message = wire.flow_removed(
                    flow.cookie,
                    flow.priority,
                    reason,
                    now - flow.created_ms / 1000,
                    flow.idle_timeout,
                    flow.hard_timeout,
                    flow.match_bytes,
                )
                for connection in connections:
                    if connection.session.negotiated:
                        connection.send([message])

    # ---- main loop ---------------------------------------------------------------------------

    async def run(self, ready: Callable[[], None]) -> None:
        idl = self.state.api.ovsdb_connection.idl
        await self.reconcile()
        ready()
        while True:
            seqno = idl.change_seqno
            if seqno != self._seqno:
                self._seqno = seqno
                try:
                    await self.reconcile()
                    self._flow_removals()
                except Exception:  # the next change tries again; the connections go on meanwhile
                    LOG.exception("cannot follow OVN_Inject's change")
                    self._seqno = -1
            await asyncio.sleep(POLL_INTERVAL)

    def close(self) -> None:
        self.state.close()

    def status_text(self) -> str:
        """``ovn-appctl status``: each service's OpenFlow endpoints and their connections."""
        lines = [f"endpoints: {len(self.endpoints)}"]
        for (service, text), endpoint in sorted(self.endpoints.items()):
            lines.append(f"service {service}: {text} ({len(endpoint.connections)} connections)")
        return "\n".join(lines) + "\n"


async def serve(
    options: Options,
    ready: Callable[[], None],
    tls: Tls | None = None,
    on_daemon: Callable[[OfSwitchDaemon], None] | None = None,
) -> None:
    daemon = await asyncio.to_thread(OfSwitchDaemon, options, tls)
    if on_daemon is not None:
        on_daemon(daemon)  # e.g. the control socket's status
    try:
        await daemon.run(ready)
    finally:
        for endpoint in daemon.endpoints.values():
            await daemon._stop(endpoint)
        daemon.close()
