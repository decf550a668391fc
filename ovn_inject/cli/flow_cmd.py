"""``flow-*``: the flows a service installs at its hooks."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from ovn_inject.cli.db_options import (
    commit_and_wait,
    db_options,
    emit,
    inject_api,
    settings,
    ssl_ready,
)
from ovn_inject.cli.output import render
from ovn_inject.core.bound import compiled_scopes
from ovn_inject.core.hooks import TargetKind
from ovn_inject.core.validate import (
    FlowRequest,
    FlowValidationError,
    ServiceView,
    parse_cookie,
    validate_flows,
)
from ovn_inject.db.readers import read_topology
from ovn_inject.db.records import ovn_release, service_name, service_view, to_record
from ovn_inject.errors import OvnInjectError
from ovn_inject.lang import Release

FLOW_COLUMNS = [
    "_uuid",
    "service",
    "attachment",
    "priority",
    "match",
    "actions",
    "cookie",
    "openflow_flows",
    "status",
    "reason",
]
_FLOW_KEYS = {"priority", "match", "actions", "cookie", "attachment", "hard_timeout"}


def flow_summary(row: object) -> dict[str, object]:
    record = to_record(row)
    return {
        "_uuid": record["_uuid"],
        "service": service_name(row),
        "attachment": record["attachment"] or "",
        "priority": record["priority"],
        "match": record["match"],
        "actions": record["actions"],
        "cookie": f"0x{record['cookie']:x}",
        "hard_timeout": record["hard_timeout"],
        "openflow_flows": record.get("openflow_flows", 0),
        "status": record["status"],
        "reason": record["reason"],
    }


def _cookie(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FlowValidationError("cookie", f"{where}: expected a number or a 0x-hex string")
    text = str(value)
    cookie, mask = parse_cookie(text)
    if mask != (1 << 64) - 1:
        raise FlowValidationError("cookie", f"{where}: a flow's cookie takes no mask")
    return cookie


def request_from_json(item: Any, index: int) -> FlowRequest:
    """One entry of a flow-replace file; unknown keys are refused, not ignored."""
    where = f"entry {index + 1}"
    if not isinstance(item, dict):
        raise OvnInjectError(f"{where}: expected a JSON object with priority, match and actions")
    unknown = sorted(set(item) - _FLOW_KEYS)
    if unknown:
        raise OvnInjectError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_FLOW_KEYS))}"
        )
    missing = sorted({"priority", "match", "actions"} - set(item))
    if missing:
        raise OvnInjectError(f"{where}: missing {', '.join(missing)}")
    for key in ("priority", "hard_timeout"):
        if key in item and (isinstance(item[key], bool) or not isinstance(item[key], int)):
            raise OvnInjectError(f"{where}: {key} must be an integer")
    for key in ("match", "actions", "attachment"):
        if key in item and not isinstance(item[key], str):
            raise OvnInjectError(f"{where}: {key} must be a string")
    return FlowRequest(
        priority=item["priority"],
        match=item["match"],
        actions=item["actions"],
        cookie=_cookie(item.get("cookie", 0), where),
        attachment=item.get("attachment"),
        hard_timeout=item.get("hard_timeout", 0),
    )


def parse_flow_file(text: str) -> list[FlowRequest]:
    """A JSON array of flows, or one JSON object per line."""
    stripped = text.strip()
    if not stripped:
        return []
    items: list[Any]
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise OvnInjectError(f"bad JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise OvnInjectError(f"bad JSON on line {number}, column {exc.colno}: {exc.msg}") from None
    return [request_from_json(item, i) for i, item in enumerate(items)]


@click.command("flow-add")
@click.argument("service")
@click.option("--priority", type=int, required=True, help="0..999, higher runs first.")
@click.option("--match", "match", required=True, help="OVN logical-flow match.")
@click.option("--actions", required=True, help="OVN logical-flow actions.")
@click.option("--cookie", default="0", help="64-bit value of the service's own (decimal or 0x-hex).")
@click.option(
    "--attachment",
    help="Only at this attachment: uuid, uuid prefix or KIND:NAME (default: all of the service's).",
)
@click.option("--hard-timeout", type=int, default=0, help="Seconds until the flow is removed (0: never).")
@db_options
def flow_add(
    service: str,
    priority: int,
    match: str,
    actions: str,
    cookie: str,
    attachment: str | None,
    hard_timeout: int,
) -> None:
    """Add one flow to SERVICE; prints its uuid."""
    request = FlowRequest(priority, match, actions, _cookie(cookie, "--cookie"), attachment, hard_timeout)
    with inject_api() as api:
        view = _scoped(service_view(api.service_get(service).execute()), ovn_release(api.tables))
        flows = validate_flows([request], view)
        [uuids] = commit_and_wait(api, api.flow_add(service, flows))
    for uuid in uuids:
        click.echo(uuid)


@click.command("flow-del")
@click.argument("service")
@click.argument("flow_id", required=False, metavar="[ID]")
@click.option("--cookie", help="Delete every flow whose cookie matches C or C/MASK.")
@click.option("--if-exists", is_flag=True, help="Do nothing if there is no such flow.")
@db_options
def flow_del(service: str, flow_id: str | None, cookie: str | None, if_exists: bool) -> None:
    """Delete a flow of SERVICE by ID, or the flows matching --cookie."""
    if flow_id is not None and cookie is not None:
        raise OvnInjectError("flow-del: give a flow ID or --cookie C[/MASK], not both")
    if flow_id is None and cookie is None:
        raise OvnInjectError("flow-del: give a flow ID or --cookie C[/MASK] (which flows to delete)")
    value, mask = parse_cookie(cookie) if cookie is not None else (None, None)
    with inject_api() as api:
        commit_and_wait(api, api.flow_del(service, flow_id, value, mask, if_exists))


@click.command("flow-list")
@click.argument("service", required=False)
@db_options
def flow_list(service: str | None) -> None:
    """List the flows of SERVICE (or of every service)."""
    with inject_api() as api:
        records = [flow_summary(f) for f in api.flow_list(service).execute()]
    columns = FLOW_COLUMNS if settings().output != "json" else [*FLOW_COLUMNS, "hard_timeout"]
    emit(render(records, columns, settings().output))


@click.command("flow-replace")
@click.argument("service")
@click.argument("file", type=click.File("r"))
@db_options
def flow_replace(service: str, file: Any) -> None:
    """Replace every flow of SERVICE with those in FILE (JSON lines or a JSON array; - for stdin)."""
    requests = parse_flow_file(file.read())
    with inject_api() as api:
        view = _scoped(service_view(api.service_get(service).execute()), ovn_release(api.tables))
        flows = validate_flows(requests, view, replacing=True)
        [uuids] = commit_and_wait(api, api.flow_replace(service, flows))
    for uuid in uuids:
        click.echo(uuid)


def _scoped(view: ServiceView, release: Release | None) -> ServiceView:
    """The view with the ports each attachment's flows may name (read from NB), in the daemon's release."""
    config = settings()
    ssl_ready(config.nb_remote)
    topology = read_topology(config.nb_remote, config.db_timeout, config.tenant)
    allowed = {
        a.uuid: topology.tenant_ports(TargetKind(a.target_kind), a.target_name, view.tenant)
        for a in view.attachments
    }
    reach = {
        a.uuid: topology.target_reach(TargetKind(a.target_kind), a.target_name, view.tenant)
        for a in view.attachments
    }
    return dataclasses.replace(
        view,
        allowed_ports=allowed,
        reach=reach,
        scopes=compiled_scopes(
            topology,
            ((a.uuid, a.target_kind, a.target_name, a.hook) for a in view.attachments),
            view.tenant,
        ),
        release=release,
    )


COMMANDS = [flow_add, flow_del, flow_list, flow_replace]
