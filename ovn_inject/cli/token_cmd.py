"""``token-*``: the credentials services present to the gateway."""

from __future__ import annotations

import json
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
from ovn_inject.core import tokens
from ovn_inject.db import wire

TOKEN_COLUMNS = ["public_id", "service", "created", "expires", "expired", "description"]


iso_time = tokens.iso_time


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def token_summary(record: dict[str, Any], services: dict[str, Any], now: int) -> dict[str, object]:
    expires = record["expires"]
    service = services.get(record["service"] or "")
    return {
        "_uuid": record["_uuid"],
        "public_id": record["public_id"],
        "service": service["name"] if service else "",
        "created": iso_time(record["created"]),
        "expires": iso_time(expires) if expires is not None else "never",
        "expired": expires is not None and expires <= now,
        "description": record["description"],
    }


@click.command("token-create")
@click.argument("service")
@click.option("--expires", "expires_in", help="Lifetime, like 30m, 1h or 7d (default: never expires).")
@click.option("--description", default="", help="Free text, e.g. who holds it.")
@format_option
@wait_option
@db_options
def token_create(service: str, expires_in: str | None, description: str) -> None:
    """Create a token for SERVICE and print it; it is shown this once and never stored."""
    lifetime = tokens.parse_duration(expires_in) if expires_in else None
    new = tokens.new_token()
    created = now_ms()
    expires = created + lifetime * 1000 if lifetime is not None else None
    with inject_api() as api:
        commit_and_wait(
            api, api.token_add(service, new.public_id, new.secret_hash, created, expires, description)
        )
    show_new_token(new, "service", service, expires)


def show_new_token(new: Any, owner_kind: str, owner: str, expires: int | None) -> None:
    """A token as it is shown once: its whole text as the last line, or JSON with -f json."""
    if settings().output == "json":
        shown = {
            "token": new.token,
            "public_id": new.public_id,
            owner_kind: owner,
            "expires": iso_time(expires),
        }
        emit(json.dumps(shown, indent=2) + "\n")
    else:
        click.echo(new.token)


@click.command("token-list")
@click.argument("service", required=False)
@format_option
@db_options
def token_list(service: str | None) -> None:
    """List tokens (never their secrets) of SERVICE or of every service."""
    now = now_ms()
    found = read("Service", "Token")
    services = {s["_uuid"]: s for s in found["Service"]}
    rows = found["Token"]
    if service is not None:
        chosen = wire.find_service(found["Service"], service)["_uuid"]
        rows = [t for t in rows if t["service"] == chosen]
    records = sorted(
        (token_summary(t, services, now) for t in rows),
        key=lambda r: (str(r["service"]), str(r["created"]), str(r["public_id"])),
    )
    emit(render(records, TOKEN_COLUMNS, settings().output))


@click.command("token-revoke")
@click.argument("token_id", metavar="ID")
@click.option("--if-exists", "missing_ok", is_flag=True, help="Do nothing if there is no such token.")
@wait_option
@db_options
def token_revoke(token_id: str, missing_ok: bool) -> None:
    """Revoke a token by its public id (or its row's uuid)."""
    with inject_api() as api:
        commit_and_wait(api, api.token_revoke(token_id, if_exists(missing_ok)))


COMMANDS = [token_create, token_list, token_revoke]
