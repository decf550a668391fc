"""What northd's own flows tell us: where each stage lives, which register bits it uses.

Read once at start (and when asked), with a one-shot ``select`` rather than
a monitor: the daemon must not mirror the whole Logical_Flow table.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ovn_inject.constants import OWNER_KEY
from ovn_inject.db.rpc import Rpc, ovsdb_map
from ovn_inject.hooks import DatapathKind
from ovn_inject.lang import LanguageError, parse_actions, parse_match, register_bits
from ovn_inject.northd.compiler import OWNER_VALUE
from ovn_inject.stages import LflowRow, StageInfo, discover_stages

LOG = logging.getLogger(__name__)
COLUMNS = ["pipeline", "table_id", "priority", "match", "actions", "external_ids"]


def fetch_northd_flows(sb_remote: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every Logical_Flow that is not ours (northd's), with the columns discovery needs."""
    where = [["external_ids", "excludes", ["map", [[OWNER_KEY, OWNER_VALUE]]]]]
    with Rpc(sb_remote, timeout, "OVN_Southbound") as rpc:
        rows = rpc.select("OVN_Southbound", "Logical_Flow", where, COLUMNS)
    for row in rows:
        row["external_ids"] = ovsdb_map(row["external_ids"])
    return rows


def datapath_kind(stage_name: str) -> DatapathKind | None:
    prefix = stage_name[:3]
    return {"ls_": DatapathKind.SWITCH, "lr_": DatapathKind.ROUTER}.get(prefix)


def register_usage(rows: Iterable[Mapping[str, Any]]) -> dict[DatapathKind, dict[str, frozenset[int]]]:
    """Register bits any northd flow of each datapath kind reads or writes."""
    seen: set[tuple[DatapathKind, str, str]] = set()
    used: dict[DatapathKind, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for row in rows:
        kind = datapath_kind(row["external_ids"].get("stage-name", ""))
        if kind is None:
            continue
        key = (kind, row["match"], row["actions"])
        if key in seen:
            continue
        seen.add(key)
        for parse, text in ((parse_match, row["match"]), (parse_actions, row["actions"])):
            try:
                bits = register_bits(parse(text))
            except LanguageError as exc:  # a northd flow we cannot read: say so, keep going
                LOG.warning("cannot read northd flow %r: %s", text, exc)
                continue
            for register, positions in bits.items():
                used[kind][register].update(positions)
    return {kind: {reg: frozenset(bits) for reg, bits in regs.items()} for kind, regs in used.items()}


def analyze(
    rows: list[dict[str, Any]],
) -> tuple[dict[str, StageInfo], dict[DatapathKind, dict[str, frozenset[int]]]]:
    lflows = [
        LflowRow(r["external_ids"], r["pipeline"], int(r["table_id"]), int(r["priority"])) for r in rows
    ]
    return discover_stages(lflows), register_usage(rows)
