"""``service-*`` and ``attach-*``: services and where they attach."""

from __future__ import annotations

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
from ovn_inject.core.bound import DEFAULT_SERVICE_BUDGET, budget
from ovn_inject.core.hooks import hook as hook_point
from ovn_inject.core.targets import check_attachment, parse_target
from ovn_inject.db.readers import NbReader
from ovn_inject.db.records import service_name, to_record
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
ATTACHMENT_COLUMNS = ["_uuid", "service", "target", "hook", "order", "status", "reason"]


def service_summary(row: object) -> dict[str, object]:
    record = to_record(row)
    return {
        "_uuid": record["_uuid"],
        "name": record["name"],
        "tenant": record["tenant"],
        "enabled": record["enabled"],
        "description": record["description"],
        "attachments": len(record["attachments"]),
        "flows": len(record["flows"]),
        "tokens": len(record["tokens"]),
        "max_flows": int(record["options"]["max_flows"]) if "max_flows" in record["options"] else None,
        "max_openflow_flows": budget(record["options"]),
        "openflow_targets": record.get("openflow_targets", []),
        "options": record["options"],
        "external_ids": record["external_ids"],
    }


def attachment_summary(row: object) -> dict[str, object]:
    record = to_record(row)
    return {
        "_uuid": record["_uuid"],
        "service": service_name(row),
        "target": f"{record['target_kind']}:{record['target_name']}",
        "target_kind": record["target_kind"],
        "target_name": record["target_name"],
        "hook": record["hook"],
        "order": record["order"],
        "status": record["status"],
        "reason": record["reason"],
    }


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
@click.option("--may-exist", is_flag=True, help="Do nothing if the service exists (same tenant).")
@db_options
def service_add(
    name: str,
    tenant: str,
    description: str,
    max_flows: int | None,
    max_openflow_flows: int | None,
    may_exist: bool,
) -> None:
    """Register a network service for one tenant."""
    if not name.strip() or not tenant.strip():
        raise OvnInjectError("service-add: the service name and --tenant must not be empty")
    with inject_api() as api:
        command = api.service_add(
            name, tenant, description, max_flows, may_exist, max_openflow_flows=max_openflow_flows
        )
        commit_and_wait(api, command)


@click.command("service-del")
@click.argument("name")
@click.option("--if-exists", is_flag=True, help="Do nothing if there is no such service.")
@db_options
def service_del(name: str, if_exists: bool) -> None:
    """Delete a service with all its attachments, flows and tokens."""
    with inject_api() as api:
        commit_and_wait(api, api.service_del(name, if_exists))


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
@db_options
def service_set(
    name: str,
    description: str | None,
    enabled: bool | None,
    max_flows: int | None,
    no_max_flows: bool,
    max_openflow_flows: int | None,
    default_max_openflow_flows: bool,
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
        commit_and_wait(api, api.service_set(name, description, enabled, quota, openflow))


@click.command("service-list")
@db_options
def service_list() -> None:
    """List the services."""
    with inject_api() as api:
        rows = api.service_list().execute()
        records = [service_summary(r) for r in rows]
    emit(render(records, SERVICE_COLUMNS, settings().output))


@click.command("service-show")
@click.argument("name")
@db_options
def service_show(name: str) -> None:
    """Show one service with its attachments."""
    with inject_api() as api:
        row = api.service_get(name).execute()
        summary = service_summary(row)
        attachments = [attachment_summary(a) for a in api.attach_list(name).execute()]
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
@click.option("--may-exist", is_flag=True, help="Do nothing if the attachment exists.")
@db_options
def attach_add(service: str, target: str, hook_name: str, order: int | None, may_exist: bool) -> None:
    """Attach SERVICE to KIND:NAME (lsp, ls, lr, lrp, pg) at a hook point."""
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
            api, api.attach_add(service, parsed.kind.value, parsed.name, hook.name, order, may_exist)
        )
    click.echo(created.uuid)


@click.command("attach-del")
@click.argument("service")
@click.argument("target", metavar="KIND:NAME")
@click.option("--hook", "hook_name", help="Only the attachment at this hook (default: every hook).")
@click.option("--if-exists", is_flag=True, help="Do nothing if there is no such attachment.")
@db_options
def attach_del(service: str, target: str, hook_name: str | None, if_exists: bool) -> None:
    """Detach SERVICE from KIND:NAME; the flows bound to that attachment go with it."""
    parsed = parse_target(target)
    hook = hook_point(hook_name).name if hook_name else None
    with inject_api() as api:
        commit_and_wait(api, api.attach_del(service, parsed.kind.value, parsed.name, hook, if_exists))


@click.command("attach-list")
@click.argument("service", required=False)
@db_options
def attach_list(service: str | None) -> None:
    """List the attachments of SERVICE (or of every service)."""
    with inject_api() as api:
        records = [attachment_summary(a) for a in api.attach_list(service).execute()]
    emit(render(records, ATTACHMENT_COLUMNS, settings().output))


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
