"""``token-*``: the credentials services present to the gateway."""

from __future__ import annotations

import json

import click

from ovn_inject.cli.db_options import commit_and_wait, db_options, emit, inject_api, settings
from ovn_inject.cli.output import render
from ovn_inject.core import tokens
from ovn_inject.db.commands import now_ms
from ovn_inject.db.records import service_name, to_record

TOKEN_COLUMNS = ["public_id", "service", "created", "expires", "expired", "description"]


iso_time = tokens.iso_time


def token_summary(row: object, now: int) -> dict[str, object]:
    record = to_record(row)
    expires = record["expires"]
    return {
        "_uuid": record["_uuid"],
        "public_id": record["public_id"],
        "service": service_name(row),
        "created": iso_time(record["created"]),
        "expires": iso_time(expires) if expires is not None else "never",
        "expired": expires is not None and expires <= now,
        "description": record["description"],
    }


@click.command("token-create")
@click.argument("service")
@click.option("--expires", "expires_in", help="Lifetime, like 30m, 1h or 7d (default: never expires).")
@click.option("--description", default="", help="Free text, e.g. who holds it.")
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
    if settings().output == "json":
        shown = {
            "token": new.token,
            "public_id": new.public_id,
            "service": service,
            "expires": iso_time(expires),
        }
        emit(json.dumps(shown, indent=2) + "\n")
    else:
        click.echo(new.token)


@click.command("token-list")
@click.argument("service", required=False)
@db_options
def token_list(service: str | None) -> None:
    """List tokens (never their secrets) of SERVICE or of every service."""
    now = now_ms()
    with inject_api() as api:
        records = [token_summary(t, now) for t in api.token_list(service).execute()]
    emit(render(records, TOKEN_COLUMNS, settings().output))


@click.command("token-revoke")
@click.argument("token_id", metavar="ID")
@click.option("--if-exists", is_flag=True, help="Do nothing if there is no such token.")
@db_options
def token_revoke(token_id: str, if_exists: bool) -> None:
    """Revoke a token by its public id (or its row's uuid)."""
    with inject_api() as api:
        commit_and_wait(api, api.token_revoke(token_id, if_exists))


COMMANDS = [token_create, token_list, token_revoke]
