"""What writing flows to OVN_Inject costs: one transaction per flow vs one bundle.

Runs its own ovsdb-server with the OVN_Inject schema in a scratch directory.
Baseline: one pre-validated flow per transaction through the API. Figures
are ratios against that baseline measured in the same run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ovn_inject.core.validate import FlowRequest, ValidFlow, validate_flows
from ovn_inject.db.impl_idl import connect
from ovn_inject.db.records import service_view
from ovn_inject.db.schema import schema_path

N = 300


def _flows(count: int, offset: int = 0) -> list[ValidFlow]:
    return [
        ValidFlow(
            i % 1000, f"ip4.src == 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", "drop;", i, None, 0
        )
        for i in range(offset, offset + count)
    ]


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-inject-"))
    db, sock, pidfile = scratch / "inject.db", scratch / "inject.sock", scratch / "server.pid"
    subprocess.run(["ovsdb-tool", "create", str(db), str(schema_path())], check=True)
    subprocess.run(
        [
            "ovsdb-server",
            "-vconsole:off",
            "--detach",
            "--no-chdir",
            f"--pidfile={pidfile}",
            f"--log-file={scratch / 'server.log'}",
            f"--unixctl={scratch / 'server.ctl'}",
            f"--remote=punix:{sock}",
            str(db),
        ],
        check=True,
    )
    api = connect(f"unix:{sock}", 30)
    try:
        api.commit(api.init(), api.service_add("bench", "tenant"), api.service_add("checked", "tenant"))

        started = time.perf_counter()
        for flow in _flows(N):
            api.commit(api.flow_add("bench", [flow]))
        per_txn = (time.perf_counter() - started) / N

        started = time.perf_counter()
        for i, flow in enumerate(_flows(N)):  # a second service, so both start from no flows
            view = service_view(api.service_get("checked").execute())
            request = FlowRequest(flow.priority, flow.match, flow.actions, flow.cookie)
            api.commit(api.flow_add("checked", validate_flows([request], view)))
            assert view.flow_count == i
        validated = (time.perf_counter() - started) / N

        results = []
        for size in (N, 10 * N):
            started = time.perf_counter()
            api.commit(api.flow_replace("bench", _flows(size)))
            results.append((size, (time.perf_counter() - started) / size))
    finally:
        api.close()
        subprocess.run(["ovs-appctl", "-t", str(scratch / "server.ctl"), "exit"], check=False)
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"flow-add, one flow per transaction (baseline): {per_txn * 1000:.2f} ms/flow")
    ratio = validated / per_txn
    print(f"flow-add with service read + validation:        {validated * 1000:.2f} ms/flow  ({ratio:.2f}x)")
    for size, cost in results:
        print(
            f"flow-replace of {size:>5} flows in one transaction: {cost * 1000:.3f} ms/flow  "
            f"({cost / per_txn:.3f}x, {size * cost * 1000:.0f} ms total)"
        )


if __name__ == "__main__":
    main()
