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
from ovn_inject.lang import Release
from ovn_inject.lang.releases import Detected, from_schema

SB = "OVN_Southbound"


def fetch_northd_flows(sb_remote: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every Logical_Flow that is not ours (northd's), with the columns discovery needs."""
    where = [["external_ids", "excludes", ["map", [[OWNER_KEY, OWNER_VALUE]]]]]
    with Rpc(sb_remote, timeout, SB) as rpc:
        rows = rpc.select(SB, "Logical_Flow", where, discovery.COLUMNS)
    for row in rows:
        row["external_ids"] = ovsdb_map(row["external_ids"])
    return rows


def detect_release(sb_remote: str, timeout: float = 30.0) -> Detected:
    """The OVN release whose language SB's flows are in, from the schema version SB serves."""
    with Rpc(sb_remote, timeout, SB) as rpc:
        schema = rpc.request("get_schema", [SB])
    return from_schema(str(schema.get("version", "")))


def discover(
    sb_remote: str,
    timeout: float = 30.0,
    registers: Mapping[DatapathKind, str] | None = None,
    width: int | Mapping[str, int] = DEFAULT_CURSOR_WIDTH,
    release: Release | None = None,
) -> discovery.Discovery:
    """Read and digest northd's flows; ``release`` forces the language, else SB's schema decides."""
    if release is None:
        release = detect_release(sb_remote, timeout).release
    rows = fetch_northd_flows(sb_remote, timeout)
    return discovery.discover(rows, registers, width, release=release)
