"""``flow-add --dry-run``: what the flows would compile to, computed as the gateway's ``/validate`` does."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from ovn_inject.cli.db_options import emit, settings, ssl_ready
from ovn_inject.core.validate import ServiceView, ValidFlow
from ovn_inject.db import wire
from ovn_inject.errors import OvnInjectError


def show_preview(api: Any, view: ServiceView, flows: list[ValidFlow]) -> None:
    """Print each flow's verdict and lflows; nothing is written."""
    from ovn_inject.core.placement import cursor_widths
    from ovn_inject.core.preview import preview_flows
    from ovn_inject.db import records
    from ovn_inject.db.discovery import discover
    from ovn_inject.db.readers import read_topology
    from ovn_inject.db.services import find_service

    config = settings()
    ssl_ready(config.nb_remote, config.sb_remote)
    tables = api.tables
    services, attachments = records.service_specs(tables), records.attachment_specs(tables)
    widths = cursor_widths([a.hook for a in attachments])
    placements = discover(config.sb_remote, config.db_timeout, None, widths, release=view.release).placements
    topology = read_topology(config.nb_remote, config.db_timeout, config.tenant)
    service = find_service(api, f"{view.tenant}/{view.name}")
    if service is None:
        raise OvnInjectError(f"service '{view.tenant}/{view.name}' was deleted meanwhile")
    previews = preview_flows(
        topology, placements, services, attachments, str(service.uuid), flows, view.release
    )
    names = {a.uuid: f"{a.target}@{a.hook}" for a in view.attachments}
    shown: list[dict[str, Any]] = [
        {
            "priority": p.flow.priority,
            "match": p.flow.match,
            "actions": p.flow.actions,
            "cookie": f"0x{p.flow.cookie:x}",
            "hard_timeout": p.flow.hard_timeout,
            "attachment": names.get(p.flow.attachment or "", wire.ALL_ATTACHMENTS),
            "verdict": p.status.value,
            "reason": p.reason,
            "lflows": [dataclasses.asdict(lflow) for lflow in p.lflows],
        }
        for p in previews
    ]
    if settings().format == "json":
        emit(json.dumps(shown, indent=2) + "\n")
        return
    for item in shown:
        why = f": {item['reason']}" if item["reason"] else ""
        click.echo(
            f"dry run: priority {item['priority']} match ({item['match']}) actions ({item['actions']}) "
            f"at {item['attachment']}: {item['verdict']}{why}; nothing written"
        )
        for lflow in item["lflows"]:
            click.echo(
                f"  {lflow['datapath']} {lflow['pipeline']} table={lflow['table_id']} "
                f"({lflow['stage_name']}), priority={lflow['priority']}, "
                f"match=({lflow['match']}), action=({lflow['actions']})"
            )
