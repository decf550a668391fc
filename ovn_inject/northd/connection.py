"""The compiler daemon's options and its three IDLs, opened before the compiler is imported.

A cold start waits on the servers twice before its first pass: for the
dumps it asked for (OVN_Inject's 10,000 flows took its server 0.2-0.3 s to
build) and for its own imports (the compiler, the contract and the OVN
language, about as long). :func:`open_idls` connects and sends every
monitor request (and the SB lock request) first, so that the servers build
their dumps while the daemon imports the rest; nothing here imports the
compiler.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ovs.db.idl
import ovs.poller
from ovsdbapp.backend.ovs_idl import idlutils

from ovn_inject.constants import DEFAULT_TENANT_KEY, OWNER_KEY, OWNER_VALUE
from ovn_inject.northd import sources
from ovn_inject.northd.tracking import TrackingIdl

if TYPE_CHECKING:
    from ovn_inject.core.hooks import DatapathKind
    from ovn_inject.lang import Release

LOCK_NAME = "ovn_inject_northd"
#: How long open_idls waits for its requests to leave; the daemon's loop goes on from wherever they are.
REQUEST_SECONDS = 1.0


@dataclass
class Options:
    nb: str
    sb: str
    inject: str
    tenant_key: str = DEFAULT_TENANT_KEY
    registers: dict[DatapathKind, str] = field(default_factory=dict)
    cursor_width: int | None = None  # None: sized to the attachments at each hook
    release: Release | None = None  # forced; None: learnt from SB's schema


@dataclass(frozen=True)
class Idls:
    nb: TrackingIdl
    sb: TrackingIdl
    inject: TrackingIdl

    def all(self) -> tuple[TrackingIdl, TrackingIdl, TrackingIdl]:
        return self.nb, self.sb, self.inject


def _idl(remote: str, schema: str, columns: Mapping[str, list[str]]) -> TrackingIdl:
    helper = idlutils.get_schema_helper(remote, schema)
    for table, cols in columns.items():
        helper.register_columns(table, cols)
    return TrackingIdl(remote, helper, leader_only=False, ignore=sources.IGNORED_ALONE)


def open_idls(nb: str, sb: str, inject: str, timeout: float = REQUEST_SECONDS) -> Idls:
    """NB, SB (our own Logical_Flow rows only, and the lock) and OVN_Inject, their dumps requested."""
    idls = Idls(
        _idl(nb, "OVN_Northbound", sources.NB_COLUMNS),
        _idl(sb, "OVN_Southbound", sources.SB_COLUMNS),
        _idl(inject, "OVN_Inject", sources.INJECT_COLUMNS),
    )
    idls.sb.cond_change("Logical_Flow", [["external_ids", "includes", ["map", [[OWNER_KEY, OWNER_VALUE]]]]])
    idls.sb.set_lock(LOCK_NAME)
    deadline = time.monotonic() + timeout
    # Each IDL first reads the _Server database, then asks for its data: a few round trips.
    while True:
        for idl in idls.all():
            idl.run()
        left = deadline - time.monotonic()
        if left <= 0 or all(idl.state >= idl.IDL_S_DATA_MONITOR_REQUESTED for idl in idls.all()):
            return idls
        poller = ovs.poller.Poller()
        for idl in idls.all():
            idl.wait(poller)
        poller.timer_wait(int(left * 1000) + 1)
        poller.block()
