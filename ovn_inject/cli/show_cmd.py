"""``ovn-inject show``: the whole picture, like ``ovn-nbctl show``."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import click

from ovn_inject.cli.db_options import db_options, emit, format_option, read, settings
from ovn_inject.db import wire

Record = dict[str, Any]


def picture(found: dict[str, list[Record]]) -> list[Record]:
    """Per tenant: its services (flow counts by status, attachments) and each element's chains."""
    flows_by_service: dict[str, Counter[str]] = defaultdict(Counter)
    for flow in found["Service_Flow"]:
        flows_by_service[flow["service"] or ""][flow["status"]] += 1
    services = {s["_uuid"]: s for s in found["Service"]}
    tenants: dict[str, Record] = {}
    for service in sorted(services.values(), key=lambda s: (s["tenant"], s["name"])):
        tenant = tenants.setdefault(
            service["tenant"], {"tenant": service["tenant"], "services": [], "chains": []}
        )
        counts = flows_by_service[service["_uuid"]]
        mine = [a for a in found["Attachment"] if a["service"] == service["_uuid"]]
        tenant["services"].append(
            {
                "name": service["name"],
                "enabled": service["enabled"],
                "max_flows": int(service["options"]["max_flows"])
                if service["options"].get("max_flows", "").isdigit()
                else None,
                "tokens": len(service["tokens"]),
                "flows": {status: counts[status] for status in sorted(counts)},
                "attachments": sorted(wire.attachment_name(a) for a in mine),
            }
        )
    chains: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for attachment in found["Attachment"]:
        owner = services.get(attachment["service"] or "")
        if owner is None:
            continue
        element = f"{attachment['target_kind']}:{attachment['target_name']}"
        chains[(owner["tenant"], element, attachment["hook"])].append(
            {
                "order": attachment["order"],
                "service": owner["name"],
                "status": attachment["status"],
                "reason": attachment["reason"],
            }
        )
    for (tenant_name, element, hook), chain in sorted(chains.items()):
        chain.sort(key=lambda c: (c["order"], c["service"]))
        tenants[tenant_name]["chains"].append({"element": element, "hook": hook, "services": chain})
    return list(tenants.values())


def _flows_text(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "0 flows"
    return (
        f"{total} flow{'s' if total != 1 else ''} (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"
    )


def as_text(tenants: list[Record]) -> str:
    lines = []
    for tenant in tenants:
        lines.append(f"tenant {tenant['tenant']}")
        for service in tenant["services"]:
            state = "enabled" if service["enabled"] else "disabled"
            quota = f", max_flows {service['max_flows']}" if service["max_flows"] is not None else ""
            lines.append(f"    service {service['name']} ({state}{quota})")
            lines.append(f"        {_flows_text(service['flows'])}, {service['tokens']} token(s)")
            for name in service["attachments"]:
                lines.append(f"        attachment {name}")
        for chain in tenant["chains"]:
            lines.append(f"    {chain['element']} at {chain['hook']}")
            for step in chain["services"]:
                why = f": {step['reason']}" if step["reason"] else ""
                lines.append(f"        {step['order']:>5} {step['service']} ({step['status']}{why})")
    return "\n".join(lines) + ("\n" if lines else "")


@click.command("show")
@format_option
@db_options
def show() -> None:
    """Services per tenant with flow counts by status, and each element's services in order per hook."""
    tenants = picture(read("Service", "Attachment", "Service_Flow"))
    if settings().format == "json":
        emit(json.dumps(tenants, indent=2) + "\n")
    else:
        emit(as_text(tenants))
