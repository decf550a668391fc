"""Golden files: every construct of the language, per OVN release (format: golden_file.py)."""

from __future__ import annotations

import pytest

from ovn_inject.lang import LanguageError, parse_match
from ovn_inject.lang.releases import RELEASES, SUPPORTED
from tests.unit.lang.golden_file import FILES, Case, cases, releases_of, run

PARAMS = [
    pytest.param(FILES[name], case, release, id=f"{name}:{case.line}:{release.name}")
    for name in FILES
    for case in cases(name)
    for release in case.releases
]


@pytest.mark.parametrize(("kind", "case", "release"), PARAMS)
def test_golden(kind: str, case: Case, release: object) -> None:
    got = run(kind, case.text, release)  # type: ignore[arg-type]
    assert got == case.expected
    if not got.startswith("error: "):
        assert run(kind, got, release) == got, "canonical form must be a fixed point"  # type: ignore[arg-type]


def test_error_carries_column_and_caret() -> None:
    with pytest.raises(LanguageError) as info:
        parse_match('inport == "vm1" && ip4.dts == 10.0.0.1')
    err = info.value
    assert err.column == 20
    assert "did you mean 'ip4.dst'?" in str(err)
    assert err.excerpt.splitlines()[1] == " " * 19 + "^"


def test_golden_files_cover_enough() -> None:
    assert len(cases("match.txt")) >= 150
    assert len(cases("actions.txt")) >= 80


def test_every_supported_release_has_cases_of_its_own() -> None:
    """Each supported release is named by some section that does not cover every release."""
    everyone = len(RELEASES)
    sectioned = {
        r.name for name in FILES for c in cases(name) if len(c.releases) < everyone for r in c.releases
    }
    assert {r.name for r in SUPPORTED} <= sectioned


def test_section_specs() -> None:
    assert [r.name for r in releases_of("25.09+")] == ["25.09", "26.03"]
    assert [r.name for r in releases_of("23.03-24.03")] == ["23.03", "23.09", "24.03"]
    assert [r.name for r in releases_of("26.03, 23.03")] == ["23.03", "26.03"]
    assert len(releases_of("all")) == len(RELEASES)
