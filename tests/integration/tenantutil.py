"""Helpers for the tenant API's tests: credentials made as the operator makes them, rows read from the db."""

from __future__ import annotations

from typing import Any

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.core import tokens
from ovn_inject.db.commands import now_ms
from ovn_inject.db.rpc import Rpc
from ovn_inject.sandbox import Sandbox
from tests.integration.gatewayutil import inject_api


def make_tenant(
    box: Sandbox,
    tenant: str,
    max_services: int | None = None,
    max_flows: int | None = None,
    expires_ms: int | None = None,
) -> str:
    """A new credential of ``tenant``, as 'ovn-inject tenant-token-create' stores it; returns the token."""
    new = tokens.new_token()
    with inject_api(box) as api:
        api.commit(  # type: ignore[attr-defined]
            api.tenant_token_add(  # type: ignore[attr-defined]
                tenant, new.public_id, new.secret_hash, now_ms(), expires_ms, "", max_services, max_flows
            )
        )
    return new.token


def revoke_tenant(box: Sandbox, token: str) -> None:
    public_id, _ = tokens.split_token(token)
    with inject_api(box) as api:
        api.commit(api.tenant_token_revoke(public_id))  # type: ignore[attr-defined]


def clear_services(box: Sandbox) -> None:
    with inject_api(box) as api:
        services = api.service_list().execute()  # type: ignore[attr-defined]
        if services:
            api.commit(*[api.service_del(str(s.uuid)) for s in services])  # type: ignore[attr-defined]


def snapshot(box: Sandbox) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a tenant can write, read straight from the database (not the gateway)."""
    columns = {
        "Service": ["_uuid", "name", "tenant", "description", "enabled", "options"],
        "Attachment": ["_uuid", "target_kind", "target_name", "hook", "order"],
        "Token": ["_uuid", "public_id"],
        "Service_Flow": ["_uuid", "match"],
    }
    out: dict[str, list[tuple[Any, ...]]] = {}
    with Rpc(box.inject_remote, 10.0, INJECT_DB_NAME) as rpc:
        for table, wanted in columns.items():
            rows = rpc.select(INJECT_DB_NAME, table, [], wanted)
            out[table] = sorted(tuple(str(r[c]) for c in wanted) for r in rows)
    return out
