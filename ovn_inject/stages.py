"""Where each hook lands on the connected OVN, computed from northd's SB lflows (pure).

The stage -> table map and northd's highest priority per stage change between
OVN releases, so they are discovered from SB ``Logical_Flow`` rows at run
time (DESIGN.md section 3). This module only digests rows that a caller has
read; the CLI's ``hook-list`` and the compiler daemon share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ovn_inject.constants import OWNER_KEY
from ovn_inject.hooks import HOOK_POINTS, HookPoint

#: Highest priority an application may give a flow (its flows use 0..999).
APP_PRIORITY_MAX = 999
#: Priorities a hook needs above northd's highest one in its host stage: one
#: per application priority plus the continuation flow below them.
HOOK_BAND = APP_PRIORITY_MAX + 2
#: OpenFlow's highest priority; northd's flows at 65535 can never be out-ranked.
PRIORITY_MAX = 65535
#: Bands start at a multiple of this, so that a small change of northd's
#: highest priority does not move (and rewrite) every hook flow.
BAND_ALIGN = 1000


def band_base(max_priority: int) -> int:
    """The priority of a hook's continuation flows: the first aligned value above northd's."""
    return (max_priority // BAND_ALIGN + 1) * BAND_ALIGN


@dataclass(frozen=True)
class LflowRow:
    """The columns of one SB Logical_Flow that the discovery needs."""

    external_ids: Mapping[str, str]
    pipeline: str
    table_id: int
    priority: int


@dataclass(frozen=True)
class StageInfo:
    name: str
    pipeline: str
    table_id: int
    max_priority: int  # northd's highest priority in this stage


@dataclass(frozen=True)
class HookPlacement:
    hook: HookPoint
    stage: StageInfo | None
    usable: bool
    reason: str  # why not usable; empty when usable

    @property
    def band(self) -> tuple[int, int] | None:
        """The lowest and highest priority our flows get in the host table."""
        if self.stage is None or not self.usable:
            return None
        low = band_base(self.stage.max_priority)
        return low, low + HOOK_BAND - 1


def discover_stages(rows: Iterable[LflowRow]) -> dict[str, StageInfo]:
    """Northd's stages by stage-name; our own rows are ignored so they never raise the max."""
    stages: dict[str, StageInfo] = {}
    for row in rows:
        if OWNER_KEY in row.external_ids:
            continue
        name = row.external_ids.get("stage-name")
        if not name:
            continue
        known = stages.get(name)
        if known is None or row.priority > known.max_priority:
            stages[name] = StageInfo(name, row.pipeline, row.table_id, row.priority)
    return stages


def place_hook(hook: HookPoint, stages: Mapping[str, StageInfo]) -> HookPlacement:
    stage = stages.get(hook.host_stage)
    if stage is None:
        return HookPlacement(
            hook, None, False, f"host stage {hook.host_stage} not found in SB (no northd lflow names it)"
        )
    if stage.pipeline != hook.pipeline.value:
        return HookPlacement(
            hook, stage, False, f"host stage {stage.name} is in the {stage.pipeline} pipeline"
        )
    if stage.max_priority >= PRIORITY_MAX:
        return HookPlacement(
            hook, stage, False, f"northd uses priority {PRIORITY_MAX} in {stage.name}; nothing can run first"
        )
    if band_base(stage.max_priority) + HOOK_BAND - 1 > PRIORITY_MAX:
        return HookPlacement(
            hook,
            stage,
            False,
            f"northd's highest priority {stage.max_priority} in {stage.name} leaves no room for "
            f"{HOOK_BAND} priorities below {PRIORITY_MAX}",
        )
    return HookPlacement(hook, stage, True, "")


def place_hooks(stages: Mapping[str, StageInfo]) -> list[HookPlacement]:
    return [place_hook(hook, stages) for hook in HOOK_POINTS]
