"""An OVN_Inject database of schema 1.0.0 (service names unique globally) upgraded with ovsdb-client."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.core import tokens
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import connect
from ovn_inject.db.schema import schema, schema_path
from ovn_inject.sandbox import processes
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def schema_1_0_0() -> dict[str, object]:
    """The schema as it was before service names became per tenant and tenant credentials came."""
    old = json.loads(json.dumps(schema()))
    old["version"] = "1.0.0"
    del old["tables"]["Tenant_Token"]
    del old["tables"]["Service_Flow"]["columns"]["openflow_flows"]  # 1.2.0
    del old["tables"]["Service"]["columns"]["openflow_targets"]  # 1.3.0
    del old["tables"]["Service"]["columns"]["flows_seqno"]  # 1.4.0
    old["tables"]["Service_Flow"]["columns"]["service"]["type"]["key"] = {  # type: ignore[index]
        "type": "uuid",
        "refTable": "Service",
        "refType": "weak",
    }  # 1.4.0 made it a plain uuid
    old["tables"]["Service"]["indexes"] = [["name"]]
    return old  # type: ignore[no-any-return]


def client(*args: str) -> str:
    done = subprocess.run(["ovsdb-client", *args], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


@pytest.fixture
def old_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "old.ovsschema").write_text(json.dumps(schema_1_0_0()))
    db = tmp_path / "inject.db"
    processes.run(["ovsdb-tool", "create", str(db), str(tmp_path / "old.ovsschema")])
    remote = f"unix:{tmp_path / 'db.sock'}"
    pid = processes.start_daemon(
        ["ovsdb-server", f"--remote=p{remote}", f"--unixctl={tmp_path / 'db.ctl'}", str(db)],
        tmp_path,
        "inject",
    )
    try:
        wait_until(lambda: (tmp_path / "db.sock").exists(), "ovsdb-server's socket")
        yield remote
    finally:
        processes.stop_pids([pid])


def test_convert_keeps_every_row_and_makes_names_per_tenant(old_server: str) -> None:
    secret = tokens.new_token()
    rows = [
        {"op": "insert", "table": "Inject_Global", "row": {}},
        {
            "op": "insert",
            "table": "Attachment",
            "uuid-name": "att",
            "row": {"target_kind": "ls", "target_name": "ls-a", "hook": "ls-in-port", "status": "pending"},
        },
        {
            "op": "insert",
            "table": "Token",
            "uuid-name": "tok",
            "row": {"public_id": secret.public_id, "secret_hash": secret.secret_hash, "created": 1},
        },
        {
            "op": "insert",
            "table": "Service",
            "row": {
                "name": "ips",
                "tenant": "tenant-a",
                "enabled": True,
                "attachments": ["named-uuid", "att"],
                "tokens": ["named-uuid", "tok"],
            },
        },
    ]
    client("transact", old_server, json.dumps([INJECT_DB_NAME, *rows]))
    assert client("get-schema-version", old_server, INJECT_DB_NAME) == "1.0.0"
    other = {"op": "insert", "table": "Service", "row": {"name": "ips", "tenant": "tenant-b"}}
    assert "constraint violation" in client("transact", old_server, json.dumps([INJECT_DB_NAME, other]))
    assert client("needs-conversion", old_server, str(schema_path())) == "yes"

    client("convert", old_server, str(schema_path()))

    assert client("get-schema-version", old_server, INJECT_DB_NAME) == schema()["version"]
    assert client("needs-conversion", old_server, str(schema_path())) == "no"
    api = connect(old_server, 10.0)
    try:
        kept = api.service_get("ips").execute()
        assert (kept.tenant, len(kept.attachments), [t.public_id for t in kept.tokens]) == (
            "tenant-a",
            1,
            [secret.public_id],
        )
        api.commit(api.service_add("ips", "tenant-b"))  # refused by the 1.0.0 index
        credential = tokens.new_token()
        api.commit(api.tenant_token_add("tenant-b", credential.public_id, credential.secret_hash, now_ms()))
        assert {s.tenant for s in api.service_list().execute()} == {"tenant-a", "tenant-b"}
        assert [t.tenant for t in api.tenant_token_list().execute()] == ["tenant-b"]
    finally:
        api.close()
