"""``flow-*``: the flows a service installs at its hooks."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import click

from ovn_inject.cli.db_options import (
    commit_and_wait,
    db_options,
    emit,
    format_option,
    if_exists,
    inject_api,
    read,
    settings,
    wait_option,
)
from ovn_inject.cli.output import fit_to_terminal, render
from ovn_inject.db import wire
from ovn_inject.direct.flow_add import add, attachment_named, explicit, flow_cookie, print_added, scoped
from ovn_inject.errors import OvnInjectError

if TYPE_CHECKING:
    from ovn_inject.core.validate import FlowRequest, ServiceView
    from ovn_inject.lang import Release

FLOW_COLUMNS = [
    "_uuid",
    "service",
    "attachment",
    "priority",
    "match",
    "actions",
    "cookie",
    "hard_timeout",
    "openflow_flows",
    "status",
    "reason",
]
#: Free-text columns wrapped to the terminal unless --no-trunc.
WIDE = ["match", "actions", "reason"]
_FLOW_KEYS = {"priority", "match", "actions", "cookie", "attachment", "hard_timeout"}


def flow_summary(
    record: dict[str, Any], services: dict[str, Any], attachments: dict[str, Any]
) -> dict[str, object]:
    service = services.get(record["service"] or "")
    attachment = attachments.get(record["attachment"] or "")
    return {
        "_uuid": record["_uuid"],
        "service": service["name"] if service else "",
        "attachment": wire.attachment_name(attachment) if attachment else wire.ALL_ATTACHMENTS,
        "priority": record["priority"],
        "match": record["match"],
        "actions": record["actions"],
        "cookie": f"0x{record['cookie']:x}",
        "hard_timeout": record["hard_timeout"],
        "openflow_flows": record.get("openflow_flows", 0),
        "status": record["status"],
        "reason": record["reason"],
    }


def request_from_json(item: Any, index: int) -> FlowRequest:
    """One entry of a flow-replace file; unknown keys are refused, not ignored."""
    from ovn_inject.core.validate import FlowRequest

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
        cookie=flow_cookie(item.get("cookie", 0), where),
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


def _all_option(function: Any) -> Any:
    return click.option(
        "--all-attachments",
        is_flag=True,
        help="Install at every attachment of the service, including those added later.",
    )(function)


@click.command("flow-add")
@click.argument("service")
@click.option("--priority", type=int, required=True, help="0..999, higher runs first.")
@click.option("--match", "match", required=True, help="OVN logical-flow match.")
@click.option("--actions", required=True, help="OVN logical-flow actions.")
@click.option("--cookie", default="0", help="64-bit value of the service's own (decimal or 0x-hex).")
@click.option(
    "--attachment",
    help="The attachment: KIND:NAME@HOOK, KIND:NAME (with --hook if ambiguous), or a uuid (prefix). "
    "Needed when the service has several.",
)
@click.option("--hook", "hook_name", help="With --attachment KIND:NAME: the hook of the attachment.")
@_all_option
@click.option("--hard-timeout", type=int, default=0, help="Seconds until the flow is removed (0: never).")
@click.option(
    "--dry-run", is_flag=True, help="Validate and print the lflows it would compile to; write nothing."
)
@format_option
@wait_option
@db_options
def flow_add(
    service: str,
    priority: int,
    match: str,
    actions: str,
    cookie: str,
    attachment: str | None,
    hook_name: str | None,
    all_attachments: bool,
    hard_timeout: int,
    dry_run: bool,
) -> None:
    """Add one flow to SERVICE at one attachment (or --all-attachments); prints it."""
    from ovn_inject.core.validate import FlowRequest, validate_flows
    from ovn_inject.db.records import ovn_release, service_view

    attachment = attachment_named(attachment, hook_name)
    if not dry_run:
        from ovn_inject.db.oneshot import Fallback

        try:
            add(
                settings(),
                service,
                attachment,
                all_attachments,
                (priority, match, actions, cookie, hard_timeout),
            )
            return
        except Fallback:
            pass  # an OVN_Inject the one-shot write does not fit: through the IDL, as before
    with inject_api() as api:
        view = _scoped(service_view(api.service_get(service).execute()), ovn_release(api.tables))
        chosen = explicit(view, attachment, all_attachments, "flow-add")
        request = FlowRequest(priority, match, actions, flow_cookie(cookie, "--cookie"), chosen, hard_timeout)
        flows = validate_flows([request], view)
        if dry_run:
            from ovn_inject.cli.preview import show_preview

            show_preview(api, view, flows)
            return
        [uuids] = commit_and_wait(api, api.flow_add(service, flows))
    print_added(settings(), view, uuids, flows)


@click.command("flow-del")
@click.argument("service")
@click.argument("flow_id", required=False, metavar="[ID]")
@click.option("--cookie", help="Delete every flow whose cookie matches C or C/MASK.")
@click.option("--if-exists", "missing_ok", is_flag=True, help="Do nothing if there is no such flow.")
@wait_option
@db_options
def flow_del(service: str, flow_id: str | None, cookie: str | None, missing_ok: bool) -> None:
    """Delete a flow of SERVICE by ID, or the flows matching --cookie."""
    if flow_id is not None and cookie is not None:
        raise OvnInjectError("flow-del: give a flow ID or --cookie C[/MASK], not both")
    if flow_id is None and cookie is None:
        raise OvnInjectError("flow-del: give a flow ID or --cookie C[/MASK] (which flows to delete)")
    from ovn_inject.core.validate import parse_cookie

    value, mask = parse_cookie(cookie) if cookie is not None else (None, None)
    with inject_api() as api:
        commit_and_wait(api, api.flow_del(service, flow_id, value, mask, if_exists(missing_ok)))


@click.command("flow-list")
@click.argument("service", required=False)
@click.option("--no-trunc", is_flag=True, help="Whole uuids, and long matches and actions on one line each.")
@format_option
@db_options
def flow_list(service: str | None, no_trunc: bool) -> None:
    """List the flows of SERVICE (or of every service); long text wraps to the terminal."""
    found = read("Service", "Attachment", "Service_Flow")
    services = {s["_uuid"]: s for s in found["Service"]}
    attachments = {a["_uuid"]: a for a in found["Attachment"]}
    rows = found["Service_Flow"]
    if service is not None:
        chosen = wire.find_service(found["Service"], service)["_uuid"]
        rows = [f for f in rows if f["service"] == chosen]
    records = [flow_summary(f, services, attachments) for f in rows]
    records.sort(
        key=lambda r: (str(r["service"]), -int(str(r["priority"])), str(r["match"]), str(r["_uuid"]))
    )
    caps = {}
    if settings().output == "table" and not no_trunc:
        for record in records:
            record["_uuid"] = str(record["_uuid"])[:8]  # enough to name it in flow-del; whole with --no-trunc
        caps = fit_to_terminal(records, FLOW_COLUMNS, WIDE)
    emit(render(records, FLOW_COLUMNS, settings().output, widths=caps))


@click.command("flow-replace")
@click.argument("service")
@click.argument("file", type=click.File("r"))
@_all_option
@format_option
@wait_option
@db_options
def flow_replace(service: str, file: Any, all_attachments: bool) -> None:
    """Replace every flow of SERVICE with those in FILE (JSON lines or a JSON array; - for stdin).

    An entry without "attachment" binds to the service's only attachment, or, with
    --all-attachments, to every attachment.
    """
    from ovn_inject.core.validate import validate_flows
    from ovn_inject.db.records import ovn_release, service_view

    requests = parse_flow_file(file.read())
    with inject_api() as api:
        view = _scoped(service_view(api.service_get(service).execute()), ovn_release(api.tables))
        if any(r.attachment is None for r in requests):
            default = explicit(view, None, all_attachments, "flow-replace")
            requests = [
                r if r.attachment is not None else dataclasses.replace(r, attachment=default)
                for r in requests
            ]
        flows = validate_flows(requests, view, replacing=True)
        [uuids] = commit_and_wait(api, api.flow_replace(service, flows))
    print_added(settings(), view, uuids, flows)


def _scoped(view: ServiceView, release: Release | None) -> ServiceView:
    """The view with the ports each attachment's flows may name (read from NB), in the daemon's release."""
    return scoped(settings(), view, release)


COMMANDS = [flow_add, flow_del, flow_list, flow_replace]
