"""What northd's own flows tell us: where each stage lives, which register bits it uses (pure).

The caller reads northd's Logical_Flow rows (``ovn_inject.db.discovery``);
this module digests them into stages, register usage and hook placements.
It fails closed: when a northd flow of a datapath kind cannot be read, the
register bits it touches are unknown, so no hook of that kind is placed
until the language reads it or an operator pins the cursor bits
(docs/design.md, "Discovery").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ovn_inject.constants import OWNER_KEY
from ovn_inject.core.hooks import DatapathKind
from ovn_inject.core.placement import (
    DEFAULT_CURSOR_WIDTH,
    LflowRow,
    Placement,
    StageInfo,
    Unusable,
    discover_stages,
    place_hooks,
)
from ovn_inject.lang import Context, LanguageError, Release, parse_actions, parse_match, register_bits
from ovn_inject.lang.releases import DEFAULT as DEFAULT_RELEASE

#: The Logical_Flow columns discovery reads.
COLUMNS = ["pipeline", "table_id", "priority", "match", "actions", "external_ids"]

RegisterBits = dict[DatapathKind, dict[str, frozenset[int]]]


@dataclass(frozen=True)
class Unreadable:
    """A northd flow the language cannot read: its text and why."""

    stage: str
    text: str
    error: str


@dataclass(frozen=True)
class Discovery:
    release: Release  # whose language northd's flows were read with
    stages: dict[str, StageInfo]
    used_bits: RegisterBits
    unreadable: dict[DatapathKind, tuple[Unreadable, ...]]
    placements: dict[str, Placement | Unusable] = field(default_factory=dict)


def datapath_kind(stage_name: str) -> DatapathKind | None:
    prefix = stage_name[:3]
    return {"ls_": DatapathKind.SWITCH, "lr_": DatapathKind.ROUTER}.get(prefix)


def register_usage(
    rows: Iterable[Mapping[str, Any]], release: Release = DEFAULT_RELEASE
) -> tuple[RegisterBits, dict[DatapathKind, tuple[Unreadable, ...]]]:
    """Register bits any northd flow of each datapath kind reads or writes, and the flows not read."""
    context = Context(release=release)
    seen: set[tuple[DatapathKind, str, str]] = set()
    used: dict[DatapathKind, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    unreadable: dict[DatapathKind, list[Unreadable]] = defaultdict(list)
    for row in rows:
        ids = row["external_ids"]
        if OWNER_KEY in ids:
            continue
        stage = ids.get("stage-name", "")
        kind = datapath_kind(stage)
        if kind is None:
            continue
        key = (kind, row["match"], row["actions"])
        if key in seen:
            continue
        seen.add(key)
        for parse, text in ((parse_match, row["match"]), (parse_actions, row["actions"])):
            try:
                bits = register_bits(parse(text, context), release)
            except LanguageError as exc:
                unreadable[kind].append(Unreadable(stage, text, str(exc)))
                continue
            for register, positions in bits.items():
                used[kind][register].update(positions)
    frozen = {kind: {reg: frozenset(bits) for reg, bits in regs.items()} for kind, regs in used.items()}
    return frozen, {kind: tuple(flows) for kind, flows in unreadable.items()}


def discover(
    rows: Sequence[Mapping[str, Any]],
    registers: Mapping[DatapathKind, str] | None = None,
    width: int = DEFAULT_CURSOR_WIDTH,
    trust_unreadable: bool = False,
    release: Release = DEFAULT_RELEASE,
) -> Discovery:
    """Stages, register usage and every hook's placement, from northd's flows.

    ``trust_unreadable`` places hooks even where a northd flow could not be
    read (the operator pinned the cursor and accepts the risk).
    """
    lflows = [
        LflowRow(r["external_ids"], r["pipeline"], int(r["table_id"]), int(r["priority"])) for r in rows
    ]
    stages = discover_stages(lflows)
    used, unreadable = register_usage(rows, release)
    placements = place_hooks(stages, used, registers, width)
    if not trust_unreadable:
        for name, placement in list(placements.items()):
            flows = unreadable.get(placement.hook.datapath)
            if flows and isinstance(placement, Placement):
                first = flows[0]
                placements[name] = Unusable(
                    placement.hook,
                    f"{len(flows)} northd flow(s) of the {placement.hook.datapath.value} pipelines cannot be "
                    f"read, so the register bits they use are unknown; first, in {first.stage}: "
                    f"{first.text!r} ({first.error})",
                )
    return Discovery(release, stages, used, unreadable, placements)
