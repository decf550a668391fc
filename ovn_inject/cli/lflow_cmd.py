"""``lflow-list`` and ``trace``: our hook lflows in SB, laid out as ovn-sbctl and ovn-trace show them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from typing import Any

import click

from ovn_inject.cli.db_options import db_options, emit, format_option, settings, ssl_ready
from ovn_inject.cli.output import render
from ovn_inject.constants import OWNER_KEY, OWNER_VALUE
from ovn_inject.errors import OvnInjectError

SB = "OVN_Southbound"
LFLOW_COLUMNS = [
    "datapath",
    "pipeline",
    "table_id",
    "stage",
    "priority",
    "service",
    "flow",
    "attachment",
    "match",
    "actions",
]
_UUID_IN_TRACE = re.compile(r"\buuid ([0-9a-f]{8})\b")


def _atom(value: Any) -> Any:
    return value[1] if isinstance(value, list) and len(value) == 2 and value[0] == "uuid" else value


def _set(value: Any) -> list[Any]:
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return [_atom(v) for v in value[1]]
    return [_atom(value)]


def _map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value[1]} if isinstance(value, list) and value[:1] == ["map"] else {}


def our_lflows() -> list[dict[str, Any]]:
    """Every Logical_Flow ovn-inject wrote, one record per datapath it applies to."""
    from ovn_inject.db.rpc import Rpc

    config = settings()
    ssl_ready(config.sb_remote)
    ours = [["external_ids", "includes", ["map", [[OWNER_KEY, OWNER_VALUE]]]]]
    ops = [
        {"op": "select", "table": "Logical_Flow", "where": ours},
        {"op": "select", "table": "Datapath_Binding", "where": [], "columns": ["_uuid", "external_ids"]},
        {"op": "select", "table": "Logical_DP_Group", "where": []},
    ]
    with Rpc(config.sb_remote, config.db_timeout, SB) as rpc:
        flows, datapaths, groups = rpc.request("transact", [SB, *ops])
    names = {}
    for row in datapaths.get("rows", []):
        ids = _map(row["external_ids"])
        names[_atom(row["_uuid"])] = ids.get("name") or _atom(row["_uuid"])
    group_members = {_atom(g["_uuid"]): _set(g["datapaths"]) for g in groups.get("rows", [])}
    out = []
    for row in flows.get("rows", []):
        ids = _map(row["external_ids"])
        dps = _set(row["logical_datapath"]) or []
        for group in _set(row.get("logical_dp_group", ["set", []])):
            dps += group_members.get(group, [])
        for dp in dps:
            out.append(
                {
                    "_uuid": _atom(row["_uuid"]),
                    "datapath": names.get(dp, dp),
                    "datapath_uuid": dp,
                    "pipeline": row["pipeline"],
                    "table_id": row["table_id"],
                    "stage": ids.get("stage-name", ""),
                    "priority": row["priority"],
                    "hook": ids.get("ovn-inject-hook", ""),
                    "service": ids.get("ovn-inject-service", ""),
                    "flow": ids.get("ovn-inject-flow", ""),
                    "attachment": ids.get("ovn-inject-attachment", ""),
                    "match": row["match"],
                    "actions": row["actions"],
                }
            )
    order = {"ingress": 0, "egress": 1}
    out.sort(
        key=lambda f: (f["datapath"], order.get(f["pipeline"], 2), f["table_id"], -f["priority"], f["match"])
    )
    return out


def _named_attachments(lflows: list[dict[str, Any]]) -> None:
    """Attachment uuids as KIND:NAME@HOOK (from OVN_Inject), flow ids shortened as ovn-trace does."""
    from ovn_inject.cli.db_options import read
    from ovn_inject.db import wire

    try:
        attachments = {a["_uuid"]: wire.attachment_name(a) for a in read("Attachment")["Attachment"]}
    except OvnInjectError:
        attachments = {}
    for lflow in lflows:
        lflow["attachment"] = attachments.get(lflow["attachment"], lflow["attachment"][:8])


@click.command("lflow-list")
@click.argument("which", required=False, metavar="[SERVICE|DATAPATH]")
@format_option
@db_options
def lflow_list(which: str | None) -> None:
    """List ovn-inject's Logical_Flow rows in SB by datapath, pipeline and table (ovn-sbctl's layout).

    WHICH is a datapath (switch or router name, or SB uuid) or a service (NAME or TENANT/NAME).
    """
    lflows = our_lflows()
    if which is not None:
        name = which.rpartition("/")[2]
        by_dp = [f for f in lflows if which in (f["datapath"], f["datapath_uuid"])]
        lflows = by_dp or [f for f in lflows if f["service"] == name]
        if not lflows:
            raise OvnInjectError(f"lflow-list: no hook lflows on a datapath or of a service named '{which}'")
    _named_attachments(lflows)
    if settings().output != "table":
        emit(render(lflows, LFLOW_COLUMNS, settings().output))
        return
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for lflow in lflows:
        groups[(lflow["datapath"], lflow["datapath_uuid"], lflow["pipeline"])].append(lflow)
    lines = []
    for (name, uuid, pipeline), rows in groups.items():
        lines.append(f'Datapath: "{name}" ({uuid})  Pipeline: {pipeline}')
        width = max(len(r["stage"]) for r in rows)
        for r in rows:
            who = f"service {r['service']} at {r['attachment']}"
            who += f", flow {r['flow'][:8]}" if r["flow"] else " (hook entry)"
            lines.append(
                f"  table={r['table_id']:<2} ({r['stage']:<{width}}), priority={r['priority']:<5}, "
                f"match=({r['match']}), action=({r['actions']})  [{who}]"
            )
    emit("\n".join(lines) + ("\n" if lines else ""))


@click.command("trace", context_settings={"ignore_unknown_options": True})
@click.argument("datapath")
@click.argument("microflow")
@click.argument("ovn_trace_args", nargs=-1, type=click.UNPROCESSED, metavar="[OVN-TRACE-OPTIONS]...")
@db_options
def trace(datapath: str, microflow: str, ovn_trace_args: tuple[str, ...]) -> None:
    """Run ovn-trace on DATAPATH MICROFLOW and say which service and flow each hook stage is.

    Options after MICROFLOW go to ovn-trace (e.g. --summary, --ct=new). Each ls_in_hook_*/lr_*_hook_*
    line that is ovn-inject's is followed by a '# ovn-inject:' line naming its service and flow.
    """
    program = shutil.which("ovn-trace")
    if program is None:
        raise OvnInjectError("trace: ovn-trace is not installed (Debian: ovn-central or ovn-common)")
    config = settings()
    lflows = {f["_uuid"][:8]: f for f in our_lflows()}
    _named_attachments(list(lflows.values()))
    flows = _flow_texts()
    done = subprocess.run(
        [program, f"--db={config.sb_remote}", *ovn_trace_args, datapath, microflow],
        capture_output=True,
        text=True,
        timeout=config.db_timeout,
        check=False,
    )
    if done.returncode != 0:
        raise OvnInjectError(
            "ovn-trace failed: "
            + (done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
        )
    out = []
    for line in done.stdout.splitlines():
        out.append(line)
        found = _UUID_IN_TRACE.search(line)
        lflow = lflows.get(found.group(1)) if found else None
        if lflow is None:
            continue
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        if lflow["flow"]:
            text = flows.get(lflow["flow"], "")
            what = f"flow {lflow['flow'][:8]}" + (f" ({text})" if text else "")
        else:
            what = "hook entry: no flow of this service matched, on to the next"
        out.append(
            f"{indent}# ovn-inject: {lflow['hook']}, service {lflow['service']} "
            f"at {lflow['attachment']}: {what}"
        )
    emit("\n".join(out) + "\n")


def _flow_texts() -> dict[str, str]:
    from ovn_inject.cli.db_options import read

    try:
        rows = read("Service_Flow")["Service_Flow"]
    except OvnInjectError:
        return {}
    return {f["_uuid"]: f"priority {f['priority']}, {f['match']} -> {f['actions']}" for f in rows}
