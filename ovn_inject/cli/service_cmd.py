"""``service-*`` and ``attach-*``: services and where they attach."""

from __future__ import annotations

from typing import Any

import click

from ovn_inject.cli.db_options import (
    commit_and_wait,
    db_options,
    emit,
    format_option,
    if_exists,
    inject_api,
    may_exist,
    read,
    settings,
    ssl_ready,
    wait_option,
)
from ovn_inject.cli.output import max_flows_value, render
from ovn_inject.core.quota import DEFAULT_SERVICE_BUDGET, budget
from ovn_inject.db import wire
from ovn_inject.db.errors import RowNotFoundError
from ovn_inject.errors import OvnInjectError

SERVICE_COLUMNS = [
    "name",
    "tenant",
    "enabled",
    "attachments",
    "flows",
    "tokens",
    "max_flows",
    "max_openflow_flows",
    "description",
]
ATTACHMENT_COLUMNS = ["service", "attachment", "order", "status", "reason"]
#: JSON and CSV also give the parts of the name, for scripts.
ATTACHMENT_FIELDS = ["_uuid", "service", "attachment", "target", "hook", "order", "status", "reason"]
Record = dict[str, Any]


def service_summary(record: Record) -> Record:
    return {
        "_uuid": record["_uuid"],
        "name": record["name"],
        "tenant": record["tenant"],
        "enabled": record["enabled"],
        "description": record["description"],
        "attachments": len(record["attachments"]),
        "flows": len(record["flows"]),
        "tokens": len(record["tokens"]),
        "max_flows": max_flows_value(record["options"].get("max_flows")),
        "max_openflow_flows": budget(record["options"]),
        "openflow_targets": record.get("openflow_targets", []),
        "options": record["options"],
        "external_ids": record["external_ids"],
    }


def attachment_summary(record: Record, services: dict[str, Record]) -> Record:
    service = services.get(record["service"] or "")
    return {
        "_uuid": record["_uuid"],
        "service": service["name"] if service else "",
        "attachment": wire.attachment_name(record),
        "target": f"{record['target_kind']}:{record['target_name']}",
        "target_kind": record["target_kind"],
        "target_name": record["target_name"],
        "hook": record["hook"],
        "order": record["order"],
        "status": record["status"],
        "reason": record["reason"],
    }


def _attachments_of(found: dict[str, list[Record]], service: str | None) -> list[Record]:
    services = {s["_uuid"]: s for s in found["Service"]}
    rows = found["Attachment"]
    if service is not None:
        chosen = wire.find_service(found["Service"], service)
        rows = [a for a in rows if a["service"] == chosen["_uuid"]]
    summaries = [attachment_summary(a, services) for a in rows]
    summaries.sort(key=lambda a: (a["service"], a["target"], a["hook"], a["order"]))
    return summaries


@click.command("service-add")
@click.argument("name")
@click.option("--tenant", required=True, help="The tenant whose elements the service may attach to.")
@click.option("--description", default="", help="Free text.")
@click.option("--max-flows", type=click.IntRange(min=0), help="Most flows the service may install.")
@click.option(
    "--max-openflow-flows",
    type=click.IntRange(min=0),
    help="OpenFlow budget: most OpenFlow flows its flows together may cost "
    f"(default {DEFAULT_SERVICE_BUDGET:,}).",
)
@click.option("--may-exist", "exist_ok", is_flag=True, help="Do nothing if the service exists (same tenant).")
@wait_option
@db_options
def service_add(
    name: str,
    tenant: str,
    description: str,
    max_flows: int | None,
    max_openflow_flows: int | None,
    exist_ok: bool,
) -> None:
    """Register a network service for one tenant."""
    if not name.strip() or not tenant.strip():
        raise OvnInjectError("service-add: the service name and --tenant must not be empty")
    with inject_api() as api:
        command = api.service_add(
            name, tenant, description, max_flows, may_exist(exist_ok), max_openflow_flows=max_openflow_flows
        )
        commit_and_wait(api, command)


@click.command("service-del")
@click.argument("name")
@click.option("--if-exists", "missing_ok", is_flag=True, help="Do nothing if there is no such service.")
@wait_option
@db_options
def service_del(name: str, missing_ok: bool) -> None:
    """Delete a service with all its attachments, flows and tokens."""
    with inject_api() as api:
        commit_and_wait(api, api.service_del(name, if_exists(missing_ok)))


