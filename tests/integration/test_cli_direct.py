"""``flow-add`` run without click (ovn_inject.direct) answers as the click command does.

Each call runs as a fresh process twice: through the program's entry point
(which takes the direct path) and through the click group itself; both must
print the same output and exit with the same status.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ovn_inject.sandbox import Sandbox

pytestmark = pytest.mark.integration

DIRECT = [sys.executable, "-m", "ovn_inject"]
CLICK = [
    sys.executable,
    "-c",
    "import sys; from ovn_inject.cli import main; sys.argv[0] = 'ovn-inject'; main()",
]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _env(box: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVN_", "OVS_"))}
    return {**env, **box.env()}


def run(box: Sandbox, program: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*program, *argv], env=_env(box), capture_output=True, text=True, timeout=120)


@pytest.fixture
def service(demo: Sandbox) -> Iterator[str]:
    """A service attached to ls-a, and one attached twice (to ls-a and ls-b)."""
    for old in json.loads(run(demo, DIRECT, "service-list", "-f", "json").stdout):
        assert run(demo, DIRECT, "service-del", f"{old['tenant']}/{old['name']}").returncode == 0
    for argv in (
        ["service-add", "ips", "--tenant", "tenant-a", "--max-flows", "40"],
        ["attach-add", "ips", "ls:ls-a", "--hook", "ls-in-port"],
        ["service-add", "two", "--tenant", "tenant-a"],
        ["attach-add", "two", "ls:ls-a", "--hook", "ls-in-port"],
        ["attach-add", "two", "ls:ls-a", "--hook", "ls-out-port"],
    ):
        done = run(demo, DIRECT, *argv)
        assert done.returncode == 0, done.stderr
    yield "ips"


def both(box: Sandbox, *argv: str) -> subprocess.CompletedProcess[str]:
    """``argv`` directly and through click; ``{n}`` in it is 101 in the first and 102 in the second call
    (a write that succeeds adds a different flow each time), N in what they print."""
    direct = run(box, DIRECT, *(a.replace("{n}", "101") for a in argv))
    through_click = run(box, CLICK, *(a.replace("{n}", "102") for a in argv))

    def seen(done: subprocess.CompletedProcess[str], n: str) -> tuple[int, str, str]:
        return done.returncode, UUID.sub("U", done.stdout).replace(n, "N"), done.stderr.replace(n, "N")

    assert seen(direct, "101") == seen(through_click, "102"), argv
    return direct


def flow(match: str, *more: str) -> list[str]:
    return ["--priority", "10", "--match", match, "--actions", "next;", *more]


def test_a_flow_is_added_and_printed_the_same(demo: Sandbox, service: str) -> None:
    added = both(demo, "flow-add", service, *flow("ip4.dst == 10.0.{n}.1"), "--cookie", "0x2a")
    assert UUID.fullmatch(added.stdout.strip()) and added.stderr == "", added
    listed = json.loads(run(demo, DIRECT, "flow-list", service, "-f", "json").stdout)
    assert sorted((f["match"], f["cookie"]) for f in listed) == [
        ("ip4.dst == 10.0.101.1", "0x2a"),
        ("ip4.dst == 10.0.102.1", "0x2a"),
    ]
    both(demo, "-f", "json", "flow-add", service, *flow("ip4.dst == 10.0.{n}.2"), "--hard-timeout", "30")
    both(demo, "flow-add", service, *flow("ip4.dst == 10.0.{n}.3"), "--format", "csv")
    both(demo, "--wait=sb", "flow-add", service, *flow("ip4.dst == 10.0.{n}.4"))
    lflows = run(demo, DIRECT, "lflow-list", service).stdout
    assert "10.0.101.4" in lflows and "10.0.102.4" in lflows, lflows  # --wait=sb: in SB on return
    both(
        demo,
        "flow-add",
        "two",
        *flow("ip4.dst == 10.0.{n}.5"),
        "--attachment",
        "ls:ls-a",
        "--hook",
        "ls-out-port",
    )
    both(demo, "-f", "json", "flow-add", "two", *flow("ip4.src == 10.0.{n}.6"), "--all-attachments")


REFUSED = [
    ["flow-add", "nosuch", *flow("ip4")],
    ["flow-add", "ips", *flow("ip4.dst ==")],
    ["flow-add", "ips", *flow("ip4.dst == 10.0.7.1")],  # added first: a duplicate
    ["flow-add", "ips", "--priority", "1000", "--match", "ip4", "--actions", "next;"],
    ["flow-add", "ips", "--priority", "1", "--match", "ip4", "--actions", "output;"],
    ["flow-add", "ips", *flow('inport == "vm9"')],
    ["flow-add", "ips", *flow("ip4"), "--cookie", "0x1/0xff"],
    ["flow-add", "ips", *flow("ip4"), "--cookie", "cookie"],
    ["flow-add", "ips", *flow("ip4"), "--hard-timeout", "70000"],
    ["flow-add", "ips", *flow("ip4"), "--attachment", "ls:ls-b"],
    ["flow-add", "ips", *flow("ip4"), "--attachment", "ls:ls-a", "--all-attachments"],
    ["flow-add", "two", *flow("ip4")],
    ["--db", "unix:/nonexistent/db.sock", "flow-add", "ips", *flow("ip4")],
    ["--nb-db", "unix:/nonexistent/nb.sock", "flow-add", "ips", *flow("ip4")],
]


@pytest.mark.parametrize("argv", REFUSED, ids=" ".join)
def test_refusals_are_the_same(demo: Sandbox, service: str, argv: list[str]) -> None:
    first = run(demo, DIRECT, "flow-add", "ips", *flow("ip4.dst == 10.0.7.1"))
    assert first.returncode == 0, first.stderr
    refused = both(demo, *argv)
    assert refused.returncode == 1 and refused.stdout == "", refused
    assert refused.stderr.startswith("ovn-inject: ") and refused.stderr.count("\n") == 1, refused.stderr


def test_the_direct_path_imports_no_click(demo: Sandbox, service: str) -> None:
    timed = subprocess.run(
        [*DIRECT[:1], "-X", "importtime", *DIRECT[1:], "flow-add", service, *flow("ip4.dst == 10.0.7.9")],
        env=_env(demo),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert timed.returncode == 0 and UUID.fullmatch(timed.stdout.strip()), timed.stderr
    imported = {line.split("|")[-1].strip() for line in timed.stderr.splitlines() if "|" in line}
    # Over ssl: remotes the one-shot connection is python-ovs's SSL stream: only click is left out.
    # Nor re (scripts/ovn-inject, lang/lexer.py): it and what it imports were 2 ms of the call's CPU.
    ssl = os.environ.get("OVN_INJECT_SANDBOX_SSL", "") not in ("", "0")
    avoided = ("click",) if ssl else ("click", "ovs", "re")
    heavy = sorted(m for m in imported if m.split(".")[0] in avoided or m.startswith("ovn_inject.cli"))
    assert not heavy, heavy
