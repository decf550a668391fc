"""Where each hook point lives on the connected OVN (pure, no I/O).

Inputs are facts discovered from SB (see :mod:`ovn_inject.core.discovery`):
the table id and northd's highest priority of every host stage, and the
register bits northd's own flows use in each pipeline. The result places
every hook in its host table, in a priority band above northd's, with a
cursor in register bits nobody else uses, or says in words why a hook
cannot be used on this OVN (docs/design.md, "Hook placement").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ovn_inject.constants import OWNER_KEY
from ovn_inject.core.hooks import HOOK_POINTS, DatapathKind, HookPoint

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

DEFAULT_CURSOR_REGISTER = "reg9"
DEFAULT_CURSOR_WIDTH = 4
REGISTER_WIDTH = 32


def band_base(max_priority: int) -> int:
    """The priority of a hook's continuation flows: the first aligned value above northd's."""
    return (max_priority // BAND_ALIGN + 1) * BAND_ALIGN


@dataclass(frozen=True)
class LflowRow:
    """The columns of one SB Logical_Flow that stage discovery needs."""

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


@dataclass(frozen=True)
class Cursor:
    """The register bits that count, per packet, which services of a scope already ran."""

    register: str
    low: int
    high: int  # inclusive

    @property
    def field(self) -> str:
        return f"{self.register}[{self.low}..{self.high}]"

    @property
    def capacity(self) -> int:
        """How many services one scope can chain (the cursor must reach that value)."""
        return (1 << (self.high - self.low + 1)) - 1


@dataclass(frozen=True)
class Placement:
    """A usable hook: its table, the priority of its continuation flows, its cursor.

    ``northd_max`` is shown to operators but not compared: northd's highest
    priority moving inside one aligned band changes no hook flow.
    """

    hook: HookPoint
    table_id: int
    base_priority: int
    cursor: Cursor
    northd_max: int = field(default=0, compare=False)

    def priority(self, app_priority: int) -> int:
        return self.base_priority + 1 + app_priority

    @property
    def band(self) -> tuple[int, int]:
        """The lowest and highest priority our flows get in the host table."""
        return self.base_priority, self.base_priority + HOOK_BAND - 1


@dataclass(frozen=True)
class Unusable:
    hook: HookPoint
    reason: str
    stage: StageInfo | None = None


def _stage_problem(hook: HookPoint, stages: Mapping[str, StageInfo]) -> tuple[StageInfo | None, str]:
    """The hook's host stage and, when no band fits there, why."""
    stage = stages.get(hook.host_stage)
    if stage is None:
        return None, f"host stage {hook.host_stage} not found in SB (no northd lflow names it)"
    if stage.pipeline != hook.pipeline.value:
        return stage, f"host stage {stage.name} is in the {stage.pipeline} pipeline"
    if stage.max_priority >= PRIORITY_MAX:
        return stage, f"northd uses priority {PRIORITY_MAX} in {stage.name}; nothing can run first"
    if band_base(stage.max_priority) + HOOK_BAND - 1 > PRIORITY_MAX:
        return stage, (
            f"northd's highest priority {stage.max_priority} in {stage.name} leaves no room for "
            f"{HOOK_BAND} priorities below {PRIORITY_MAX}"
        )
    return stage, ""


def place_hooks(
    stages: Mapping[str, StageInfo],
    used_bits: Mapping[DatapathKind, Mapping[str, frozenset[int]]],
    registers: Mapping[DatapathKind, str] | None = None,
    width: int = DEFAULT_CURSOR_WIDTH,
) -> dict[str, Placement | Unusable]:
    """Place every hook point; cursors of all hooks get disjoint bits.

    Disjoint bits keep a cursor intact whatever happens to registers when a
    packet moves between datapaths or pipelines.
    """
    registers = registers or {}
    taken: dict[str, set[int]] = {}
    result: dict[str, Placement | Unusable] = {}
    for hook in HOOK_POINTS:
        stage, problem = _stage_problem(hook, stages)
        if problem or stage is None:
            result[hook.name] = Unusable(hook, problem, stage)
            continue
        register = registers.get(hook.datapath, DEFAULT_CURSOR_REGISTER)
        busy = set(used_bits.get(hook.datapath, {}).get(register, frozenset()))
        mine = taken.setdefault(register, set())
        low = _free_run(busy | mine, width)
        if low is None:
            result[hook.name] = Unusable(
                hook,
                f"no {width} contiguous bits of {register} are free in the {hook.datapath.value} pipeline "
                f"(northd uses bits {bit_ranges(busy)}, other hooks {bit_ranges(mine)}); "
                f"choose another register with --cursor-register-{hook.datapath.value}",
                stage,
            )
            continue
        mine.update(range(low, low + width))
        result[hook.name] = Placement(
            hook,
            stage.table_id,
            band_base(stage.max_priority),
            Cursor(register, low, low + width - 1),
            stage.max_priority,
        )
    return result


def _free_run(busy: set[int], width: int) -> int | None:
    for low in range(REGISTER_WIDTH - width + 1):
        if not any(bit in busy for bit in range(low, low + width)):
            return low
    return None


def bit_ranges(bits: Iterable[int]) -> str:
    """``0..3,7`` for bits {0,1,2,3,7}; ``none`` for no bits."""
    ordered = sorted(set(bits))
    if not ordered:
        return "none"
    spans: list[tuple[int, int]] = [(ordered[0], ordered[0])]
    for bit in ordered[1:]:
        start, end = spans[-1]
        if bit == end + 1:
            spans[-1] = (start, bit)
        else:
            spans.append((bit, bit))
    return ",".join(str(a) if a == b else f"{a}..{b}" for a, b in spans)
