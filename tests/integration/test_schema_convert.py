"""An OVN_Inject database of schema 1.1.0 converts online to the current one (``ovsdb-client convert``).

1.2.0 added Service_Flow.openflow_flows; a flow stored before has 0 there
(its cost is not known until it is written again). 1.3.0 added
Service.openflow_targets; 1.4.0 made Service_Flow.service a plain uuid (the
same value) and added Service.flows_seqno (0 until a flow is written).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ovn_inject.db.schema import schema_path
from ovn_inject.sandbox import processes

pytestmark = pytest.mark.integration


def _old_schema() -> dict[str, object]:
    """The schema as it was at 1.1.0: the current one without what 1.2.0, 1.3.0 and 1.4.0 changed."""
    schema = json.loads(schema_path().read_text())
    schema["version"] = "1.1.0"
    del schema["tables"]["Service_Flow"]["columns"]["openflow_flows"]  # 1.2.0
    del schema["tables"]["Service"]["columns"]["openflow_targets"]  # 1.3.0
    del schema["tables"]["Service"]["columns"]["flows_seqno"]  # 1.4.0
    schema["tables"]["Service_Flow"]["columns"]["service"]["type"]["key"] = {  # type: ignore[index]
        "type": "uuid",
        "refTable": "Service",
        "refType": "weak",
    }  # 1.4.0 made it a plain uuid
    return schema


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


def test_a_1_1_0_database_converts_online(tmp_path: Path) -> None:
    old = tmp_path / "old.ovsschema"
    old.write_text(json.dumps(_old_schema()))
    db = tmp_path / "inject.db"
    _run("ovsdb-tool", "create", str(db), str(old))
    sock = tmp_path / "db.sock"
    pid = processes.start_daemon(
        ["ovsdb-server", f"--remote=punix:{sock}", f"--unixctl={tmp_path / 'ctl'}", str(db)],
        tmp_path,
        "ovsdb-server",
    )
    remote = f"unix:{sock}"
    try:
        insert = [
            "OVN_Inject",
            {"op": "insert", "table": "Service", "uuid-name": "s",
             "row": {"name": "ips", "tenant": "tenant-a", "enabled": True,
                     "flows": ["named-uuid", "f"]}},
            {"op": "insert", "table": "Service_Flow", "uuid-name": "f",
             "row": {"service": ["named-uuid", "s"], "priority": 10, "match": "tcp.dst == 22",
                     "actions": "drop;", "cookie": 7, "status": "installed"}},
        ]  # fmt: skip
        _run("ovsdb-client", "transact", remote, json.dumps(insert))
        _run("ovsdb-client", "convert", remote, str(schema_path()))
        assert (
            _run("ovsdb-client", "get-schema-version", remote, "OVN_Inject").strip()
            == json.loads(schema_path().read_text())["version"]
        )
        dumped = json.loads(_run("ovsdb-client", "-f", "json", "dump", remote, "OVN_Inject", "Service_Flow"))
        headings, rows = dumped["headings"], dumped["data"]
        flow = dict(zip(headings, rows[0], strict=True))
        assert (flow["priority"], flow["match"], flow["cookie"], flow["openflow_flows"]) == (
            10,
            "tcp.dst == 22",
            7,
            0,
        )
    finally:
        assert processes.stop_pids([pid]) == [], "ovsdb-server survived"
