"""OVN_Inject and the ovn-inject CLI against a real sandbox (ovsdb-server serving NB + OVN_Inject)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ovn_inject.cli import main
from ovn_inject.constants import INJECT_DB_ENV
from ovn_inject.core import tokens
from ovn_inject.db.errors import UnstorableTextError
from ovn_inject.db.impl_idl import connect
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

Run = Callable[..., Result]
ALL_IP4_DROP = [
    "flow-add",
    "ips",
    "--all-attachments",
    "--priority",
    "1",
    "--match",
    "ip4",
    "--actions",
    "drop;",
]


#: No compiler daemon here: these tests see the database as the CLI leaves it (statuses
#: stay "pending", --wait times out); tests/integration/test_northd.py runs the daemon.
SANDBOX_OPTIONS = {"inject": False}


@pytest.fixture(scope="module")
def topo(sandbox: Sandbox) -> Sandbox:
    """The demo topology's NB rows, built once: these tests only read NB."""
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    sandbox.nbctl(
        "--",
        "pg-add",
        "pg-a",
        "vm1",
        "vm3",
        "--",
        "set",
        "port_group",
        "pg-a",
        'external_ids:"neutron:project_id"="tenant-a"',
        "--",
        "pg-add",
        "pg-b",
        "vm4",
    )
    return sandbox


