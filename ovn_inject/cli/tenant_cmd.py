"""``tenant-token-*``: the credentials with which a tenant manages its own services through the gateway."""

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
    read,
    settings,
    wait_option,
)
from ovn_inject.cli.output import render
from ovn_inject.cli.token_cmd import now_ms, show_new_token
from ovn_inject.core import tokens
from ovn_inject.core.tokens import iso_time
from ovn_inject.errors import OvnInjectError

TENANT_TOKEN_COLUMNS = [
    "public_id",
    "tenant",
    "created",
    "expires",
    "expired",
    "max_services",
    "max_flows",
    "description",
]


def tenant_token_summary(record: dict[str, Any], now: int) -> dict[str, object]:
    expires = record["expires"]
    return {
        "_uuid": record["_uuid"],
        "public_id": record["public_id"],
        "tenant": record["tenant"],
        "created": iso_time(record["created"]),
        "expires": iso_time(expires) if expires is not None else "never",
        "expired": expires is not None and expires <= now,
        "max_services": record["max_services"],
        "max_flows": record["max_flows"],
        "description": record["description"],
    }


def _lifetime(text: str) -> int:
    """Seconds: a plain number of seconds, or a duration like 30m, 1h or 7d."""
    if text.strip().isdigit() and int(text) > 0:
        return int(text)
    return tokens.parse_duration(text)


@click.command("tenant-token-create")
@click.argument("tenant")
@click.option("--expires", "expires_in", help="Lifetime in seconds, or like 30m, 1h, 7d (default: never).")
@click.option("--max-services", type=click.IntRange(min=0), help="Most services the tenant may own.")
@click.option(
    "--max-flows", type=click.IntRange(min=0), help="Largest flow quota a service of the tenant may have."
)
@click.option("--description", default="", help="Free text, e.g. who holds it.")
@format_option
@wait_option
@db_options
def tenant_token_create(
    tenant: str, expires_in: str | None, max_services: int | None, max_flows: int | None, description: str
) -> None:
    """Create a credential for TENANT and print it (last line); it is shown this once and never stored."""
    if not tenant.strip():
        raise OvnInjectError("tenant-token-create: the tenant must not be empty")
    lifetime = _lifetime(expires_in) if expires_in else None
    new = tokens.new_token()
    created = now_ms()
    expires = created + lifetime * 1000 if lifetime is not None else None
    with inject_api() as api:
        commit_and_wait(
            api,
            api.tenant_token_add(
                tenant, new.public_id, new.secret_hash, created, expires, description, max_services, max_flows
            ),
        )
    show_new_token(new, "tenant", tenant, expires)


@click.command("tenant-token-list")
@click.argument("tenant", required=False)
@format_option
@db_options
def tenant_token_list(tenant: str | None) -> None:
    """List tenant credentials (never their secrets) of TENANT or of every tenant."""
    now = now_ms()
    rows = read("Tenant_Token")["Tenant_Token"]
    chosen = [t for t in rows if tenant is None or t["tenant"] == tenant]
    records = sorted(
        (tenant_token_summary(t, now) for t in chosen),
        key=lambda r: (str(r["tenant"]), str(r["created"]), str(r["public_id"])),
    )
    emit(render(records, TENANT_TOKEN_COLUMNS, settings().output))


@click.command("tenant-token-revoke")
@click.argument("token_id", metavar="PUBLIC_ID")
@click.option("--if-exists", "missing_ok", is_flag=True, help="Do nothing if there is no such credential.")
@wait_option
@db_options
def tenant_token_revoke(token_id: str, missing_ok: bool) -> None:
    """Revoke a tenant credential; the services it created keep working."""
    with inject_api() as api:
        commit_and_wait(api, api.tenant_token_revoke(token_id, if_exists(missing_ok)))


COMMANDS = [tenant_token_create, tenant_token_list, tenant_token_revoke]