@click.command("service-set")
@click.argument("name")
@click.option("--description", help="Free text.")
@click.option(
    "--enable/--disable", "enabled", default=None, help="A disabled service's flows are not installed."
)
@click.option("--max-flows", type=click.IntRange(min=0), help="Most flows the service may install.")
@click.option("--no-max-flows", is_flag=True, help="Remove the flow quota.")
@click.option(
    "--max-openflow-flows",
    type=click.IntRange(min=0),
    help="OpenFlow budget: most OpenFlow flows its flows together may cost.",
)
@click.option(
    "--default-max-openflow-flows",
    is_flag=True,
    help=f"Restore the default OpenFlow budget ({DEFAULT_SERVICE_BUDGET:,}).",
)
@click.option("--if-exists", "missing_ok", is_flag=True, help="Do nothing if there is no such service.")
@wait_option
@db_options
def service_set(
    name: str,
    description: str | None,
    enabled: bool | None,
    max_flows: int | None,
    no_max_flows: bool,
    max_openflow_flows: int | None,
    default_max_openflow_flows: bool,
    missing_ok: bool,
) -> None:
    """Change a service's description, enabled flag, flow quota or OpenFlow budget."""
    if max_flows is not None and no_max_flows:
        raise OvnInjectError("service-set: --max-flows and --no-max-flows exclude each other")
    if max_openflow_flows is not None and default_max_openflow_flows:
        raise OvnInjectError(
            "service-set: --max-openflow-flows and --default-max-openflow-flows exclude each other"
        )
    quota = -1 if no_max_flows else max_flows
    openflow = -1 if default_max_openflow_flows else max_openflow_flows
    with inject_api() as api:
        if if_exists(missing_ok):
            from ovn_inject.db.services import find_service

            if find_service(api, name) is None:
                return
        commit_and_wait(api, api.service_set(name, description, enabled, quota, openflow))


@click.command("service-list")
@format_option
@db_options
def service_list() -> None:
    """List the services."""
    found = read("Service")["Service"]
    records = sorted((service_summary(r) for r in found), key=lambda r: (r["name"], r["tenant"]))
    emit(render(records, SERVICE_COLUMNS, settings().output))


@click.command("service-show")
@click.argument("name")
@click.option("--if-exists", "missing_ok", is_flag=True, help="Print nothing if there is no such service.")
@format_option
@db_options
def service_show(name: str, missing_ok: bool) -> None:
    """Show one service with its attachments."""
    found = read("Service", "Attachment")
    try:
        row = wire.find_service(found["Service"], name)
    except RowNotFoundError:
        if if_exists(missing_ok):
            return
        raise
    summary = service_summary(row)
    attachments = _attachments_of(found, row["_uuid"])
    fmt = settings().output
    if fmt == "json":
        summary["attachments"] = attachments
        import json

        emit(json.dumps(summary, indent=2) + "\n")
        return
    columns = [*SERVICE_COLUMNS, "openflow_targets", "options", "external_ids"]
    emit(render([summary], columns, "list" if fmt == "table" else fmt))
    if attachments and fmt == "table":
        emit("\n" + render(attachments, ATTACHMENT_COLUMNS, "table"))


@click.command("attach-add")
@click.argument("service")
@click.argument("target", metavar="KIND:NAME")
@click.option("--hook", "hook_name", required=True, help="Hook point (see 'ovn-inject hook-list').")
@click.option(
    "--order", type=click.IntRange(0, 65535), help="Run position among services on this element and hook."
)
@click.option("--may-exist", "exist_ok", is_flag=True, help="Do nothing if the attachment exists.")
@wait_option
@db_options
def attach_add(service: str, target: str, hook_name: str, order: int | None, exist_ok: bool) -> None:
    """Attach SERVICE to KIND:NAME (lsp, ls, lr, lrp, pg) at a hook point; prints KIND:NAME@HOOK."""
    from ovn_inject.core.hooks import hook as hook_point
    from ovn_inject.core.targets import check_attachment, parse_target
    from ovn_inject.db.readers import NbReader

    parsed = parse_target(target)
    hook = hook_point(hook_name)
    config = settings()
    with inject_api() as api:
        tenant = api.service_get(service).execute().tenant
        ssl_ready(config.nb_remote)
        with NbReader(config.nb_remote, config.db_timeout) as nb:
            row = nb.target_row(parsed)
        check_attachment(parsed, row, hook, tenant, config.tenant)
        [created] = commit_and_wait(
            api,
            api.attach_add(service, parsed.kind.value, parsed.name, hook.name, order, may_exist(exist_ok)),
        )
    click.echo(f"{created.target_kind}:{created.target_name}@{created.hook}")


@click.command("attach-del")
@click.argument("service")
@click.argument("target", metavar="KIND:NAME")
@click.option("--hook", "hook_name", help="Only the attachment at this hook (default: every hook).")
@click.option("--if-exists", "missing_ok", is_flag=True, help="Do nothing if there is no such attachment.")
@wait_option
@db_options
def attach_del(service: str, target: str, hook_name: str | None, missing_ok: bool) -> None:
    """Detach SERVICE from KIND:NAME (or KIND:NAME@HOOK); the flows bound to that attachment go with it."""
    from ovn_inject.core.hooks import hook as hook_point
    from ovn_inject.core.targets import parse_target

    if "@" in target and hook_name is None:
        target, _, hook_name = target.partition("@")
    parsed = parse_target(target)
    hook = hook_point(hook_name).name if hook_name else None
    with inject_api() as api:
        commit_and_wait(
            api, api.attach_del(service, parsed.kind.value, parsed.name, hook, if_exists(missing_ok))
        )


@click.command("attach-list")
@click.argument("service", required=False)
@format_option
@db_options
def attach_list(service: str | None) -> None:
    """List the attachments of SERVICE (or of every service)."""
    records = _attachments_of(read("Service", "Attachment"), service)
    fmt = settings().output
    emit(render(records, ATTACHMENT_COLUMNS if fmt == "table" else ATTACHMENT_FIELDS, fmt))


COMMANDS = [
    service_add,
    service_del,
    service_set,
    service_list,
    service_show,
    attach_add,
    attach_del,
    attach_list,
]
