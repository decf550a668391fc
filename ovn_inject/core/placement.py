"""Where each hook point lives on the connected OVN (pure, no I/O).

Inputs are facts discovered from SB (see :mod:`ovn_inject.core.discovery`):
the table id and northd's highest priority of every host stage, and the
register bits northd's own flows use in each pipeline. The result places
every hook in its host table, in a priority band above northd's, with a
cursor in register bits nobody else uses, or says in words why a hook
cannot be used on this OVN (docs/design.md, "Hook placement").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from ovn_inject.constants import OWNER_KEY
from ovn_inject.core.hooks import APP_PRIORITY_MAX, HOOK_POINTS, DatapathKind, HookPoint, Pipeline

#: Priorities a hook needs above northd's highest one in its host stage: one
#: per application priority plus the continuation flow below them.
HOOK_BAND = APP_PRIORITY_MAX + 2
#: OpenFlow's highest priority; northd's flows at 65535 can never be out-ranked.
PRIORITY_MAX = 65535
#: Bands start at a multiple of this, so that a small change of northd's
#: highest priority does not move (and rewrite) every hook flow.
BAND_ALIGN = 1000

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
    """The register bits that count, per packet, which services of a scope already ran.

    The bits need not be contiguous (free bits are scarce on newer releases);
    the value's low bit is the lowest bit. OVN's language names contiguous
    runs only, so a cursor is matched and set run by run.
    """

    register: str
    bits: tuple[int, ...]  # ascending

    @cached_property
    def runs(self) -> tuple[tuple[int, int], ...]:
        """Contiguous (low, high) runs of the bits, lowest first (the contract asks for every row)."""
        runs: list[tuple[int, int]] = []
        for bit in self.bits:
            if runs and runs[-1][1] == bit - 1:
                runs[-1] = (runs[-1][0], bit)
            else:
                runs.append((bit, bit))
        return tuple(runs)

    @property
    def field(self) -> str:
        """How operators see it: ``reg9[0..3]``, or ``reg1[24..25],reg1[30]`` when split."""
        return ",".join(self._ref(low, high) for low, high in self.runs)

    @property
    def capacity(self) -> int:
        """How many services one scope can chain (the cursor must reach that value)."""
        return (1 << len(self.bits)) - 1

    def match(self, value: int) -> str:
        return " && ".join(f"{ref} == {part}" for ref, part in self._parts(value))

    def assign(self, value: int) -> str:
        return " ".join(f"{ref} = {part};" for ref, part in self._parts(value))

    def _ref(self, low: int, high: int) -> str:
        return f"{self.register}[{low}]" if low == high else f"{self.register}[{low}..{high}]"

    def _parts(self, value: int) -> list[tuple[str, int]]:
        parts, shift = [], 0
        for low, high in self.runs:
            width = high - low + 1
            parts.append((self._ref(low, high), (value >> shift) & ((1 << width) - 1)))
            shift += width
        return parts


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


#: Registers tried for cursors, in order, when the operator names none for a datapath kind.
CURSOR_REGISTERS = tuple(f"reg{i}" for i in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0))


def place_hooks(
    stages: Mapping[str, StageInfo],
    used_bits: Mapping[tuple[DatapathKind, Pipeline], Mapping[str, frozenset[int]]],
    registers: Mapping[DatapathKind, str] | None = None,
    width: int | Mapping[str, int] = DEFAULT_CURSOR_WIDTH,
) -> dict[str, Placement | Unusable]:
    """Place every hook point in bits nobody uses in its pipeline.

    Hooks of one pipeline (datapath kind and direction) get disjoint bits, so
    a packet passing two of them keeps both counts. Pipelines may reuse each
    other's bits: ovn-controller zeroes the logical registers before the egress
    pipeline and when a packet crosses into another datapath (docs/design.md,
    "The cursor"). ``registers`` pins the register of a datapath kind;
    otherwise the first register with enough free bits is used. ``width`` is
    the cursor's bit count, for all hooks or per hook name.
    """
    registers = registers or {}
    taken: dict[tuple[DatapathKind, Pipeline, str], set[int]] = {}
    result: dict[str, Placement | Unusable] = {}
    for hook in HOOK_POINTS:
        stage, problem = _stage_problem(hook, stages)
        if problem or stage is None:
            result[hook.name] = Unusable(hook, problem, stage)
            continue
        need = width if isinstance(width, int) else width.get(hook.name, DEFAULT_CURSOR_WIDTH)
        pinned = registers.get(hook.datapath)
        usage = used_bits.get((hook.datapath, hook.pipeline), {})
        most_free = ("", -1)
        for register in (pinned,) if pinned else CURSOR_REGISTERS:
            mine = taken.setdefault((hook.datapath, hook.pipeline, register), set())
            busy = set(usage.get(register, frozenset())) | mine
            bits = _free_bits(busy, need)
            if bits is not None:
                mine.update(bits)
                cursor = Cursor(register, bits)
                base = band_base(stage.max_priority)
                result[hook.name] = Placement(hook, stage.table_id, base, cursor, stage.max_priority)
                break
            if REGISTER_WIDTH - len(busy) > most_free[1]:
                most_free = (register, REGISTER_WIDTH - len(busy))
        else:
            register, free = most_free
            where = f"{hook.datapath.value} {hook.pipeline.value} pipeline"
            result[hook.name] = Unusable(
                hook,
                f"unusable: not enough free bits for a cursor in the {where} (need {need}, free {free}, "
                f"in {register}{'' if pinned else ', the freest register'})",
                stage,
            )
    return result


def _free_bits(busy: set[int], width: int) -> tuple[int, ...] | None:
    """``width`` free bits: the lowest contiguous run if there is one, else the lowest scattered bits."""
    for low in range(REGISTER_WIDTH - width + 1):
        if not any(bit in busy for bit in range(low, low + width)):
            return tuple(range(low, low + width))
    free = [bit for bit in range(REGISTER_WIDTH) if bit not in busy]
    return tuple(free[:width]) if len(free) >= width else None


def pinned_registers(switch: str | None, router: str | None) -> dict[DatapathKind, str]:
    """The registers an operator pinned per datapath kind (``--cursor-register-ls/-lr``)."""
    pinned = {DatapathKind.SWITCH: switch, DatapathKind.ROUTER: router}
    return {kind: register for kind, register in pinned.items() if register}


#: The fewest bits a cursor gets: room for three services before a fourth moves the bits.
MIN_CURSOR_WIDTH = 2


def cursor_widths(attached_hooks: Iterable[str], minimum: int = MIN_CURSOR_WIDTH) -> dict[str, int]:
    """Bits each hook's cursor needs for its longest possible chain: one service per attachment there.

    Sized to what is attached, because free bits are scarce on newer
    releases; a hook with no attachment still gets ``minimum``.
    """
    counts = Counter(attached_hooks)
    return {hook.name: max(minimum, counts[hook.name].bit_length()) for hook in HOOK_POINTS}


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
