"""The CLI as an OVN operator uses it, on a sandbox with the compiler daemon (issue #18, item by item)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ovn_inject.cli import main
from ovn_inject.sandbox import Sandbox

pytestmark = pytest.mark.integration

Run = Callable[..., Result]
LONG_MATCH = (
    "ip4.src == 10.0.0.0/8 && tcp.dst == 80 && ip4.dst == {10.0.1.11, 10.0.1.12, 10.0.1.13}"
    " && tcp.flags == 0x2"
)


@pytest.fixture
def run(demo: Sandbox) -> Iterator[Run]:
    """``run(*argv, ok=True, env=None)``: the CLI in-process against the sandbox; OVN_Inject starts empty."""
    runner = CliRunner()
    base = ["--db", demo.inject_remote, "--nb-db", demo.nb_remote, "--sb-db", demo.sb_remote]

    def invoke(*argv: str, ok: bool = True, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(main, [*base, *argv], env=env)
        if ok:
            assert result.exit_code == 0, f"{argv} failed: {result.output}"
        else:
            assert result.exit_code != 0, f"{argv} should fail: {result.output}"
            if result.exit_code == 1:
                lines = result.stderr.strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("ovn-inject: "), result.stderr
        return result

    for service in json.loads(invoke("service-list", "-f", "json").stdout):
        invoke("service-del", f"{service['tenant']}/{service['name']}")
    yield invoke


def test_global_options_before_the_command(run: Run) -> None:
    run("--may-exist", "service-add", "ids", "--tenant", "tenant-a")
    run("--may-exist", "service-add", "ids", "--tenant", "tenant-a")
    assert run("--if-exists", "get", "Service", "nope", "name").stdout == ""
    assert run("get", "--if-exists", "Service", "nope", "name").stdout == ""
    assert "not found" in run("get", "Service", "nope", "name", ok=False).stderr
    run("--if-exists", "service-del", "nope")
    run("--if-exists", "attach-del", "ids", "ls:ls-a")
    run("--if-exists", "list", "Service", "nope")
    assert run("--if-exists", "service-show", "nope").stdout == ""
    refused = run("--may-exist", "flow-list", ok=False)
    assert refused.exit_code == 2 and "not a valid option for 'flow-list'" in refused.output
    assert run("-t", "5", "-f", "json", "service-list").stdout.startswith("[")


def test_find_takes_ovsdbs_relational_operators(run: Run) -> None:
    run("service-add", "ids", "--tenant", "tenant-a", "--max-flows", "10")
    run("attach-add", "ids", "ls:ls-a", "--hook", "ls-in-port")
    for priority in (3, 7, 9):
        run(
            "flow-add",
            "ids",
            "--priority",
            str(priority),
            "--match",
            f"tcp.dst == {priority}",
            "--actions",
            "next;",
        )

    def found(*conditions: str) -> list[int]:
        listed = run("-f", "json", "find", "Service_Flow", *conditions).stdout
        return sorted(r["priority"] for r in json.loads(listed))

    assert found("priority>5") == [7, 9]
    assert found("priority<=7") == [3, 7]
    assert found("priority>=3", "priority!=9") == [3, 7]
    assert found("status{<=}installed,pending") == [3, 7, 9]
    assert found("status{=}invalid") == []
    assert len(json.loads(run("-f", "json", "find", "Service", "options:max_flows>=10").stdout)) == 1
    assert "bad condition" in run("find", "Service_Flow", "priority", ok=False).stderr


def test_a_flows_attachment_is_explicit_and_named(run: Run) -> None:
    run("service-add", "rt", "--tenant", "tenant-a")
    no_attachment = run("flow-add", "rt", "--priority", "1", "--match", "ip4", "--actions", "next;", ok=False)
    assert "no attachment yet" in no_attachment.stderr and "--all-attachments" in no_attachment.stderr
    assert run("attach-add", "rt", "lr:lr-a", "--hook", "lr-in-route").stdout.strip() == "lr:lr-a@lr-in-route"
    run("flow-add", "rt", "--priority", "1", "--match", "ip4", "--actions", "next;")  # its only one
    run("attach-add", "rt", "lr:lr-a", "--hook", "lr-in-forward")
    several = run("flow-add", "rt", "--priority", "2", "--match", "ip4", "--actions", "next;", ok=False)
    assert "has 2 attachments (lr:lr-a@lr-in-forward, lr:lr-a@lr-in-route)" in several.stderr
    ambiguous = run(
        "flow-add", "rt", "--priority", "2", "--match", "ip4", "--actions", "next;",
        "--attachment", "lr:lr-a", ok=False,
    )  # fmt: skip
    assert "add its hook: KIND:NAME@HOOK" in ambiguous.stderr and "give its uuid" not in ambiguous.stderr
    run(
        "flow-add", "rt", "--priority", "2", "--match", "ip4", "--actions", "next;",
        "--attachment", "lr:lr-a", "--hook", "lr-in-forward",
    )  # fmt: skip
    run(
        "flow-add", "rt", "--priority", "3", "--match", "ip4", "--actions", "next;",
        "--attachment", "lr:lr-a@lr-in-route",
    )  # fmt: skip
    run("flow-add", "rt", "--priority", "4", "--match", "ip4", "--actions", "next;", "--all-attachments")
    listed = {f["priority"]: f["attachment"] for f in json.loads(run("-f", "json", "flow-list", "rt").stdout)}
    assert listed == {
        1: "lr:lr-a@lr-in-route",
        2: "lr:lr-a@lr-in-forward",
        3: "lr:lr-a@lr-in-route",
        4: "*all*",
    }
    table = run("flow-list", "rt").stdout
    assert "*all*" in table and "lr:lr-a@lr-in-forward" in table
    attachments = run("attach-list", "rt").stdout
    assert "lr:lr-a@lr-in-route" in attachments
    uuids = [a["_uuid"] for a in json.loads(run("-f", "json", "attach-list", "rt").stdout)]
    assert not any(u in table for u in uuids), "attachments are named, never shown as uuids"


def test_output_is_readable_and_consistent(run: Run) -> None:
    run("service-add", "lb", "--tenant", "tenant-a")
    run("attach-add", "lb", "ls:ls-a", "--hook", "ls-in-port")
    added = json.loads(
        run(
            "-f", "json", "flow-add", "lb", "--priority", "12", "--match", LONG_MATCH, "--actions", "next;",
            "--hard-timeout", "100",
        ).stdout
    )  # fmt: skip
    assert added[0]["attachment"] == "ls:ls-a@ls-in-port" and added[0]["hard_timeout"] == 100
    assert len(added[0]["_uuid"]) == 36
    narrow = run("flow-list", env={"COLUMNS": "120"}).stdout
    assert "hard_timeout" in narrow.splitlines()[0] and " 100 " in narrow
    assert max(len(line) for line in narrow.splitlines()) <= 120, narrow
    assert LONG_MATCH not in narrow
    assert LONG_MATCH in run("flow-list", "--no-trunc", env={"COLUMNS": "120"}).stdout
    # max_flows: blank in tables and lists, null in JSON, empty in CSV; the same in every command.
    assert json.loads(run("-f", "json", "service-list").stdout)[0]["max_flows"] is None
    assert json.loads(run("-f", "json", "service-show", "lb").stdout)["max_flows"] is None
    assert run("-f", "csv", "service-list").stdout.splitlines()[1].split(",")[6] == ""
    assert re.search(r"^max_flows +: $", run("service-show", "lb").stdout, re.MULTILINE)
    assert "[]" not in run("service-list").stdout


def test_timeouts_and_bad_arguments_are_one_line_errors(run: Run, demo: Sandbox, tmp_path: Path) -> None:
    silent = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(silent))
    server.listen()
    try:
        for argv in (["service-list"], ["service-add", "x", "--tenant", "t"]):
            result = run("--db", f"unix:{silent}", "--timeout", "0.2", *argv, ok=False)
            assert result.exit_code == 1 and "did not answer within 0.2 s" in result.stderr
    finally:
        server.close()
    # A real server and a timeout too short for anything: an answer or one line, never a traceback.
    tight = CliRunner().invoke(main, ["--db", demo.inject_remote, "--timeout", "0.001", "service-list"])
    assert tight.exit_code in (0, 1) and (tight.exception is None or isinstance(tight.exception, SystemExit))
    if tight.exit_code == 1:
        assert tight.stderr.startswith("ovn-inject: ") and len(tight.stderr.splitlines()) == 1, tight.stderr
    run("service-add", "ips", "--tenant", "tenant-a")
    assert "give a flow ID or --cookie" in run("flow-del", "ips", ok=False).stderr


def test_sandbox_status_and_env_fail_without_a_sandbox(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "ovn_inject", "sandbox"]
    for command in ("status", "env"):
        done = subprocess.run(
            [*cli, command, "--dir", str(tmp_path / "no-such-dir")], capture_output=True, text=True
        )
        assert done.returncode == 1 and "no sandbox is up" in done.stderr, done
        assert "export" not in done.stdout


def test_show_lflow_list_trace_and_dry_run(run: Run, demo: Sandbox) -> None:
    run("service-add", "ids", "--tenant", "tenant-a", "--max-flows", "5")
    run("service-add", "fw", "--tenant", "tenant-a")
    run("attach-add", "fw", "ls:ls-a", "--hook", "ls-in-port")
    run("attach-add", "ids", "ls:ls-a", "--hook", "ls-in-port")
    flow = run(
        "--wait=sb", "flow-add", "ids", "--priority", "10", "--match", "tcp.dst == 80", "--actions", "next;"
    )
    flow_id = flow.stdout.strip()
    run("--wait=sb", "flow-add", "fw", "--priority", "5", "--match", 'inport == "vm3"', "--actions", "drop;")
    demo.nbctl("set", "logical_switch_port", "vm3", 'external_ids:"neutron:project_id"="tenant-b"')
    run("--wait=sb", "sync")  # fw's flow names a port no longer its tenant's: invalid

    shown = run("show").stdout
    assert "tenant tenant-a" in shown and "service ids (enabled, max_flows 5)" in shown
    assert "1 flow (1 installed)" in shown and "1 flow (1 invalid)" in shown
    chain = shown[shown.index("ls:ls-a at ls-in-port") :].splitlines()[1:3]
    assert "fw" in chain[0] and "ids" in chain[1], "in attachment order"
    as_json = json.loads(run("-f", "json", "show").stdout)
    assert as_json[0]["chains"][0]["services"][1]["service"] == "ids"

    listed = run("lflow-list", "ids").stdout
    assert listed.startswith('Datapath: "ls-a"') and "ls_in_hook_port" in listed
    assert f"flow {flow_id[:8]}" in listed and "ls:ls-a@ls-in-port" in listed
    assert "service fw" not in listed
    assert "service fw" in run("lflow-list", "ls-a").stdout
    assert "no hook lflows" in run("lflow-list", "nothing-here", ok=False).stderr

    microflow = (
        'inport == "vm1" && eth.src == 02:00:00:00:01:01 && eth.dst == 02:00:00:00:01:02 && '
        "ip4.src == 10.0.1.11 && ip4.dst == 10.0.1.12 && ip.ttl == 64 && tcp && tcp.dst == 80"
    )
    traced = run("trace", "ls-a", microflow).stdout
    assert "ls_in_hook_port" in traced
    assert f"# ovn-inject: ls-in-port, service ids at ls:ls-a@ls-in-port: flow {flow_id[:8]}" in traced

    before = run("-f", "json", "flow-list", "ids").stdout
    dry = run(
        "flow-add", "ids", "--dry-run", "--priority", "20", "--match", "tcp.dst == 22", "--actions", "drop;"
    )
    assert "valid; nothing written" in dry.stdout and "ls_in_hook_port" in dry.stdout
    [preview] = json.loads(
        run(
            "-f",
            "json",
            "flow-add",
            "ids",
            "--dry-run",
            "--priority",
            "20",
            "--match",
            "udp",
            "--actions",
            "drop;",
        ).stdout
    )
    assert preview["verdict"] == "valid" and preview["lflows"] and preview["lflows"][0]["datapath"] == "ls-a"
    assert run("-f", "json", "flow-list", "ids").stdout == before, "a dry run writes nothing"


def test_daemon_options_share_the_clis_names(demo: Sandbox) -> None:
    """The sandbox starts northd, sbgate and the gateway with --nb-db/--sb-db: its daemons run."""
    done = subprocess.run(
        [sys.executable, "-m", "ovn_inject", "sandbox", "status", "--dir", str(demo.root)],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped" not in done.stdout
