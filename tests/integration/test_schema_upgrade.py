"""OVN_Inject 1.0.0 -> the current schema: ``ovsdb-client convert`` keeps every row (no OpenFlow targets)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ovn_inject.db.schema import schema_path
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _old_schema() -> dict[str, object]:
    """The 1.0.0 schema: the current one without the columns 1.1.0 added."""
    schema = json.loads(schema_path().read_text())
    schema["version"] = "1.0.0"
    del schema["tables"]["Service"]["columns"]["openflow_targets"]
    return schema


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


def test_ovsdb_client_convert_from_1_0_0(tmp_path: Path) -> None:
    old = tmp_path / "old.ovsschema"
    old.write_text(json.dumps(_old_schema()))
    db, sock = tmp_path / "inject.db", tmp_path / "db.sock"
    _run("ovsdb-tool", "create", str(db), str(old))
    server = subprocess.Popen(
        ["ovsdb-server", f"--remote=punix:{sock}", f"--unixctl={tmp_path / 'db.ctl'}", str(db)],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(sock.exists, "ovsdb-server listens")
        remote = f"unix:{sock}"
        insert = {"op": "insert", "table": "Service", "row": {"name": "ips", "tenant": "t", "enabled": True}}
        _run("ovsdb-client", "transact", remote, json.dumps(["OVN_Inject", insert]))
        assert _run("ovsdb-client", "needs-conversion", remote, str(schema_path())).strip() == "yes"
        _run("ovsdb-client", "convert", remote, str(schema_path()))
        rows = json.loads(_run("ovsdb-client", "--format=json", "dump", remote, "OVN_Inject", "Service"))
        [table] = rows if isinstance(rows, list) else [rows]
        names = table["headings"]
        [row] = [dict(zip(names, r, strict=True)) for r in table["data"]]
        assert row["name"] == "ips" and row["openflow_targets"] == ["set", []]
        assert _run("ovsdb-client", "get-schema-version", remote, "OVN_Inject").strip() == "1.1.0"
    finally:
        server.terminate()
        server.wait(timeout=10)
