"""Which Service row a reference names, now that service names are unique per tenant only.

A reference is ``NAME`` where no other tenant uses that name, ``TENANT/NAME``
always, or the row's uuid (whole, or at least 4 leading hex digits). A name
never holds ``/``, so ``TENANT/NAME`` splits at its last ``/`` whatever the
tenant id holds.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from ovn_inject.db.errors import AmbiguousRecordError
from ovn_inject.errors import OvnInjectError

Row = Any
SEPARATOR = "/"
_HEX = re.compile(r"^[0-9a-fA-F-]{4,36}$")


class BadServiceNameError(OvnInjectError):
    """A service name that could not be told apart from a ``TENANT/NAME`` reference."""


def check_name(name: str) -> None:
    if not name.strip():
        raise BadServiceNameError("a service name must not be empty")
    if SEPARATOR in name:
        raise BadServiceNameError(
            f"service name '{name}' holds '{SEPARATOR}': that separates TENANT/NAME in references"
        )


def tenant_service(api: Any, tenant: str, name: str) -> Row | None:
    """The service ``name`` of ``tenant`` (the (tenant, name) index of the schema)."""
    for row in api.tables["Service"].rows.values():
        if row.name == name and row.tenant == tenant:
            return row
    return None


def find_service(api: Any, reference: str) -> Row | None:
    """The row ``reference`` names, None if none; AmbiguousRecordError if several tenants use a name."""
    rows = api.tables["Service"].rows
    try:
        row = rows.get(uuid.UUID(reference))
    except ValueError:
        row = None
    if row is not None:
        return row
    tenant, separator, name = reference.rpartition(SEPARATOR)
    if separator:
        return tenant_service(api, tenant, name)
    named = [r for r in rows.values() if r.name == reference]
    if len(named) > 1:
        tenants = ", ".join(sorted(r.tenant for r in named))
        raise AmbiguousRecordError(
            f"service '{reference}' exists for tenants {tenants}: name it TENANT/{reference} or by uuid"
        )
    if named:
        return named[0]
    if _HEX.match(reference):
        from ovn_inject.db.commands import by_uuid

        found: Row | None = by_uuid(rows.values(), reference, "service")
        return found
    return None


def reference(row: Row) -> str:
    """How a message names a service unambiguously: ``TENANT/NAME``."""
    return f"{row.tenant}{SEPARATOR}{row.name}"
