"""``ovn-inject northd``: keep SB's hook lflows equal to what OVN_Inject asks for.

One loop, three IDLs: NB (topology and tenancy, read-only but for the
``nb_cfg`` bump of ``--wait=hv``), SB (datapaths, port bindings and only our
own Logical_Flow rows, through a conditional monitor) and OVN_Inject. A
change recompiles (a pure function) and writes the difference. Only the
holder of the SB lock ``ovn_inject_northd`` writes; a second instance waits
as a standby and takes over when the lock frees up.

What a pass costs grows with what changed, not with what exists: the IDLs
say which rows changed, so the topology is rebuilt only when NB or SB's
bindings moved, Service_Flow rows are re-read one by one, unchanged scope
chains are replayed from the previous pass, and only statuses that changed
are written back.

No database error stops the daemon: a transaction that fails (``try again``
after a reconnection or a RAFT leader change, ``duplicate uuid`` for a row
that a lost reply had in fact committed, any error) or a pass that raises
leaves SB and the statuses as they were, and the pass runs again from what
the IDLs show once they resynced, after a back-off that doubles up to
``RESYNC_MAX_SECONDS``.
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ovs.db.idl
import ovs.poller

from ovn_inject.core.appflows import FlowCache
from ovn_inject.core.compiler import (
    AttachmentSpec,
    ChainMemo,
    Compiled,
    ServiceSpec,
    compile_hooks,
)
from ovn_inject.core.contract import Contract
from ovn_inject.core.diff import Delta, diff
from ovn_inject.core.discovery import Discovery, place
from ovn_inject.core.placement import Placement, Unusable, cursor_widths
from ovn_inject.core.status import FlowState, Status
from ovn_inject.core.topology import Topology
from ovn_inject.db import records
from ovn_inject.db.discovery import detect_release, discover
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.lazyrows import Readers
from ovn_inject.db.records import RELEASE_OPTION
from ovn_inject.db.rpc import Rpc
from ovn_inject.lang import Release
from ovn_inject.northd import sbstream, sbwriter, sources
from ovn_inject.northd.connection import LOCK_NAME, Idls, Options, open_idls
from ovn_inject.northd.metrics import PASS_SECONDS
from ovn_inject.northd.tracking import Changes, TrackingIdl
from ovn_inject.vlog import RateLimit

LOG = logging.getLogger("ovn_inject.northd")
#: While a hook is unusable (e.g. northd has not written its stage yet), look again after this
#: long, then twice as long each time up to the maximum (reading northd's flows is not cheap
#: on a big SB); a new datapath in SB starts over from the minimum.
REDISCOVER_SECONDS = 0.5
REDISCOVER_MAX_SECONDS = 30.0
#: Status updates per OVN_Inject transaction.
STATUS_BATCH = 50_000
#: Reading every row's status after a (re)connection gives up after this long (the pass is retried).
STATUS_READ_TIMEOUT = 30.0
#: A --wait=hv step whose transaction failed is tried again after this long.
RETRY_SECONDS = 0.2
#: After a failed pass, the next one waits this long, then twice as long each time up to the maximum.
RESYNC_SECONDS = 0.1
RESYNC_MAX_SECONDS = 2.0
#: A turn that leaves more new objects than this hands them to gc.freeze (see run_once).
GC_BULK_OBJECTS = 100_000
_DONE = (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED)


@dataclass
class Stats:
    """Counters tests and benchmarks read (through ``status``)."""

    passes: int = 0
    sb_ops: int = 0
    last_pass_ms: float = 0.0
    lflows: int = 0
    failures: int = 0


class Daemon:
    def __init__(self, options: Options, idls: Idls | None = None) -> None:
        self.options = options
        if not TrackingIdl.keeps_rows_as_json():
            LOG.info("this python-ovs has no per-row update handler to override: rows are parsed on arrival")
        idls = idls or open_idls(options.nb, options.sb, options.inject)
        self.nb, self.sb, self.inject = idls.all()
        self.flows = FlowCache(options.release)
        self.contract = Contract()
        self.placements: dict[str, Placement | Unusable] = {}
        self._discovery: Discovery | None = None
        self.stats = Stats()
        self._changes = {"nb": Changes(True), "sb": Changes(True), "inject": Changes(True)}
        self._topology: Topology | None = None
        self._services: list[ServiceSpec] = []
        self._budgets: dict[str, int] = {}
        self._attachments: list[AttachmentSpec] = []
        self._memo = ChainMemo()
        self._compiled: Compiled | None = None
        self._in_step: Compiled | None = None  # the compiled result SB was last brought in line with
        # row uuid -> the status it holds, as we last wrote or read it (None: read them all first)
        self._written: dict[str, Status] | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="statuses")
        self._reading: Future[dict[str, Status]] | None = None  # _read_statuses, under way
        self._rediscover_delay = REDISCOVER_SECONDS
        self._had_lock = False
        self._said_standby = False  # the standby says so once, not every pass
        self._unusable: dict[str, str] = {}  # hook -> the reason last logged
        self._unusable_log = RateLimit(per_minute=5, burst=10)
        self._resync_log = RateLimit(per_minute=5, burst=5)
        self._hv_wait: tuple[int, int] | None = None  # (nb_cfg we bumped to, inject cfg it covers)
        self._in_sb = 0  # the highest Inject_Global.cfg whose changes are in SB
        self._hv_written = 0  # the highest hv_cfg we wrote (the IDL may not show it yet)
        self._retry_at: float | None = None
        self._next_expiry: float | None = None
        self._rediscover_at: float | None = None
        self._resync_at: float | None = None  # after a failure: no pass before this time
        self._resync_delay = RESYNC_SECONDS
        self.running = True

    # ---- the loop -------------------------------------------------------

    def run_once(self) -> None:
        """One turn of the loop; any failure is logged and retried, never raised.

        Python's cyclic garbage collector is paused for the turn: a cold start
        allocates a million objects that all live on, and each time the heap
        grew by a quarter the collector walked all of it (measured: a third of
        a cold start on 10,000 flows). What a turn that allocated in bulk
        leaves is the daemon's state (IDL rows, checked flows, compiled rows):
        it is moved out of the collector's sight (``gc.freeze``) rather than
        walked again after every later turn. The daemon builds no cycles (a
        full collection after a cold start finds none), so what it drops later
        is still freed, by reference counting; smaller turns are collected as
        usual.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._run_once()
        except Exception as exc:  # a daemon outlives its databases and its own bugs
            LOG.exception("pass failed: %s", exc)
            self.failed(f"{type(exc).__name__}: {exc}")
        finally:
            if gc.get_count()[0] > GC_BULK_OBJECTS:
                gc.freeze()
            if enabled:
                gc.enable()

    def failed(self, why: str) -> None:
        """Forget what we believe SB and the statuses hold; look again after a back-off."""
        delay = self._resync_delay
        # While a database is down this repeats every RESYNC_MAX_SECONDS: rate-limited, as OVS does.
        self._resync_log.log(LOG, logging.WARNING, "will resync and retry in %.1f s: %s", delay, why)
        self._resync_at = time.time() + delay
        self._resync_delay = min(delay * 2, RESYNC_MAX_SECONDS)
        self._in_step = None
        self._written = None
        self._reading = None  # it may have read before what failed: read again
        for changes in self._changes.values():
            changes.everything = True  # what the failed pass consumed is read again
        self.stats.failures += 1

    def _run_once(self) -> None:
        resynced = False
        for name, idl in (("nb", self.nb), ("sb", self.sb), ("inject", self.inject)):
            idl.run()
            changes = idl.take_changes()
            resynced = resynced or changes.everything
            self._changes[name].merge(changes)
        if resynced and self._resync_at is not None:
            self._resync_at = None  # an IDL reconnected and read everything again: what we waited for
            self._compiled = None
        if not all(idl.has_ever_connected() for idl in (self.nb, self.sb, self.inject)):
            return
        if not self.sb.has_lock:
            if self._had_lock:
                LOG.warning("lost the SB lock %s: now standby", LOCK_NAME)
            elif self.sb.is_lock_contended and not self._said_standby:
                LOG.info(
                    "standby: another instance holds the SB lock %s; taking over when it frees", LOCK_NAME
                )
            self._said_standby = self._said_standby or self._had_lock or self.sb.is_lock_contended
            self._had_lock = False
            self._changes = {"nb": Changes(True), "sb": Changes(True), "inject": Changes(True)}
            return
        if not self._had_lock:
            LOG.info("acquired the SB lock %s: active", LOCK_NAME)
            self._had_lock = True
            self._said_standby = False
            self.force_recompute()
        now = time.time()
        if self._resync_at is not None:
            if now < self._resync_at:
                return  # backing off; the changes wait in self._changes
            self._resync_at = None
            self._compiled = None
        self._check_hv()
        nb, sb, inject = (self._changes[name] for name in ("nb", "sb", "inject"))
        expired = self._next_expiry is not None and now >= self._next_expiry
        if sb.touched("Datapath_Binding") and self._rediscover_at is not None:
            self._rediscover_delay = REDISCOVER_SECONDS
            self._rediscover_at = now
        if self._rediscover_at is not None and now >= self._rediscover_at:
            placements = self._discover()
            if placements != self.placements:
                self.placements = placements
                self._compiled = None
        relevant = nb.any_but("NB_Global") or sb.touched(*sb.rows) or inject.touched(*inject.rows)
        if self._compiled is None or expired or relevant:
            self.reconcile()
        else:
            self._changes = {"nb": Changes(), "sb": Changes(), "inject": Changes()}
        self._retry_at = None
        self._check_hv()

    def wait(self, poller: ovs.poller.Poller) -> None:
        for idl in (self.nb, self.sb, self.inject):
            idl.wait(poller)
            if idl.has_unseen_changes():
                poller.immediate_wake()
        for when in (self._next_expiry, self._rediscover_at, self._retry_at, self._resync_at):
            if when is not None:
                poller.timer_wait(max(0, int((when - time.time()) * 1000)) + 1)

    # ---- one pass ---------------------------------------------------------

    def reconcile(self) -> None:
        started = time.perf_counter()
        streamed = (0, 0)  # rows inserted and deleted while the contract decided
        if not self.placements:
            self.placements = self._discover()
            self._compiled = None
        nb, sb, inject = (self._changes[name] for name in ("nb", "sb", "inject"))
        self._changes = {"nb": Changes(), "sb": Changes(), "inject": Changes()}
        for table in ("Service_Flow", "Attachment"):
            changed = inject.of(table)
            if changed is None:
                self._written = None
            elif self._written is not None:
                for key in changed:  # a changed row may hold any status: written again
                    self._written.pop(str(key), None)
        if self._written is None and self._reading is None:
            # Read while the pass compiles and writes SB; _write_status waits for it.
            self._reading = self._reader.submit(self._read_statuses)
        tables = self.inject.tables
        cfg = self._global_cfg()
        now = time.time()
        expired = self._next_expiry is not None and now >= self._next_expiry
        if expired:
            status = self._expire(now)
            if status not in _DONE:  # they stay expired; without a back-off the pass would spin
                self.failed(f"removing expired flows failed ({status})")
                return
        if (
            self._topology is None
            or nb.any_but("NB_Global")
            or sb.touched("Datapath_Binding", "Port_Binding")
        ):
            self._topology = sources.topology(self.nb.tables, self.sb.tables, self.options.tenant_key)
            self._compiled = None
        if inject.touched("Service"):
            self._services = records.service_specs(tables)
            self._budgets = records.service_budgets(tables)
            self._compiled = None
        if inject.touched("Attachment"):
            self._attachments = records.attachment_specs(tables)
            self._compiled = None
            if self._discovery is not None:  # cursors are sized to what is attached
                self.placements = place(self._discovery, self.options.registers, self._widths())
        if inject.touched("Service_Flow") or self._compiled is None or expired:
            app_flows, flow_errors, self._next_expiry = self.flows.load(
                Readers(tables["Service_Flow"].rows), now, inject.of("Service_Flow")
            )
            self._compiled = compile_hooks(
                self._topology, self.placements, self._services, self._attachments, app_flows, self._memo
            )
            self._compiled.flow_status.update(flow_errors)
            stream = sbstream.stream_for(self.sb, self._compiled.lflows)
            # Nothing reaches SB that breaks its hook's contract or the OpenFlow bound.
            self.contract.apply(
                self._compiled,
                self.placements,
                self._topology,
                self._services,
                self._attachments,
                self.flows.release,
                self._budgets,
                decided=stream.add if stream is not None else None,
            )
            if self.contract.refused:
                LOG.warning("output contract: %d rows held back", self.contract.refused)
            if stream is not None:
                error = stream.finish(set(self.sb.tables["Logical_Flow"].rows) - self._compiled.lflows.keys())
                streamed = (stream.inserted, stream.deleted)
                self.stats.sb_ops += stream.inserted + stream.deleted
                if error:
                    self.failed(f"SB transaction failed ({error})")
                    return
        compiled = self._compiled
        delta = Delta((), ())
        if compiled is not self._in_step or sb.touched("Logical_Flow", "Datapath_Binding"):
            # A set, not the IDL's keys view: set algebra on that view runs in Python.
            delta = diff(compiled.lflows, set(self.sb.tables["Logical_Flow"].rows))
            if delta:
                sent, error = sbwriter.apply(self.sb, delta)
                self.stats.sb_ops += sent
                if error:
                    # Statuses and sb_cfg stay as they were: they must not claim what SB lacks.
                    self.failed(f"SB transaction failed ({error})")
                    return
            self._in_step = compiled
        status = self._write_status(compiled, cfg)
        if status not in _DONE:
            self.failed(f"OVN_Inject status transaction failed ({status})")
            return
        self._resync_delay = RESYNC_SECONDS
        self.stats.passes += 1
        self.stats.lflows = len(compiled.lflows)
        self.stats.last_pass_ms = (time.perf_counter() - started) * 1000
        PASS_SECONDS.observe(self.stats.last_pass_ms / 1000)
        LOG.info(
            "pass %d: %d hook lflows, +%d -%d rows, %d chains replayed, %.1f ms",
            self.stats.passes,
            len(compiled.lflows),
            streamed[0] + len(delta.insert),
            streamed[1] + len(delta.delete),
            self._memo.hits,
            self.stats.last_pass_ms,
        )

    def _discover(self) -> dict[str, Placement | Unusable]:
        options = self.options
        release = options.release or self._detect_release()
        if release is not self.flows.release:
            self.flows = FlowCache(release)  # every flow is checked again in this release's language
            self._compiled = None
        self._discovery = discover(
            options.sb, registers=options.registers, width=self._widths(), release=release
        )
        placements = self._discovery.placements
        unusable = {name: p.reason for name, p in placements.items() if isinstance(p, Unusable)}
        # Logged when a hook's state changes, not on every retry (a topology without routers
        # has four unusable router hooks until one appears); rate-limited if it flaps.
        for name, reason in unusable.items():
            if self._unusable.get(name) != reason:
                self._unusable_log.log(LOG, logging.WARNING, "hook %s unusable: %s", name, reason)
        for name in self._unusable.keys() - unusable.keys():
            LOG.info("hook %s usable again", name)
        self._unusable = unusable
        if unusable:
            self._rediscover_at = time.time() + self._rediscover_delay
            self._rediscover_delay = min(self._rediscover_delay * 2, REDISCOVER_MAX_SECONDS)
        else:
            self._rediscover_at = None
            self._rediscover_delay = REDISCOVER_SECONDS
        return placements

    def _widths(self) -> int | dict[str, int]:
        if self.options.cursor_width is not None:
            return self.options.cursor_width
        return cursor_widths(a.hook for a in self._attachments)

    def _detect_release(self) -> Release:
        detected = detect_release(self.options.sb)
        name, schema = detected.release.name, ".".join(map(str, detected.schema))
        if detected.newer:
            LOG.warning(
                "OVN_Southbound schema %s is newer than OVN %s, the newest release ovn-inject knows: "
                "its language is used (force one with --ovn-release)",
                schema,
                name,
            )
        elif detected.release is not self.flows.release:
            LOG.info("connected OVN: release %s (OVN_Southbound schema %s)", name, schema)
        return detected.release

    def _global_row(self) -> Any:
        rows = list(self.inject.tables["Inject_Global"].rows.values())
        return rows[0] if rows else None

    def _global_cfg(self) -> int:
        row = self._global_row()
        return int(row.cfg) if row is not None else 0

    def _expire(self, now: float) -> str:
        """Hard timeouts: an expired flow is removed, as OpenFlow does; return the transaction's status."""
        rows = self.inject.tables["Service_Flow"].rows
        expired = [rows[key] for key in self.flows.expired(now) if key in rows]
        if not expired:
            return str(ovs.db.idl.Transaction.UNCHANGED)
        txn = ovs.db.idl.Transaction(self.inject)
        for row in expired:
            service = records.service_of(row)
            if service is not None:
                service.delvalue("flows", row)
        status = txn.commit_block()
        if status in _DONE:
            LOG.info("removed %d expired flows", len(expired))
        return str(status)

    def _read_statuses(self) -> dict[str, Status]:
        """The status every flow and attachment row holds now, in one ``select`` per table.

        The daemon does not monitor the status columns: it is the one that
        writes them, and their echo (a row update per flow on a cold start)
        cost the server, the IDL and the pass more than reading them once after
        a (re)connection; from then on, what it wrote is what they hold.
        """
        statuses: dict[str, Status] = {}
        with Rpc(self.options.inject, STATUS_READ_TIMEOUT, "OVN_Inject") as rpc:
            for table in ("Service_Flow", "Attachment"):
                for row in rpc.select("OVN_Inject", table, [], ["_uuid", "status", "reason"]):
                    statuses[row["_uuid"][1]] = Status(row["status"], row["reason"])
        return statuses

    def flow_states(self) -> dict[str, int]:
        """How many flows are in each state, as the daemon wrote them (for the metrics)."""
        counts = {state.value: 0 for state in FlowState}
        written = self._written or {}
        for _ in range(10):  # read from the scrape thread while the loop may change them
            try:
                keys = list(self.inject.tables["Service_Flow"].rows)
                for key in keys:
                    status = written.get(str(key))
                    state = str(status.state) if status is not None else FlowState.PENDING.value
                    counts[state] = counts.get(state, 0) + 1
                return counts
            except RuntimeError:
                counts = dict.fromkeys(counts, 0)
        return counts

    def _write_status(self, compiled: Compiled, cfg: int) -> str:
        """Write the statuses that differ from what the rows hold.

        Return the transaction's status: anything but SUCCESS or UNCHANGED means nothing was written.
        """
        if self._written is None:
            reading, self._reading = self._reading, None
            try:
                self._written = reading.result() if reading is not None else self._read_statuses()
            except InjectDbError as exc:
                return f"reading the statuses: {exc}"
        txn = ovs.db.idl.Transaction(self.inject)
        changed = False
        batched = 0
        written = self._written
        for table, statuses in (
            ("Service_Flow", compiled.flow_status),
            ("Attachment", compiled.attachment_status),
        ):
            rows = self.inject.tables[table].rows
            for key, status in statuses.items():
                held = written.get(key)
                if held == status:
                    continue
                if uuid.UUID(key) not in rows:
                    continue
                # As JSON, not through the IDL row: a cold start writes one per flow. Only what
                # changes: the server and every client that monitors statuses read less.
                row = {"status": status.state.value}
                if held is None or held.reason != status.reason:
                    row["reason"] = status.reason
                where = [["_uuid", "==", ["uuid", key]]]
                txn.add_op({"op": "update", "table": table, "where": where, "row": row})
                changed = True
                batched += 1
                if batched == STATUS_BATCH:  # bounded transactions (and their memory) on a cold start
                    committed = txn.commit_block()
                    if committed not in _DONE:  # what this batch claimed is forgotten with the rest
                        return str(committed)
                    txn = ovs.db.idl.Transaction(self.inject)
                    batched = 0
                written[key] = status
        glob = self._global_row()
        if glob is not None and int(glob.sb_cfg) < cfg:
            glob.sb_cfg = cfg
            changed = True
        release = self.flows.release
        if glob is not None and release is not None and glob.options.get(RELEASE_OPTION) != release.name:
            # The release the gateway and the CLI check flows in.
            glob.setkey("options", RELEASE_OPTION, release.name)
            changed = True
        if changed:
            status = txn.commit_block()
            if status not in _DONE:
                return str(status)
        else:
            txn.abort()
        if glob is not None:
            self._in_sb = max(self._in_sb, cfg)
        return str(ovs.db.idl.Transaction.SUCCESS)

    # ---- --wait=hv --------------------------------------------------------

    def _bump_nb_cfg(self, cfg: int) -> None:
        """Ask every chassis to report, as ``ovn-nbctl --wait=hv`` does."""
        rows = list(self.nb.tables["NB_Global"].rows.values())
        if not rows:
            return
        target = int(rows[0].nb_cfg) + 1
        txn = ovs.db.idl.Transaction(self.nb)
        rows[0].nb_cfg = target
        if txn.commit_block() in _DONE:
            self._hv_wait = (target, cfg)
        else:
            self._retry_at = time.time() + RETRY_SECONDS

    def _check_hv(self) -> None:
        """Drive Inject_Global.hv_cfg up to the cfg already in SB; retried every pass until done."""
        glob = self._global_row()
        if glob is None:
            return
        if self._hv_wait is not None:
            rows = list(self.nb.tables["NB_Global"].rows.values())
            if rows and int(rows[0].hv_cfg) >= self._hv_wait[0]:
                reached = self._hv_wait[1]
                self._hv_wait = None
                if max(int(glob.hv_cfg), self._hv_written) < reached:
                    txn = ovs.db.idl.Transaction(self.inject)
                    glob.hv_cfg = reached
                    if txn.commit_block() in _DONE:
                        self._hv_written = reached
                    else:
                        self._retry_at = time.time() + RETRY_SECONDS
                        return
        done = max(int(glob.hv_cfg), self._hv_written)
        if done < self._in_sb and (self._hv_wait is None or self._hv_wait[1] < self._in_sb):
            self._bump_nb_cfg(self._in_sb)

    def force_recompute(self) -> None:
        """Rediscover northd's stages and registers, then recompile everything."""
        self.placements = {}
        self._compiled = None
        self._topology = None
        self._memo = ChainMemo()
        self._written = None
        self._reading = None
        for changes in self._changes.values():
            changes.everything = True

    @property
    def is_active(self) -> bool:
        return bool(self.sb.has_lock)

    @property
    def role(self) -> str:
        """``active`` (holds the SB lock), ``standby`` (another instance does) or ``connecting``."""
        if self.sb.has_lock:
            return "active"
        return "standby" if self.sb.is_lock_contended else "connecting"

    def status_text(self) -> str:
        unusable = "".join(f"hook {name} unusable: {why}\n" for name, why in sorted(self._unusable.items()))
        return (
            f"Status: {self.role}\nSB lock: {LOCK_NAME}\n"
            f"passes: {self.stats.passes}\nsb_ops: {self.stats.sb_ops}\n"
            f"hook lflows: {self.stats.lflows}\nlast pass: {self.stats.last_pass_ms:.1f} ms\n"
            f"failed passes: {self.stats.failures}\n{unusable}"
        )

    def close(self) -> None:
        self._reader.shutdown(wait=False, cancel_futures=True)
        for idl in (self.nb, self.sb, self.inject):
            idl.close()
