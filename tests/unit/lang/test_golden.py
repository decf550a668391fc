"""Golden files: every construct of the language, ``input => canonical`` or ``input => error: message``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovn_inject.lang import Context, LanguageError, format_actions, format_match, parse_actions, parse_match

GOLDEN = Path(__file__).parent / "golden"
CONTEXT = Context(
    ports={"vm1", "vm2", "vm3", "lrp-a-ls-a", 'lrp-a"x', 'tab\tquote"back\\slash'},
    address_sets={"as1"},
    port_groups={"pg1"},
)


def _cases(name: str) -> list[tuple[str, str]]:
    cases = []
    for line in (GOLDEN / name).read_text().split("\n"):
        if not line or line.startswith("#"):
            continue
        text, _, expected = line.partition(" => ")
        cases.append((text, expected))
    return cases


def _run(kind: str, text: str) -> str:
    try:
        if kind == "match":
            return format_match(parse_match(text, CONTEXT))
        return format_actions(parse_actions(text, CONTEXT))
    except LanguageError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize(("text", "expected"), _cases("match.txt"))
def test_match_golden(text: str, expected: str) -> None:
    got = _run("match", text)
    assert got == expected
    if not expected.startswith("error: "):
        assert _run("match", got) == got, "canonical form must be a fixed point"


@pytest.mark.parametrize(("text", "expected"), _cases("actions.txt"))
def test_actions_golden(text: str, expected: str) -> None:
    got = _run("actions", text)
    assert got == expected
    if not expected.startswith("error: "):
        assert _run("actions", got) == got, "canonical form must be a fixed point"


def test_error_carries_column_and_caret() -> None:
    with pytest.raises(LanguageError) as info:
        parse_match('inport == "vm1" && ip4.dts == 10.0.0.1')
    err = info.value
    assert err.column == 20
    assert "did you mean 'ip4.dst'?" in str(err)
    assert err.excerpt.splitlines()[1] == " " * 19 + "^"


def test_golden_files_cover_enough() -> None:
    assert len(_cases("match.txt")) >= 150
    assert len(_cases("actions.txt")) >= 80
