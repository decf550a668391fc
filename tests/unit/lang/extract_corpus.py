"""Extract northd's logical-flow texts from OVN's own test suite, one corpus file per release.

OVN's tests/ovn-northd.at holds expected ``ovn-sbctl dump-flows`` output:
lines with ``match=(...)`` and ``action=(...)``. Every distinct match and
actions text found at a release's tag becomes a line of
``corpus/northd-<release>.txt`` (``M <match>`` or ``A <actions>``).
The tests mask values that vary between runs (``table=??``, ``10.0.??.1``,
``<cleared>``); those placeholders become ``1`` and ``0`` so that the text
still says what northd wrote.

    .venv/bin/python -m tests.unit.lang.extract_corpus GIT_DIR_OF_AN_OVN_CLONE
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
TAGS = {"23.03": "v23.03.0", "24.03": "v24.03.0", "25.03": "v25.03.0", "26.03": "v26.03.0"}
_FLOW = re.compile(r"match=\((?P<match>.*)\), action=\((?P<actions>.*)\)\s*$")
#: autotest quoting: m4 quadrigraphs and doubled brackets
_UNQUOTE = (("@<:@", "["), ("@:>@", "]"), ("@S|@", "$"), ("@%:@", "#"), ("[[", "["), ("]]", "]"))
#: the tests' placeholders for varying values (OVN's language has no '?')
_PLACEHOLDERS = (("?", "1"), ("<cleared>", "0"))


def texts(source: str) -> tuple[list[str], list[str]]:
    """Distinct match and actions texts of the dump-flows lines in ``source``, in order."""
    matches: dict[str, None] = {}
    actions: dict[str, None] = {}
    for line in source.split("\n"):
        found = _FLOW.search(line)
        if not found:
            continue
        match, acts = found["match"], found["actions"]
        for quoted, plain in _UNQUOTE + _PLACEHOLDERS:
            match, acts = match.replace(quoted, plain), acts.replace(quoted, plain)
        matches[match] = None
        actions[acts] = None
    return list(matches), list(actions)


def main(git_dir: str) -> None:
    CORPUS.mkdir(exist_ok=True)
    for release, tag in TAGS.items():
        source = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{tag}:tests/ovn-northd.at"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        matches, actions = texts(source)
        lines = [f"# northd flow texts in OVN {tag}'s tests/ovn-northd.at (extract_corpus.py)"]
        lines += [f"M {m}" for m in matches] + [f"A {a}" for a in actions]
        (CORPUS / f"northd-{release}.txt").write_text("\n".join(lines) + "\n")
        print(f"{release}: {len(matches)} matches, {len(actions)} actions", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
