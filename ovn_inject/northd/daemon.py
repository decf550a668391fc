"""``ovn-inject northd``: keep SB's hook lflows equal to what OVN_Inject asks for.

One loop, three IDLs: NB (topology and tenancy, read-only but for the
``nb_cfg`` bump of ``--wait=hv``), SB (datapaths, port bindings and only our
own Logical_Flow rows, through a conditional monitor) and OVN_Inject. Every
change recompiles (a pure function) and writes the difference. Only the
holder of the SB lock ``ovn_inject_northd`` writes; a second instance waits
as a standby and takes over when the lock frees up.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ovs.db.idl
import ovs.poller
from ovsdbapp.backend.ovs_idl import idlutils

from ovn_inject.constants import DEFAULT_TENANT_KEY, OWNER_KEY
from ovn_inject.hooks import DatapathKind
from ovn_inject.northd import discovery, sbwriter, sources
from ovn_inject.northd.appflows import FlowCache
from ovn_inject.northd.compiler import OWNER_VALUE, Compiled, compile_hooks
from ovn_inject.northd.diff import diff
from ovn_inject.northd.placement import DEFAULT_CURSOR_WIDTH, Placement, Unusable, place_hooks

LOG = logging.getLogger("ovn_inject.northd")
LOCK_NAME = "ovn_inject_northd"
#: While a hook is unusable (e.g. northd has not written its stage yet), look again this often.
REDISCOVER_SECONDS = 0.5


@dataclass
class Options:
    nb: str
    sb: str
    inject: str
    tenant_key: str = DEFAULT_TENANT_KEY
    registers: dict[DatapathKind, str] = field(default_factory=dict)
    cursor_width: int = DEFAULT_CURSOR_WIDTH


@dataclass
class Stats:
    """Counters tests and benchmarks read (through ``status``)."""

    passes: int = 0
    sb_ops: int = 0
    last_pass_ms: float = 0.0
    lflows: int = 0


def _idl(remote: str, schema: str, columns: Mapping[str, list[str]]) -> ovs.db.idl.Idl:
    helper = idlutils.get_schema_helper(remote, schema)
    for table, cols in columns.items():
        helper.register_columns(table, cols)
    return ovs.db.idl.Idl(remote, helper, leader_only=False)


class Daemon:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.nb = _idl(options.nb, "OVN_Northbound", sources.NB_COLUMNS)
        self.sb = _idl(options.sb, "OVN_Southbound", sources.SB_COLUMNS)
        self.sb.cond_change(
            "Logical_Flow", [["external_ids", "includes", ["map", [[OWNER_KEY, OWNER_VALUE]]]]]
        )
        self.sb.set_lock(LOCK_NAME)
        self.inject = _idl(options.inject, "OVN_Inject", sources.INJECT_COLUMNS)
        self.flows = FlowCache()
        self.placements: dict[str, Placement | Unusable] = {}
        self.stats = Stats()
        self._seqnos: tuple[int, int, int] = (-1, -1, -1)
        self._had_lock = False
        self._hv_wait: tuple[int, int] | None = None  # (nb_cfg we bumped to, inject cfg it covers)
        self._next_expiry: float | None = None
        self._rediscover_at: float | None = None
        self.running = True

    # ---- the loop -------------------------------------------------------

    def run(self) -> None:
        while self.running:
            self.run_once()
            poller = ovs.poller.Poller()
            self.wait(poller)
            poller.block()

    def run_once(self) -> None:
        for idl in (self.nb, self.sb, self.inject):
            idl.run()
        if not all(idl.has_ever_connected() for idl in (self.nb, self.sb, self.inject)):
            return
        if not self.sb.has_lock:
            if self._had_lock:
                LOG.warning("lost the SB lock %s: now standby", LOCK_NAME)
            self._had_lock = False
            return
        if not self._had_lock:
            LOG.info("acquired the SB lock %s: active", LOCK_NAME)
            self._had_lock = True
            self._seqnos = (-1, -1, -1)
            self.placements = {}
        seqnos = (self.nb.change_seqno, self.sb.change_seqno, self.inject.change_seqno)
        now = time.time()
        expired = self._next_expiry is not None and now >= self._next_expiry
        rediscover = self._rediscover_at is not None and now >= self._rediscover_at
        if rediscover:
            self.placements = {}
        if seqnos != self._seqnos or expired or rediscover:
            self.reconcile()
            self._seqnos = (self.nb.change_seqno, self.sb.change_seqno, self.inject.change_seqno)
        self._check_hv()

    def wait(self, poller: ovs.poller.Poller) -> None:
        for idl in (self.nb, self.sb, self.inject):
            idl.wait(poller)
        for when in (self._next_expiry, self._rediscover_at):
            if when is not None:
                poller.timer_wait(max(0, int((when - time.time()) * 1000)) + 1)

    # ---- one pass ---------------------------------------------------------

    def reconcile(self) -> None:
        started = time.perf_counter()
        if not self.placements:
            self.placements = self._discover()
        inject = self.inject.tables
        cfg = self._global_cfg()
        now = time.time()
        self._expire(now)
        topo = sources.topology(self.nb.tables, self.sb.tables, self.options.tenant_key)
        app_flows, flow_errors, self._next_expiry = self.flows.load(inject["Service_Flow"].rows.values(), now)
        compiled = compile_hooks(
            topo, self.placements, sources.services(inject), sources.attachments(inject), app_flows
        )
        compiled.flow_status.update(flow_errors)
        ours = set(self.sb.tables["Logical_Flow"].rows)
        delta = diff(compiled.lflows, ours)
        if delta:
            self.stats.sb_ops += sbwriter.apply(self.sb, delta)
        self._write_status(compiled, cfg)
        self.stats.passes += 1
        self.stats.lflows = len(compiled.lflows)
        self.stats.last_pass_ms = (time.perf_counter() - started) * 1000
        LOG.info(
            "pass %d: %d hook lflows, +%d -%d rows, %.1f ms",
            self.stats.passes,
            len(compiled.lflows),
            len(delta.insert),
            len(delta.delete),
            self.stats.last_pass_ms,
        )

    def _discover(self) -> dict[str, Placement | Unusable]:
        rows = discovery.fetch_northd_flows(self.options.sb)
        stages, used = discovery.analyze(rows)
        placements = place_hooks(stages, used, self.options.registers, self.options.cursor_width)
        unusable = {name: p.reason for name, p in placements.items() if isinstance(p, Unusable)}
        for name, reason in unusable.items():
            LOG.warning("hook %s unusable: %s", name, reason)
        self._rediscover_at = time.time() + REDISCOVER_SECONDS if unusable else None
        return placements

    def _global_row(self) -> Any:
        rows = list(self.inject.tables["Inject_Global"].rows.values())
        return rows[0] if rows else None

    def _global_cfg(self) -> int:
        row = self._global_row()
        return int(row.cfg) if row is not None else 0

    def _expire(self, now: float) -> None:
        """Hard timeouts: an expired flow is removed, as OpenFlow does."""
        expired = self.flows.expired(self.inject.tables["Service_Flow"].rows.values(), now)
        if not expired:
            return
        txn = ovs.db.idl.Transaction(self.inject)
        for row in expired:
            service = sources._first(row.service)
            if service is not None:
                service.delvalue("flows", row)
        txn.commit_block()
        LOG.info("removed %d expired flows", len(expired))

    def _write_status(self, compiled: Compiled, cfg: int) -> None:
        txn = ovs.db.idl.Transaction(self.inject)
        changed = False
        for table, statuses in (
            ("Service_Flow", compiled.flow_status),
            ("Attachment", compiled.attachment_status),
        ):
            rows = self.inject.tables[table].rows
            for key, status in statuses.items():
                row = rows.get(uuid.UUID(key))
                if row is not None and (row.status, row.reason) != (status.state, status.reason):
                    row.status = status.state
                    row.reason = status.reason
                    changed = True
        glob = self._global_row()
        if glob is not None and int(glob.sb_cfg) < cfg:
            glob.sb_cfg = cfg
            changed = True
        if changed:
            txn.commit_block()
        else:
            txn.abort()
        if glob is not None and int(glob.hv_cfg) < cfg and (self._hv_wait is None or self._hv_wait[1] < cfg):
            self._bump_nb_cfg(cfg)

    # ---- --wait=hv --------------------------------------------------------

    def _bump_nb_cfg(self, cfg: int) -> None:
        """Ask every chassis to report, as ``ovn-nbctl --wait=hv`` does."""
        rows = list(self.nb.tables["NB_Global"].rows.values())
        if not rows:
            return
        target = int(rows[0].nb_cfg) + 1
        txn = ovs.db.idl.Transaction(self.nb)
        rows[0].nb_cfg = target
        if txn.commit_block() in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            self._hv_wait = (target, cfg)

    def _check_hv(self) -> None:
        if self._hv_wait is None:
            return
        rows = list(self.nb.tables["NB_Global"].rows.values())
        if not rows or int(rows[0].hv_cfg) < self._hv_wait[0]:
            return
        glob = self._global_row()
        if glob is not None and int(glob.hv_cfg) < self._hv_wait[1]:
            txn = ovs.db.idl.Transaction(self.inject)
            glob.hv_cfg = self._hv_wait[1]
            txn.commit_block()
        self._hv_wait = None

    def force_recompute(self) -> None:
        """Rediscover northd's stages and registers, then recompile everything."""
        self.placements = {}
        self._seqnos = (-1, -1, -1)

    def status_text(self) -> str:
        role = "active" if self.sb.has_lock else "standby"
        return (
            f"Status: {role}\npasses: {self.stats.passes}\nsb_ops: {self.stats.sb_ops}\n"
            f"hook lflows: {self.stats.lflows}\nlast pass: {self.stats.last_pass_ms:.1f} ms\n"
        )

    def close(self) -> None:
        for idl in (self.nb, self.sb, self.inject):
            idl.close()
