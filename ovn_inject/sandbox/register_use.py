"""Which bits of reg0..reg9 northd's flows use, per pipeline: the measure free cursor bits are chosen by.

Each flow is read two ways. ovn_inject.lang parses it and ``register_bits``
says what it reads and writes, exactly (overlays and named fields resolved);
a flow the language cannot read yet is counted as unparsed. Independently,
every ``regN``/``xregN``/``xxregN`` written in the text is collected: that
textual measure covers the unparsed flows too (but not named fields that
alias registers, which only the parse sees). The union of both is "used".

Run it against the ``full`` topology on the installed release with
``python -m ovn_inject.sandbox.register_use`` (it starts and stops its own
sandbox), or ``--dir`` to measure a sandbox that is already up.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ovn_inject.lang import LanguageError, parse_actions, parse_match, register_bits
from ovn_inject.sandbox import features, release
from ovn_inject.sandbox.sandbox import Sandbox

#: Pipelines by the prefix of northd's stage names.
PIPELINES = {
    "ls_in": "switch ingress",
    "ls_out": "switch egress",
    "lr_in": "router ingress",
    "lr_out": "router egress",
}
REGISTERS = tuple(f"reg{n}" for n in range(10))
_RESET = re.compile(r"(?<![\w.])(?:xx|x)?reg\d+ = 0;\s*")
_REF = re.compile(r"\b(xx|x)?reg(\d+)\b(?:\[(\d+)(?:\.\.(\d+))?\])?")


@dataclass
class PipelineUse:
    flows: int = 0
    unparsed: int = 0
    parsed: dict[str, set[int]] = field(default_factory=dict)
    textual: dict[str, set[int]] = field(default_factory=dict)

    def used(self, register: str) -> set[int]:
        return self.parsed.get(register, set()) | self.textual.get(register, set())


def textual_bits(text: str) -> dict[str, set[int]]:
    """Register bits ``text`` names as ``regN[..]``, ``xregN[..]`` or ``xxregN[..]`` (overlays resolved)."""
    bits: dict[str, set[int]] = {}
    for found in _REF.finditer(text):
        overlay, number = found[1] or "", int(found[2])
        words = {"": 1, "x": 2, "xx": 4}[overlay]
        width = 32 * words
        low = int(found[3]) if found[3] is not None else 0
        high = int(found[4]) if found[4] is not None else (low if found[3] is not None else width - 1)
        for bit in range(low, min(high, width - 1) + 1):
            # The most significant word of an overlay is its lowest-numbered register.
            register = number * words + (words - 1 - bit // 32)
            if register < len(REGISTERS):
                bits.setdefault(f"reg{register}", set()).add(bit % 32)
    return bits


def _merge(into: dict[str, set[int]], bits: Mapping[str, Iterable[int]]) -> None:
    for register, found in bits.items():
        into.setdefault(register, set()).update(found)


def without_resets(actions: str) -> str:
    """``actions`` without the ``regN = 0;`` that clear a register before a packet re-enters a pipeline."""
    return _RESET.sub("", actions)


def measure(flows: Iterable[tuple[str, str, str]], ignore_resets: bool = False) -> dict[str, PipelineUse]:
    """Register use per pipeline of ``flows``, each (stage name, match, actions).

    With ``ignore_resets``, whole-register clears (``reg0 = 0;`` in reject, ``reg0 = 0; ... reg9 = 0;``
    in the router's egress loop) do not count: they zero a register for a new pass of the pipeline,
    so they show what a bit shared across that boundary would meet, not what northd keeps there.
    """
    use = {name: PipelineUse() for name in PIPELINES.values()}
    for stage, match, original in flows:
        actions = without_resets(original) if ignore_resets else original
        prefix = "_".join(stage.split("_")[:2])
        pipeline = PIPELINES.get(prefix)
        if pipeline is None:
            continue
        entry = use[pipeline]
        entry.flows += 1
        try:
            _merge(entry.parsed, register_bits(parse_match(match)))
            _merge(entry.parsed, register_bits(parse_actions(actions)))
        except LanguageError:
            entry.unparsed += 1
        _merge(entry.textual, textual_bits(match))
        _merge(entry.textual, textual_bits(actions))
    return use


def ranges(bits: Iterable[int]) -> str:
    """``0..3,7,9..10`` for the sorted bits; ``-`` for none."""
    ordered = sorted(bits)
    parts: list[str] = []
    start = previous = None
    for bit in [*ordered, None]:
        if bit is not None and previous is not None and bit == previous + 1:
            previous = bit
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}..{previous}")
        start = previous = bit
    return ",".join(parts) or "-"


def report(flows: list[tuple[str, str, str]]) -> str:
    """A plain-text table: per pipeline and register, the free bits by three measures.

    "free" counts what the language reads in each flow and every register named in the text;
    "no resets" leaves out whole-register clears; "text alone" is what a textual scan finds free
    (it misses registers an action uses implicitly, such as those ``chk_lb_aff()`` compares).
    """
    strict, lenient = measure(flows), measure(flows, ignore_resets=True)
    every = set(range(32))
    lines = []
    for pipeline, entry in strict.items():
        lines.append(f"{pipeline}: {entry.flows} flows, {entry.unparsed} the language cannot read")
        lines.append(f"  {'':5} {'free':<20} {'free, no resets':<20} {'free, text alone':<20}")
        for register in REGISTERS:
            free = ranges(every - entry.used(register))
            free_lenient = ranges(every - lenient[pipeline].used(register))
            free_text = ranges(every - entry.textual.get(register, set()))
            lines.append(f"  {register + ':':5} {free:<20} {free_lenient:<20} {free_text:<20}".rstrip())
    return "\n".join(lines)


def northd_flows(box: Sandbox) -> list[tuple[str, str, str]]:
    """Every Logical_Flow of SB as (stage name, match, actions)."""
    data = json.loads(
        box.sbctl("--format=json", "--columns=match,actions,external_ids", "list", "Logical_Flow")
    )
    return [(dict(ids[1]).get("stage-name", ""), match, actions) for match, actions, ids in data["data"]]


def main(argv: list[str]) -> int:
    from ovn_inject.sandbox import topology

    if argv[:1] == ["--dir"] and len(argv) == 2:
        print(report(northd_flows(Sandbox(Path(argv[1])))))
        return 0
    if argv:
        print("usage: python -m ovn_inject.sandbox.register_use [--dir SANDBOX_DIR]", file=sys.stderr)
        return 64
    with tempfile.TemporaryDirectory(prefix="ovn-inject-regs-") as directory:
        box = Sandbox(Path(directory))
        box.up(chassis=2)
        try:
            topology.build(box, topology.FULL)
            on, off = features.supported(release.nb_schema())
            print(f"OVN {release.installed()}, topology full, features: {', '.join(f.name for f in on)}")
            if off:
                print(f"not in this release: {', '.join(f.name for f in off)}")
            print(report(northd_flows(box)))
        finally:
            box.down()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
