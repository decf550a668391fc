"""Reading and regenerating the golden files (tests/unit/lang/golden/*.txt).

A case is one line, ``input => canonical`` or ``input => error: message``.
``# ...`` lines are comments. A section marker ``#@ releases: SPEC`` makes the
cases below it apply to the releases SPEC names, until the next marker;
cases before the first marker apply to every release. SPEC is ``all`` or a
comma-separated list of ``26.03`` (one release), ``24.09+`` (that one and
later) and ``23.03-24.03`` (a range). ``{release}`` in an expected text
stands for the release under test ("unknown field 'foo' in OVN {release}").

The same input may appear in several sections with different expectations
(parses on 24.03+, refused with a message on 23.03). Markers start with
``#`` so the corpus test against ovn-controller reads inputs only.

Regenerate after a deliberate change of messages or output (each case is
recomputed on the first release of its section; review the diff)::

    .venv/bin/python -m tests.unit.lang.golden_file
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ovn_inject.lang import Context, LanguageError, format_actions, format_match, parse_actions, parse_match
from ovn_inject.lang.releases import RELEASES, Release, parse_release

GOLDEN = Path(__file__).parent / "golden"
FILES = {"match.txt": "match", "actions.txt": "actions"}
MARKER = "#@ releases:"
PORTS = {"vm1", "vm2", "vm3", "lrp-a-ls-a", 'lrp-a"x', 'tab\tquote"back\\slash'}


@dataclass(frozen=True)
class Case:
    text: str
    expected: str
    releases: tuple[Release, ...]
    line: int


def releases_of(spec: str) -> tuple[Release, ...]:
    """The releases a section marker's SPEC names, oldest first."""
    spec = spec.strip()
    if spec == "all":
        return tuple(RELEASES.values())
    chosen: set[str] = set()
    for item in spec.split(","):
        item = item.strip()
        if item.endswith("+"):
            low = parse_release(item[:-1]).key
            chosen.update(r.name for r in RELEASES.values() if r.key >= low)
        elif "-" in item:
            first, last = (parse_release(x).key for x in item.split("-", 1))
            chosen.update(r.name for r in RELEASES.values() if first <= r.key <= last)
        else:
            chosen.add(parse_release(item).name)
    return tuple(r for r in RELEASES.values() if r.name in chosen)


def cases(name: str) -> list[Case]:
    found = []
    current = tuple(RELEASES.values())
    for number, line in enumerate((GOLDEN / name).read_text().split("\n"), start=1):
        if line.startswith(MARKER):
            current = releases_of(line[len(MARKER) :])
            continue
        if not line or line.startswith("#"):
            continue
        text, _, expected = line.partition(" => ")
        found.append(Case(text, expected, current, number))
    return found


def run(kind: str, text: str, release: Release) -> str:
    """What the case gives on ``release``, with the release's name replaced by ``{release}``."""
    context = Context(ports=PORTS, address_sets={"as1"}, port_groups={"pg1"}, release=release)
    try:
        if kind == "match":
            got = format_match(parse_match(text, context))
        else:
            got = format_actions(parse_actions(text, context))
    except LanguageError as exc:
        got = f"error: {exc}"
    return got.replace(f"OVN {release.name} ", "OVN {release} ").replace(
        f"OVN {release.name};", "OVN {release};"
    )


def regenerate(name: str) -> int:
    """Rewrite the expectations of file ``name``; return how many changed."""
    path = GOLDEN / name
    lines = path.read_text().split("\n")
    changed = 0
    for case in cases(name):
        got = run(FILES[name], case.text, case.releases[0])
        if got != case.expected:
            lines[case.line - 1] = f"{case.text} => {got}"
            changed += 1
    path.write_text("\n".join(lines))
    return changed


if __name__ == "__main__":
    for file_name in FILES:
        print(f"{file_name}: {regenerate(file_name)} case(s) changed", file=sys.stderr)
