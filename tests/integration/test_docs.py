"""Every command of README.md and the two guides runs as written, in order, against a sandbox.

The convention of the documents: a fenced ```` ```sh ```` block is commands
that run; ```` ```text ```` (and ``json``...) blocks are synopses and output,
never run; ```` ```sh ci ```` marks the ``make`` lines that CI itself runs
(``.ci/run``), which this test reports as skipped; indented code blocks are
not allowed (nobody could tell what they are). Each document's blocks run in
one bash session from the repository root, so variables carry from one block
to the next; the documents start their sandbox themselves (``ovn-inject
sandbox up``), in a directory this test chooses through
``$OVN_INJECT_SANDBOX_DIR``, and this test stops whatever they left running.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ovn_inject.constants import SANDBOX_DIR_ENV
from ovn_inject.sandbox import Sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/operator.md", "docs/application.md")
#: A whole document's commands: sandboxes (one over SSL), daemons started and stopped.
TIMEOUT = 600
FENCE = re.compile(r"^```(\S*)[ \t]*(.*)$")
MARK = "::ovn-inject-docs-block::"


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    attrs: tuple[str, ...]
    text: str

    @property
    def runs(self) -> bool:
        return self.lang == "sh" and "ci" not in self.attrs

    def __str__(self) -> str:
        return f"line {self.line}:\n{self.text}"


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().splitlines()
    opened: tuple[int, str, tuple[str, ...]] | None = None
    body: list[str] = []
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if opened is None and match:
            opened, body = (number, match.group(1), tuple(match.group(2).split())), []
        elif opened is not None and line.strip() == "```":
            found.append(Block(opened[0], opened[1], opened[2], "\n".join(body)))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{path}: the block at line {opened[0]} is never closed"
    return found


def indented_code(path: Path) -> list[int]:
    """Lines that start an indented code block (after a blank line, outside fences and lists)."""
    starts, fenced, previous = [], False, ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("    ") and line.strip() and not previous.strip():
            starts.append(number)
        previous = line if not fenced else "x"
    return starts


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_code_block_says_what_it_is(document: str) -> None:
    path = ROOT / document
    unlabelled = [b.line for b in blocks(path) if not b.lang]
    assert not unlabelled, f"{document}: label these blocks sh (run) or text (not run): lines {unlabelled}"
    assert not indented_code(path), (
        f"{document}: indented code blocks at lines {indented_code(path)}: fence them as sh or text"
    )
    assert any(b.runs for b in blocks(path)), f"{document} has no sh block to run"


def test_the_readme_marks_what_ci_runs_itself() -> None:
    ci = [b for doc in DOCUMENTS for b in blocks(ROOT / doc) if b.lang == "sh" and "ci" in b.attrs]
    commands = {line.split("#")[0].strip() for b in ci for line in b.text.splitlines()} - {""}
    # .ci/run runs make deps, lint, test and RUN_ONCE=1 make run; make unit's tests are part of make test.
    assert commands == {"make run", "make test", "make lint", "make unit"}, commands
    ci_script = (ROOT / ".ci" / "run").read_text()
    run_by = {"make unit": "make test"}
    assert all(run_by.get(command, command) in ci_script for command in commands), ci_script
    # What CI does not run is not marked as if it did (make bench takes minutes: run by hand).
    text = [b for doc in DOCUMENTS for b in blocks(ROOT / doc) if b.lang == "text"]
    assert any(line.startswith("make bench") for b in text for line in b.text.splitlines())
    assert "make bench" not in ci_script


def _script(document: str, to_run: list[Block]) -> str:
    """One bash script: each block in turn, with a marker before it; stop at the first failure."""
    parts = ["set -eo pipefail"]
    for index, block in enumerate(to_run):
        parts.append(f"echo '{MARK}{index}'")
        parts.append(block.text)
    parts.append(f"echo '{MARK}done'")
    return "\n".join(parts) + "\n"


def _failed_block(document: str, to_run: list[Block], output: str, status: int) -> str:
    pieces = output.split(MARK)
    last = pieces[-1]
    index_text, _, since = last.partition("\n")
    block = to_run[int(index_text)] if index_text.isdigit() else None
    where = f"its block at {block}" if block else "before its first block"
    return f"{document}: exit status {status} in {where}\n--- output of that block ---\n{since}"


def _down_everything(where: Path) -> None:
    for state in where.rglob("sandbox.json"):
        Sandbox(state.parent).down()


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_commands_run_as_written(document: str, sandbox_root: Path) -> None:
    path = ROOT / document
    to_run = [b for b in blocks(path) if b.runs]
    where = sandbox_root / f"docs-{path.stem}"
    (where / "tmp").mkdir(parents=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OVN_", "OVS_")) and key not in ("VIRTUAL_ENV",)
    }
    env.update(
        {
            SANDBOX_DIR_ENV: str(where / "sandbox"),
            # mktemp -d in the documents lands here: the session's check for leftover processes covers it.
            "TMPDIR": str(where / "tmp"),
            "PATH": os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p),
        }
    )
    try:
        done = subprocess.run(
            ["bash", "-c", _script(document, to_run)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        _down_everything(where)
    output = done.stdout
    (where / "output.txt").write_text(output)  # what every command printed, kept with the test's files
    if done.returncode != 0 or not output.rstrip().endswith(f"{MARK}done"):
        pytest.fail(_failed_block(document, to_run, output, done.returncode))
    assert "Traceback" not in output, output


def test_the_make_lines_are_left_to_ci() -> None:
    """Says, in the test report, which documented commands this test leaves to CI and why."""
    ci = [b for doc in DOCUMENTS for b in blocks(ROOT / doc) if b.lang == "sh" and "ci" in b.attrs]
    lines = "; ".join(line.split("#")[0].strip() for b in ci for line in b.text.splitlines())
    pytest.skip(f"run by CI itself (.ci/run), not here: {lines}")
