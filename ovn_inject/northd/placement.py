"""Where each hook point lives on the connected OVN (pure, no I/O).

Inputs are facts discovered from SB: the table id and northd's highest
priority of every host stage, and the register bits northd's own flows use
in each pipeline. The result places every hook in its host table, in a
priority band above northd's, with a cursor in register bits nobody else
uses, or says in words why a hook cannot be used on this OVN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ovn_inject.hooks import HOOK_POINTS, DatapathKind, HookPoint
from ovn_inject.stages import StageInfo, band_base, place_hook

DEFAULT_CURSOR_REGISTER = "reg9"
DEFAULT_CURSOR_WIDTH = 4
REGISTER_WIDTH = 32


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
    hook: HookPoint
    table_id: int
    base_priority: int
    cursor: Cursor

    def priority(self, app_priority: int) -> int:
        return self.base_priority + 1 + app_priority


@dataclass(frozen=True)
class Unusable:
    hook: HookPoint
    reason: str


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
        band = place_hook(hook, stages)
        if not band.usable or band.stage is None:
            result[hook.name] = Unusable(hook, band.reason)
            continue
        stage = band.stage
        register = registers.get(hook.datapath, DEFAULT_CURSOR_REGISTER)
        busy = set(used_bits.get(hook.datapath, {}).get(register, frozenset()))
        mine = taken.setdefault(register, set())
        low = _free_run(busy | mine, width)
        if low is None:
            result[hook.name] = Unusable(
                hook,
                f"no {width} contiguous bits of {register} are free in the {hook.datapath.value} pipeline "
                f"(northd uses bits {_ranges(busy)}, other hooks {_ranges(mine)}); "
                f"choose another register with --cursor-register-{hook.datapath.value}",
            )
            continue
        mine.update(range(low, low + width))
        result[hook.name] = Placement(
            hook, stage.table_id, band_base(stage.max_priority), Cursor(register, low, low + width - 1)
        )
    return result


def _free_run(busy: set[int], width: int) -> int | None:
    for low in range(REGISTER_WIDTH - width + 1):
        if not any(bit in busy for bit in range(low, low + width)):
            return low
    return None


def _ranges(bits: set[int]) -> str:
    if not bits:
        return "none"
    ordered = sorted(bits)
    spans: list[tuple[int, int]] = [(ordered[0], ordered[0])]
    for bit in ordered[1:]:
        start, end = spans[-1]
        if bit == end + 1:
            spans[-1] = (start, bit)
        else:
            spans.append((bit, bit))
    return ",".join(str(a) if a == b else f"{a}..{b}" for a, b in spans)
