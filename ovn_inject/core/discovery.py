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
from dataclasses import dataclass, field, replace
from typing import Any

from ovn_inject.constants import OWNER_KEY
from ovn_inject.core.hooks import DatapathKind, Pipeline
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

#: A pipeline: datapath kind and direction. Registers do not survive from one to another.
PipelineKey = tuple[DatapathKind, Pipeline]
RegisterBits = dict[PipelineKey, dict[str, frozenset[int]]]

#: Register bits ovn-controller itself uses in every pipeline, outside northd's flows, from the
#: release that started it (controller/physical.c): reg9[1] for the packet-too-big check of the
#: output stage (24.03), reg6 to pick a chassis in remote flooding (25.03), reg5[16..31] for the
#: tunnel port kept across network-function datapaths (26.03).
CONTROLLER_BITS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("24.03", "reg9", frozenset({1})),
    ("25.03", "reg6", frozenset(range(32))),
    ("26.03", "reg5", frozenset(range(16, 32))),
)


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
    used_bits: RegisterBits  # northd's and ovn-controller's
    unreadable: dict[PipelineKey, tuple[Unreadable, ...]]
    placements: dict[str, Placement | Unusable] = field(default_factory=dict)


def datapath_kind(stage_name: str) -> DatapathKind | None:
    prefix = stage_name[:3]
    return {"ls_": DatapathKind.SWITCH, "lr_": DatapathKind.ROUTER}.get(prefix)


def register_usage(
    rows: Iterable[Mapping[str, Any]], release: Release = DEFAULT_RELEASE
) -> tuple[RegisterBits, dict[PipelineKey, tuple[Unreadable, ...]]]:
    """Register bits any northd flow of each pipeline reads or writes, and the flows not read."""
    context = Context(release=release)
    seen: set[tuple[PipelineKey, str, str]] = set()
    used: dict[PipelineKey, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    unreadable: dict[PipelineKey, list[Unreadable]] = defaultdict(list)
    for row in rows:
        ids = row["external_ids"]
        if OWNER_KEY in ids:
            continue
        stage = ids.get("stage-name", "")
        kind = datapath_kind(stage)
        if kind is None or row["pipeline"] not in ("ingress", "egress"):
            continue
        pipeline = (kind, Pipeline(row["pipeline"]))
        key = (pipeline, row["match"], row["actions"])
        if key in seen:
            continue
        seen.add(key)
        for parse, text in ((parse_match, row["match"]), (parse_actions, row["actions"])):
            try:
                bits = register_bits(parse(text, context), release, ignore_clears=True)
            except LanguageError as exc:
                unreadable[pipeline].append(Unreadable(stage, text, str(exc)))
                continue
            for register, positions in bits.items():
                used[pipeline][register].update(positions)
    for since, register, positions in CONTROLLER_BITS:
        if _release_key(release.name) >= _release_key(since):
            for kind in DatapathKind:
                for direction in Pipeline:
                    used[(kind, direction)][register].update(positions)
    frozen = {key: {reg: frozenset(bits) for reg, bits in regs.items()} for key, regs in used.items()}
    return frozen, {key: tuple(flows) for key, flows in unreadable.items()}


def _release_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split("."))


def discover(
    rows: Sequence[Mapping[str, Any]],
    registers: Mapping[DatapathKind, str] | None = None,
    width: int | Mapping[str, int] = DEFAULT_CURSOR_WIDTH,
    trust_unreadable: bool = False,
    release: Release = DEFAULT_RELEASE,
) -> Discovery:
    """Stages, register usage and every hook's placement, from northd's flows."""
    lflows = [
        LflowRow(r["external_ids"], r["pipeline"], int(r["table_id"]), int(r["priority"])) for r in rows
    ]
    stages = discover_stages(lflows)
    used, unreadable = register_usage(rows, release)
    found = Discovery(release, stages, used, unreadable)
    return replace(found, placements=place(found, registers, width, trust_unreadable))


def place(
    found: Discovery,
    registers: Mapping[DatapathKind, str] | None = None,
    width: int | Mapping[str, int] = DEFAULT_CURSOR_WIDTH,
    trust_unreadable: bool = False,
) -> dict[str, Placement | Unusable]:
    """Every hook's placement from what discovery found (pure and cheap: no flow is read again).

    ``trust_unreadable`` places hooks even where a northd flow could not be
    read (the operator pinned the register and accepts the risk).
    """
    placements = place_hooks(found.stages, found.used_bits, registers, width)
    if trust_unreadable:
        return placements
    for name, placement in list(placements.items()):
        hook = placement.hook
        flows = found.unreadable.get((hook.datapath, hook.pipeline))
        if flows and isinstance(placement, Placement):
            first = flows[0]
            placements[name] = Unusable(
                hook,
                f"{len(flows)} northd flow(s) of the {hook.datapath.value} {hook.pipeline.value} pipeline "
                f"cannot be read in OVN {found.release.name}'s language, so the register bits they use are "
                f"unknown; first, in {first.stage}: {first.text!r} ({first.error})",
            )
    return placements
