"""The one discovery service: read northd's flows from SB, digest them with ``core.discovery``.

The daemon, the gateway's dry runs and the CLI's ``hook-list`` all call
:func:`discover`. It reads with a one-shot ``select`` rather than a monitor:
no process mirrors the whole Logical_Flow table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ovn_inject.constants import OWNER_KEY, OWNER_VALUE
from ovn_inject.core import discovery
from ovn_inject.core.hooks import DatapathKind
from ovn_inject.core.placement import DEFAULT_CURSOR_WIDTH
from ovn_inject.db.rpc import Rpc, ovsdb_map

SB = "OVN_Southbound"


def fetch_northd_flows(sb_remote: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every Logical_Flow that is not ours (northd's), with the columns discovery needs."""
    where = [["external_ids", "excludes", ["map", [[OWNER_KEY, OWNER_VALUE]]]]]
    with Rpc(sb_remote, timeout, SB) as rpc:
        rows = rpc.select(SB, "Logical_Flow", where, discovery.COLUMNS)
    for row in rows:
        row["external_ids"] = ovsdb_map(row["external_ids"])
    return rows


def discover(
    sb_remote: str,
    timeout: float = 30.0,
    registers: Mapping[DatapathKind, str] | None = None,
    width: int = DEFAULT_CURSOR_WIDTH,
) -> discovery.Discovery:
    return discovery.discover(fetch_northd_flows(sb_remote, timeout), registers, width)
