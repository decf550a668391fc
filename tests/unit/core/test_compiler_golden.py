"""The compiler against golden files: ``input => expected SB rows``, table numbers and uuids stripped.

Regenerate after an intended change of the compiled form, then read the diff:

    OVN_INJECT_REGENERATE=1 .venv/bin/pytest tests/unit/core/test_compiler_golden.py
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_inject.core import compiler as c
from tests.unit.core.compiler_cases import GOLDEN_DIR, PLACEMENTS, Case, read_cases, render, write_cases

FILES = sorted(GOLDEN_DIR.glob("*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden(path: Path) -> None:
    cases = read_cases(path)
    outputs = [render(c.compile_hooks(*_placed(case))) for case in cases]
    if os.environ.get("OVN_INJECT_REGENERATE"):
        write_cases(path, cases, outputs)
        return
    for case, output in zip(cases, outputs, strict=True):
        assert output == case.expected, f"{path.name}: {case.title}"


def _placed(case: Case) -> tuple:  # type: ignore[type-arg]
    topology, services, attachments, flows = case.inputs()
    return topology, PLACEMENTS, services, attachments, flows


ALL_CASES = [case for path in FILES for case in read_cases(path)]


@settings(max_examples=60, deadline=None)
@given(
    st.randoms(use_true_random=False), st.lists(st.integers(0, len(ALL_CASES) - 1), min_size=2, max_size=6)
)
def test_memoised_compiler_agrees_with_plain(rng: random.Random, picks: list[int]) -> None:
    """Across a sequence of passes over changing inputs, the memo replays exactly what compiling gives."""
    memo = c.ChainMemo()
    for pick in picks:
        topology, services, attachments, flows = ALL_CASES[pick].inputs()
        # Drop some flows and attachments at random, as churn between passes would.
        flows = [f for f in flows if rng.random() < 0.8]
        attachments = [a for a in attachments if rng.random() < 0.9]
        for _ in range(2):  # the second pass over the same inputs replays every chain
            memoised = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows, memo)
            plain = c.compile_hooks(topology, PLACEMENTS, services, attachments, flows)
            assert render(memoised) == render(plain)