@pytest.fixture
def run(topo: Sandbox) -> Iterator[Run]:
    """``run(*argv, ok=True)``: the CLI in-process, pointed at the sandbox; OVN_Inject starts empty."""
    runner = CliRunner()
    base = ["--db", topo.inject_remote, "--nb-db", topo.nb_remote, "--sb-db", topo.sb_remote]

    def invoke(*argv: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = runner.invoke(main, [*base, *argv], input=stdin)
        if ok:
            assert result.exit_code == 0, f"{argv} failed: {result.output}"
        else:
            assert result.exit_code == 1, f"{argv} should fail: {result.output}"
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("ovn-inject: "), result.stderr
        return result

    for service in json.loads(invoke("service-list", "-f", "json").stdout):
        invoke("service-del", f"{service['tenant']}/{service['name']}")
    for credential in json.loads(invoke("tenant-token-list", "-f", "json").stdout):
        invoke("tenant-token-revoke", credential["public_id"])
    yield invoke


def rows(run: Run, table: str) -> list[dict[str, object]]:
    loaded: list[dict[str, object]] = json.loads(run("list", table, "--format", "json").stdout)
    return loaded


def test_inject_db_is_a_second_database_of_the_nb_server(topo: Sandbox) -> None:
    dbs = subprocess.run(
        ["ovsdb-client", "list-dbs", topo.nb_remote], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"OVN_Northbound", "OVN_Inject"} <= set(dbs)
    assert topo.env()[INJECT_DB_ENV] == topo.inject_daemon_remote
    assert "Service" not in topo.nbctl("--columns=name", "list", "NB_Global")  # NB's schema is untouched


def test_service_lifecycle_and_duplicates(run: Run) -> None:
    run(
        "service-add",
        "ips",
        "--tenant",
        "tenant-a",
        "--description",
        "intrusion prevention",
        "--max-flows",
        "5",
    )
    err = run("service-add", "ips", "--tenant", "tenant-a", ok=False).stderr
    assert "already exists" in err
    run("service-add", "ips", "--tenant", "tenant-a", "--may-exist")
    run("flow-add", "ips", "--all-attachments", "--priority", "1", "--match", "ip4", "--actions", "drop;")
    run("flow-add", "ips", "--all-attachments", "--priority", "2", "--match", "ip6", "--actions", "drop;")
    assert "at most 1 flows" in run("service-set", "ips", "--max-flows", "1", ok=False).stderr
    run("service-set", "ips", "--disable", "--no-max-flows", "--description", "IPS")
    changed = json.loads(run("service-list", "-f", "json").stdout)[0]
    assert (changed["enabled"], changed["max_flows"], changed["description"]) == (False, None, "IPS")
    run("service-set", "ips", "--enable", "--max-flows", "2", "--description", "intrusion prevention")
    listed = json.loads(run("service-list", "--format", "json").stdout)
    assert listed == [
        {
            "name": "ips",
            "tenant": "tenant-a",
            "enabled": True,
            "attachments": 0,
            "flows": 2,
            "tokens": 0,
            "max_flows": 2,
            "max_openflow_flows": 20_000,
            "description": "intrusion prevention",
        }
    ]
    shown = json.loads(run("service-show", "ips", "-f", "json").stdout)
    assert shown["name"] == "ips" and shown["attachments"] == []
    assert re.search(r"^tenant +: tenant-a$", run("service-show", "ips").stdout, re.MULTILINE)
    assert "not found" in run("service-show", "nope", ok=False).stderr
    run("service-del", "ips")
    assert "not found" in run("service-del", "ips", ok=False).stderr
    run("service-del", "ips", "--if-exists")
    assert rows(run, "Service") == []


def test_service_names_are_per_tenant(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a", "--description", "a's")
    run("service-add", "ips", "--tenant", "tenant-b", "--description", "b's")
    run("service-add", "dpi", "--tenant", "tenant-a")
    assert "exists for tenants tenant-a, tenant-b" in run("service-show", "ips", ok=False).stderr
    assert "TENANT/ips" in run("attach-add", "ips", "ls:ls-b", "--hook", "ls-in-port", ok=False).stderr
    assert json.loads(run("service-show", "tenant-b/ips", "-f", "json").stdout)["description"] == "b's"
    run("attach-add", "tenant-b/ips", "ls:ls-b", "--hook", "ls-in-port")
    run("attach-add", "dpi", "lsp:vm1", "--hook", "ls-in-port")  # unique: the bare name will do
    b_uuid = json.loads(run("service-show", "tenant-b/ips", "-f", "json").stdout)["_uuid"]
    assert json.loads(run("service-show", b_uuid[:8], "-f", "json").stdout)["tenant"] == "tenant-b"
    assert [a["target"] for a in json.loads(run("attach-list", b_uuid, "-f", "json").stdout)] == ["ls:ls-b"]
    assert "'/'" in run("service-add", "a/b", "--tenant", "tenant-a", ok=False).stderr
    run("service-del", "tenant-a/ips")
    assert json.loads(run("service-show", "ips", "-f", "json").stdout)["tenant"] == "tenant-b"
    run("service-del", "ips")
    assert {(s["tenant"], s["name"]) for s in rows(run, "Service")} == {("tenant-a", "dpi")}


def test_tenant_credentials_are_stored_as_hashes_and_revoked(run: Run) -> None:
    created = run(
        "tenant-token-create", "tenant-a", "--expires", "3600", "--max-services", "2", "--max-flows", "50"
    ).stdout
    token = created.strip().splitlines()[-1]
    public_id, secret = token.split(".")
    run("tenant-token-create", "tenant-b", "--expires", "1h")
    [stored] = [r for r in rows(run, "Tenant_Token") if r["public_id"] == public_id]
    assert secret not in json.dumps(stored)
    assert str(stored["secret_hash"]).startswith("sha256:")
    assert (stored["tenant"], stored["max_services"], stored["max_flows"]) == ("tenant-a", 2, 50)
    listed = json.loads(run("tenant-token-list", "tenant-a", "-f", "json").stdout)
    assert [(t["public_id"], t["expired"], t["max_services"]) for t in listed] == [(public_id, False, 2)]
    assert len(json.loads(run("tenant-token-list", "-f", "json").stdout)) == 2
    run("tenant-token-revoke", public_id)
    assert "not found" in run("tenant-token-revoke", public_id, ok=False).stderr
    run("tenant-token-revoke", public_id, "--if-exists")
    assert json.loads(run("tenant-token-list", "tenant-a", "-f", "json").stdout) == []


def test_attach_add_checks_target_tenant_and_hook(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a")
    first = run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port").stdout.strip()
    run("attach-add", "ips", "ls:ls-a", "--hook", "ls-out-deliver")
    run("attach-add", "ips", "lr:lr-a", "--hook", "lr-in-forward")
    run("attach-add", "ips", "lrp:lrp-a-ls-a", "--hook", "lr-out-snat")
    run("attach-add", "ips", "pg:pg-a", "--hook", "ls-in-forward")
    refusals = {
        ("lsp:vm4", "ls-in-port"): "belongs to another tenant",
        ("pg:pg-b", "ls-in-port"): "no tenant",
        ("ls:ls-b", "ls-in-port"): "belongs to another tenant",
        ("lsp:ghost", "ls-in-port"): "does not exist",
        ("lsp:vm1", "lr-in-route"): "router hook",
        ("lr:lr-a", "ls-in-port"): "switch hook",
        ("lsp:vm1", "no-such-hook"): "unknown hook point 'no-such-hook'",
        ("port:vm1", "ls-in-port"): "unknown kind 'port'",
    }
    for (target, hook), message in refusals.items():
        assert message in run("attach-add", "ips", target, "--hook", hook, ok=False).stderr, target
    assert "already exists" in run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port", ok=False).stderr
    again = run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port", "--may-exist").stdout.strip()
    assert again == first
    listed = json.loads(run("attach-list", "ips", "-f", "json").stdout)
    assert len(listed) == 5
    assert {a["target"] for a in listed} == {"lsp:vm1", "ls:ls-a", "lr:lr-a", "lrp:lrp-a-ls-a", "pg:pg-a"}
    assert all(a["status"] == "pending" and a["service"] == "ips" for a in listed)


def test_tenant_key_is_configurable(run: Run, topo: Sandbox) -> None:
    run("service-add", "fw", "--tenant", "blue")
    topo.nbctl("set", "logical_switch_port", "vm5", 'external_ids:"owner"="blue"')
    try:
        assert "another tenant" in run("attach-add", "fw", "lsp:vm5", "--hook", "ls-in-port", ok=False).stderr
        run("--tenant-key", "owner", "attach-add", "fw", "lsp:vm5", "--hook", "ls-in-port")
    finally:
        topo.nbctl("remove", "logical_switch_port", "vm5", "external_ids", "owner")


def test_attachment_order_follows_the_services_already_there(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a")
    run("service-add", "dpi", "--tenant", "tenant-a")
    run("service-add", "lb", "--tenant", "tenant-a")
    run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    run("attach-add", "dpi", "lsp:vm1", "--hook", "ls-in-port")
    run("attach-add", "lb", "lsp:vm1", "--hook", "ls-in-port", "--order", "10")
    found = json.loads(
        run("find", "Attachment", "target_name=vm1", "--columns", "order,hook", "-f", "json").stdout
    )
    assert sorted(a["order"] for a in found) == [0, 1, 10]
    orders = {a["service"]: a["order"] for a in json.loads(run("attach-list", "-f", "json").stdout)}
    assert orders == {"ips": 0, "dpi": 1, "lb": 10}


def test_flow_add_list_and_refusals_write_nothing(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a", "--max-flows", "2")
    run("service-add", "other", "--tenant", "tenant-a")
    attachment = run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port").stdout.strip()
    foreign = run("attach-add", "other", "lsp:vm3", "--hook", "ls-in-port").stdout.strip()
    uuid = run(
        "flow-add",
        "ips",
        "--priority",
        "100",
        "--match",
        "ip4.src == 10.0.1.11",
        "--actions",
        "drop;",
        "--cookie",
        "0xffffffffffffffff",
        "--attachment",
        attachment,
        "--hard-timeout",
        "60",
    ).stdout.strip()
    refusals = [
        (["--priority", "1000", "--match", "ip4", "--actions", "drop;"], "priority: 1000 is outside 0..999"),
        (["--priority", "1", "--match", " ", "--actions", "drop;"], "match: must not be empty"),
        (["--priority", "1", "--match", "ip4", "--actions", ""], "actions: must not be empty"),
        (["--priority", "1", "--match", "ip4", "--actions", "drop;", "--cookie", "0x1/0x1"], "takes no mask"),
        (["--priority", "1", "--match", "ip4", "--actions", "drop;", "--cookie", "1" + "0" * 20], "64 bits"),
        (
            ["--priority", "1", "--match", "ip4", "--actions", "drop;", "--attachment", foreign],
            "has no attachment",
        ),
        (["--priority", "1", "--match", "ip\x01", "--actions", "drop;"], "match, column 3"),
    ]
    for args, message in refusals:
        assert message in run("flow-add", "ips", *args, ok=False).stderr, args
    run("flow-add", "ips", "--priority", "5", "--match", "tcp", "--actions", "next;")
    quota = run("flow-add", "ips", "--priority", "5", "--match", "udp", "--actions", "next;", ok=False)
    assert "at most 2 flows" in quota.stderr
    flows = json.loads(run("flow-list", "ips", "--format", "json").stdout)
    assert [f["match"] for f in flows] == ["ip4.src == 10.0.1.11", "tcp"]
    first = flows[0]
    assert first["_uuid"] == uuid and first["attachment"] == attachment
    assert first["cookie"] == "0xffffffffffffffff" and first["hard_timeout"] == 60
    assert first["status"] == "pending" and first["service"] == "ips"
    assert run("get", "Service_Flow", uuid[:8], "cookie").stdout.strip() == str((1 << 64) - 1)
    unknown = run("flow-add", "nope", "--priority", "1", "--match", "ip4", "--actions", "drop;", ok=False)
    assert "service 'nope' not found" in unknown.stderr


def test_flow_del_by_id_and_cookie_mask(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a")
    ids = {}
    for cookie in ("0x10", "0x11", "0x20"):
        match = f"ip4.src == 10.0.0.{int(cookie, 16)}"
        ids[cookie] = run(
            "flow-add",
            "ips",
            "--all-attachments",
            "--priority",
            "1",
            "--match",
            match,
            "--actions",
            "drop;",
            "--cookie",
            cookie,
        ).stdout.strip()
    run("flow-del", "ips", ids["0x20"])
    assert "not found" in run("flow-del", "ips", ids["0x20"], ok=False).stderr
    run("flow-del", "ips", ids["0x20"], "--if-exists")
    run("flow-del", "ips", "--cookie", "0x10/0xf0")
    assert rows(run, "Service_Flow") == []
    assert "give a flow ID or --cookie" in run("flow-del", "ips", ok=False).stderr


def test_flow_add_refuses_a_duplicate_like_the_gateway(run: Run) -> None:
    """With a drop; and a next; twin, ovn-controller would keep one at random: the second is refused."""
    run("service-add", "ips", "--tenant", "tenant-a")
    run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    run("flow-add", "ips", "--priority", "5", "--match", "ip4.src == 10.0.0.11", "--actions", "drop;")
    twin = run(
        "flow-add", "ips", "--priority", "5", "--match", "ip4.src==10.0.0.11", "--actions", "next;", ok=False
    )
    assert "already exists at this attachment" in twin.stderr
    assert len(rows(run, "Service_Flow")) == 1


def test_flow_replace_is_all_or_nothing(run: Run, tmp_path: Path) -> None:
    run("service-add", "ips", "--tenant", "tenant-a", "--max-flows", "3")
    run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    run("flow-add", "ips", "--priority", "1", "--match", "ip4", "--actions", "drop;")
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"priority": 10, "match": "tcp", "actions": "next;", "cookie": "0x1"}\n'
        '{"priority": 20, "match": "udp", "actions": "drop;", "cookie": 2}\n'
    )
    assert len(run("flow-replace", "ips", str(good)).stdout.split()) == 2
    assert sorted(f["match"] for f in json.loads(run("flow-list", "ips", "-f", "json").stdout)) == [
        "tcp",
        "udp",
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"priority": 1, "match": "icmp4", "actions": "drop;"},
                {"priority": 1, "match": "", "actions": "x;"},
            ]
        )
    )
    assert "flow 2: match: must not be empty" in run("flow-replace", "ips", str(bad), ok=False).stderr
    too_many = json.dumps([{"priority": 1, "match": "ip4", "actions": "drop;"}] * 4)
    assert "at most 3 flows" in run("flow-replace", "ips", "-", stdin=too_many, ok=False).stderr
    assert sorted(f["match"] for f in json.loads(run("flow-list", "ips", "-f", "json").stdout)) == [
        "tcp",
        "udp",
    ]
    run("flow-replace", "ips", "-", stdin="[]")
    assert rows(run, "Service_Flow") == []


def test_tokens_show_the_secret_once_and_store_a_hash(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a")
    token = run("token-create", "ips", "--expires", "1h", "--description", "ci").stdout.strip()
    public_id, secret = tokens.split_token(token)
    created = json.loads(run("token-create", "ips", "-f", "json").stdout)
    assert created["expires"] is None and created["token"].startswith(created["public_id"] + ".")
    stored = {t["public_id"]: t for t in rows(run, "Token")}
    assert secret not in json.dumps(stored)
    assert tokens.secret_matches(secret, str(stored[public_id]["secret_hash"]))
    listed = {t["public_id"]: t for t in json.loads(run("token-list", "ips", "-f", "json").stdout)}
    assert listed[public_id]["expires"] != "never" and listed[public_id]["expired"] is False
    assert listed[created["public_id"]]["expires"] == "never"
    assert "secret_hash" not in listed[public_id]
    assert "bad duration" in run("token-create", "ips", "--expires", "forever", ok=False).stderr
    run("token-revoke", public_id)
    assert "not found" in run("token-revoke", public_id, ok=False).stderr
    run("token-revoke", public_id, "--if-exists")
    remaining = json.loads(run("token-list", "-f", "json").stdout)
    assert [t["public_id"] for t in remaining] == [created["public_id"]]


def test_service_del_leaves_nothing_behind(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a")
    run("service-add", "keep", "--tenant", "tenant-a")
    attachment = run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port").stdout.strip()
    run("attach-add", "ips", "ls:ls-a", "--hook", "ls-out-port")
    run(
        "flow-add",
        "ips",
        "--priority",
        "1",
        "--match",
        "ip4",
        "--actions",
        "drop;",
        "--attachment",
        attachment,
    )
    run("flow-add", "ips", "--all-attachments", "--priority", "2", "--match", "tcp", "--actions", "next;")
    run("token-create", "ips")
    run("attach-add", "keep", "lsp:vm3", "--hook", "ls-in-port")
    run("attach-del", "ips", "lsp:vm1")  # takes the flow bound to it along
    assert [f["match"] for f in rows(run, "Service_Flow")] == ["tcp"]
    run("service-del", "ips")
    assert [r["target_name"] for r in rows(run, "Attachment")] == ["vm3"]
    assert rows(run, "Service_Flow") == [] and rows(run, "Token") == []
    assert "not found" in run("attach-del", "keep", "lsp:vm1", ok=False).stderr
    run("attach-del", "keep", "lsp:vm1", "--if-exists")


def test_hook_list_matches_sb(run: Run, topo: Sandbox) -> None:
    hooks = {h["hook"]: h for h in json.loads(run("hook-list", "--format", "json").stdout)}
    assert len(hooks) == 8 and all(h["usable"] for h in hooks.values()), hooks
    pre_acl = hooks["ls-in-port"]
    sb_tables = topo.sbctl(
        "--bare", "--columns=table_id", "find", "logical_flow", 'external_ids:stage-name="ls_in_pre_acl"'
    ).split()
    assert {str(pre_acl["table"])} == set(sb_tables)
    assert pre_acl["pipeline"] == "ingress" and pre_acl["northd_max"] >= 100
    # Sized to what is attached (nothing: 2 bits); hooks of one pipeline never share bits.
    assert re.fullmatch(r"reg\d\[\d+\.\.\d+\]", pre_acl["cursor"]), pre_acl  # 2 contiguous bits
    pipelines: dict[tuple[str, str], list[str]] = {}
    for h in hooks.values():
        pipelines.setdefault((h["datapath"], h["pipeline"]), []).append(h["cursor"])
    assert all(len(set(cursors)) == 2 for cursors in pipelines.values()), pipelines
    version = subprocess.run(["ovn-northd", "--version"], capture_output=True, text=True).stdout
    installed = re.search(r"(\d+\.\d+)\.\d+", version)
    assert installed and {h["ovn_release"] for h in hooks.values()} == {installed.group(1)}, version
    parsed = list(csv.DictReader(io.StringIO(run("hook-list", "--format", "csv").stdout)))
    assert [r["hook"] for r in parsed] == list(hooks)


def test_list_find_get_like_nbctl(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a", "--max-flows", "7")
    run("service-add", "dpi", "--tenant", "tenant-b")
    listed = run("list", "service", "ips").stdout
    # the labels align on Service's longest column name, openflow_targets
    assert "name             : ips" in listed and 'options          : {max_flows="7"}' in listed
    assert set(run("list", "Service", "--columns", "name", "--bare").stdout.split()) == {"ips", "dpi"}
    found = json.loads(run("find", "Service", "tenant=tenant-b", "--format", "json").stdout)
    assert [s["name"] for s in found] == ["dpi"]
    assert run("find", "service", "options:max_flows=7", "--columns=name", "--bare").stdout.strip() == "ips"
    assert run("find", "service", "tenant!=tenant-b", "--columns=name", "--bare").stdout.strip() == "ips"
    assert run("get", "Service", "ips", "tenant", "options:max_flows").stdout.split() == ["tenant-a", '"7"']
    assert "unknown table" in run("list", "Logical_Switch", ok=False).stderr
    assert "no column" in run("get", "Service", "ips", "nope", ok=False).stderr
    assert "row 'ghost' in table Service not found" in run("list", "Service", "ghost", ok=False).stderr
    run("init")
    assert int(run("get", "Inject_Global", ".", "cfg").stdout) >= 0


def test_options_before_and_after_the_command(run: Run, topo: Sandbox, tmp_path: Path) -> None:
    run("--format", "json", "service-add", "ips", "--tenant", "tenant-a")
    assert json.loads(run("--format", "json", "service-list").stdout)[0]["name"] == "ips"
    assert json.loads(run("--format", "table", "service-list", "--format", "json").stdout)[0]["name"] == "ips"
    missing = f"unix:{tmp_path / 'missing.sock'}"
    bad = CliRunner().invoke(main, ["--db", missing, "--timeout", "1", "service-list"])
    assert bad.exit_code == 1 and "cannot reach OVN_Inject" in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        f"ovn-inject: cannot reach OVN_Inject: {missing}: No such file or directory"
    ]
    wrong = CliRunner().invoke(main, ["--db", topo.sb_remote, "service-list"])
    assert wrong.exit_code == 1 and "has no database OVN_Inject" in wrong.stderr


def test_wait_times_out_without_a_daemon_then_follows_sb_cfg(run: Run, topo: Sandbox) -> None:
    err = run("--wait=sb", "--timeout", "0.5", "service-add", "ips", "--tenant", "tenant-a", ok=False).stderr
    committed = re.search(r"committed \(([0-9a-f-]{36})\) but was not written to SB", err)
    assert committed and "ovn-inject northd" in err, err
    # The change itself is in, and the message named its row: a retrying script need not duplicate it.
    assert rows(run, "Service")[0]["name"] == "ips"
    assert rows(run, "Service")[0]["_uuid"] == committed.group(1)

    api = connect(topo.inject_remote, 5)
    cli = [sys.executable, "-m", "ovn_inject", "--db", topo.inject_remote, "--nb-db", topo.nb_remote]

    def global_cfgs() -> tuple[int, int]:
        with api.ovsdb_connection.lock:
            glob = next(iter(api.tables["Inject_Global"].rows.values()))
            return int(glob.cfg), int(glob.sb_cfg)

    def report(column: str) -> None:
        """Stands in for the compiler daemon: reports the cfg written so far as done."""
        glob = next(iter(api.tables["Inject_Global"].rows.values()))
        api.db_set("Inject_Global", glob.uuid, (column, glob.cfg)).execute(check_error=True)

    for command, column in (
        (
            [*ALL_IP4_DROP, "--wait=sb"],
            "sb_cfg",
        ),
        (["service-del", "ips", "--wait=hv", "--timeout", "30"], "hv_cfg"),
    ):
        before = global_cfgs()[0]
        waiter = subprocess.Popen([*cli, *command], env=topo.env())
        try:
            wait_until(lambda before=before: global_cfgs()[0] > before, f"{command[0]} commits")
            assert waiter.poll() is None, f"{command[0]} returned before the daemon reported"
            if column == "hv_cfg":
                report("sb_cfg")
            report(column)
            assert waiter.wait(timeout=60) == 0
        finally:
            waiter.kill()
    api.close()
    glob = rows(run, "Inject_Global")[0]
    assert glob["sb_cfg"] == glob["cfg"] == glob["hv_cfg"]


def test_cli_process_exit_code_and_json_for_other_tools(topo: Sandbox) -> None:
    env = {**topo.env(), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    cli = [sys.executable, "-m", "ovn_inject"]
    subprocess.run([*cli, "service-add", "proc", "--tenant", "tenant-a", "--may-exist"], env=env, check=True)
    listed = subprocess.run(
        [*cli, "service-list", "--format", "json"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0
    via_tool = subprocess.run(
        [sys.executable, "-m", "json.tool"], input=listed.stdout, capture_output=True, text=True, check=True
    )
    assert "proc" in [s["name"] for s in json.loads(via_tool.stdout)]
    failed = subprocess.run(
        [*cli, "service-add", "proc", "--tenant", "tenant-a"], env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "ovn-inject: service 'proc' of tenant 'tenant-a' already exists (use --may-exist to ignore this)"
    ]
    subprocess.run([*cli, "service-del", "proc"], env=env, check=True)


def test_flow_add_checks_language_and_policy_and_stores_canonical_text(run: Run) -> None:
    run("service-add", "ips", "--tenant", "tenant-a")
    run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    refusals = [
        (["--match", "ip4.dts == 10.0.0.1", "--actions", "drop;"], "match, column 1: unknown field"),
        (["--match", "tcp.dst == 70000", "--actions", "drop;"], "match, column 12"),
        (
            ["--match", 'inport == "vm4"', "--actions", "drop;"],
            "port 'vm4' is not a port of tenant 'tenant-a'",
        ),
        (["--match", "reg0[0] == 1", "--actions", "drop;"], "field 'reg0' is not available to services"),
        (["--match", "ip4", "--actions", "reg9[0..3] = 1; next;"], "cannot be written by services"),
        (["--match", "ip4", "--actions", "next(pipeline=egress, table=0);"], "only a plain 'next;'"),
        (["--match", "ip4", "--actions", "ct_commit; next;"], "action 'ct_commit' is not available"),
        (["--match", "ip4", "--actions", 'outport = "vm4"; output;'], "port 'vm4' is not a port"),
        (["--match", "ip4", "--actions", "drop"], "actions, column 5"),
    ]
    for args, message in refusals:
        result = run("flow-add", "ips", "--priority", "1", *args, ok=False)
        assert message in result.stderr, (args, result.stderr)
    run(
        "flow-add",
        "ips",
        "--priority",
        "1",
        "--match",
        "ip4.src==10.0.1.11&&tcp.dst==80",
        "--actions",
        'outport="vm2";output;',
    )
    [flow] = json.loads(run("flow-list", "ips", "--format", "json").stdout)
    assert flow["match"] == "ip4.src == 10.0.1.11 && tcp.dst == 80"
    assert flow["actions"] == 'outport = "vm2"; output;'


def test_flow_add_guards_its_write_against_a_concurrent_writer(run: Run, topo: Sandbox) -> None:
    """flow-add's one-shot write fails when the service's flows moved after its read (db.oneshot)."""
    from ovn_inject.core.validate import DuplicateFlowError, ValidFlow
    from ovn_inject.db import oneshot
    from ovn_inject.db.rpc import Rpc

    run("service-add", "ips", "--tenant", "tenant-a")
    run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    with Rpc(topo.inject_remote, 10.0, "OVN_Inject") as rpc:
        stale = oneshot.read_service(rpc, "ips")
        [attachment] = stale.view.attachments
        flow = ValidFlow(5, "ip4", "drop;", 0, attachment.uuid, 0, 1)
        run("flow-add", "ips", "--priority", "5", "--match", "ip4", "--actions", "drop;")
        with pytest.raises(oneshot.Conflict):
            oneshot.add_flows(rpc, stale, [flow], bump=False)
        with pytest.raises(DuplicateFlowError):
            oneshot.add_flows(rpc, oneshot.read_service(rpc, "ips"), [flow], bump=False)
    assert len(json.loads(run("flow-list", "ips", "-f", "json").stdout)) == 1


def test_wait_without_a_compiler_daemon_times_out_after_the_commit(run: Run) -> None:
    """--wait=sb is the server's wait on Inject_Global.sb_cfg: no daemon here, so it runs out."""
    run("service-add", "ips", "--tenant", "tenant-a")
    run("attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    flow = ["flow-add", "ips", "--priority", "5", "--match", "ip4", "--actions", "drop;"]
    result = run("-t", "0.3", "--wait=sb", *flow, ok=False)
    assert "is committed (" in result.stderr and "was not written to SB within 0.3 s" in result.stderr
    assert len(json.loads(run("flow-list", "ips", "-f", "json").stdout)) == 1


def test_a_nul_or_a_lone_surrogate_never_reaches_a_transaction(run: Run, topo: Sandbox) -> None:
    """Every writer's commands refuse a NUL before the transaction carries it (ovsdb-server would
    drop the connection, and the IDL resend the transaction on each reconnection until it timed out)."""
    api = connect(topo.inject_remote, timeout=10)
    try:
        api.service_add("ips", "tenant-a").execute(check_error=True)
        for command in (
            api.service_add("ids", "tenant-a", description="\x00"),
            api.service_set("ips", description="a\x00"),
            api.token_add("ips", "0123456789abcdef", "hash", 0, description="x\x00y"),
            api.service_set("ips", description="\udcff"),  # a non-UTF-8 byte of argv, as Python reads it
        ):
            with pytest.raises(UnstorableTextError, match=r"the description contains a (NUL|lone)"):
                command.execute(check_error=True)
        # The connection is as it was: the next write commits at once.
        api.service_set("ips", description="after").execute(check_error=True)
    finally:
        api.ovsdb_connection.stop()
    assert [r["description"] for r in rows(run, "Service")] == ["after"]
    assert not rows(run, "Token")
