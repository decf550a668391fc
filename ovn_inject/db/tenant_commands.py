"""Commands for tenant self-service: tenant credentials and the guards of a tenant's writes.

A tenant credential (Tenant_Token) is stored as a service token is: its
public id and the hash of its secret. Every write a tenant makes through the
gateway starts with :class:`TenantGuardCommand` in the same transaction, so
that nothing commits once the credential is revoked.
"""

from __future__ import annotations

from typing import Any

from ovsdbapp.backend.ovs_idl import rowview

from ovn_inject.core.tokens import TokenError
from ovn_inject.core.validate import QuotaExceededError
from ovn_inject.db.commands import (
    AddCommand,
    Command,
    ReadOnlyCommand,
    ServiceAddCommand,
    by_uuid,
    service_row,
)
from ovn_inject.db.errors import RowNotFoundError, storable
from ovn_inject.db.records import single
from ovn_inject.db.services import tenant_service
from ovn_inject.db.verify import verify
from ovn_inject.errors import OvnInjectError

Row = Any
#: Inject_Global.external_ids key every tenant's service creation rewrites: two concurrent
#: creations conflict on it and one retries, so a tenant's service count cannot overshoot.
SERVICES_SEQ_KEY = "ovn-inject:tenant-services-seq"


class TenantServiceQuotaError(QuotaExceededError):
    """Over the tenant's service quota: the same 429 as a flow quota, its own message."""

    def __init__(self, tenant: str, limit: int) -> None:
        OvnInjectError.__init__(self, f"tenant '{tenant}' may own at most {limit} services; delete one first")


def guard_tenant_token(api: Any, public_id: str) -> Row:
    """Fail the transaction once the credential is revoked; a concurrent revocation makes it retry."""
    row = api.lookup("Tenant_Token", public_id, default=None)
    if row is None:
        raise TokenError("tenant credential revoked")
    verify(row, "secret_hash")
    return row


class TenantGuardCommand(Command):
    def __init__(self, api: Any, public_id: str) -> None:
        super().__init__(api)
        self.public_id = public_id

    def run_idl(self, txn: Any) -> None:
        guard_tenant_token(self.api, self.public_id)


class TenantServiceAddCommand(ServiceAddCommand):
    """service-add for a tenant, refused beyond ``max_services`` services of that tenant."""

    def __init__(
        self,
        api: Any,
        name: str,
        tenant: str,
        description: str,
        options: dict[str, str],
        max_services: int | None,
        enabled: bool,
        external_ids: dict[str, str],
    ) -> None:
        super().__init__(api, name, tenant, description, options, False, external_ids)
        self.max_services = max_services
        self.enabled = enabled

    def run_idl(self, txn: Any) -> None:
        if self.max_services is not None and tenant_service(self.api, self.tenant, self.name) is None:
            owned = sum(1 for r in self.api.tables["Service"].rows.values() if r.tenant == self.tenant)
            globals_ = list(self.api.tables["Inject_Global"].rows.values())
            if globals_:
                row = globals_[0]
                row.verify("external_ids")
                ids = dict(row.external_ids)
                seq = ids.get(SERVICES_SEQ_KEY, "0")
                ids[SERVICES_SEQ_KEY] = str(int(seq) + 1 if seq.isdigit() else 1)
                row.external_ids = ids
            if owned >= self.max_services:
                raise TenantServiceQuotaError(self.tenant, self.max_services)
        super().run_idl(txn)
        if not self.enabled:
            self.api.tables["Service"].rows[self.result].enabled = False


class TenantTokenAddCommand(AddCommand):
    table_name = "Tenant_Token"

    def __init__(
        self,
        api: Any,
        tenant: str,
        public_id: str,
        secret_hash: str,
        created: int,
        expires: int | None,
        description: str,
        max_services: int | None,
        max_flows: int | None,
    ) -> None:
        super().__init__(api)
        self.description = description
        self.values = {
            "tenant": tenant,
            "public_id": public_id,
            "secret_hash": secret_hash,
            "created": created,
            "expires": [] if expires is None else [expires],
            "description": description,
            "max_services": [] if max_services is None else [max_services],
            "max_flows": [] if max_flows is None else [max_flows],
        }

    def run_idl(self, txn: Any) -> None:
        storable(self.description, "the description")
        row = txn.insert(self.api.tables["Tenant_Token"])
        for column, value in self.values.items():
            setattr(row, column, value)
        self.result = row.uuid


class TenantTokenListCommand(ReadOnlyCommand):
    def __init__(self, api: Any, tenant: str | None) -> None:
        super().__init__(api)
        self.tenant = tenant

    def run_idl(self, txn: Any) -> None:
        rows = [
            r
            for r in self.api.tables["Tenant_Token"].rows.values()
            if self.tenant is None or r.tenant == self.tenant
        ]
        rows.sort(key=lambda t: (t.tenant, t.created, t.public_id))
        self.result = [rowview.RowView(r) for r in rows]


class TenantTokenRevokeCommand(Command):
    def __init__(self, api: Any, token_id: str, if_exists: bool) -> None:
        super().__init__(api)
        self.token_id = token_id
        self.if_exists = if_exists

    def run_idl(self, txn: Any) -> None:
        rows = list(self.api.tables["Tenant_Token"].rows.values())
        found = next((r for r in rows if r.public_id == self.token_id), None)
        if found is None:
            found = by_uuid(rows, self.token_id, "tenant credential")
        if found is None:
            if self.if_exists:
                return
            raise RowNotFoundError(
                f"tenant credential '{self.token_id}'", " (see 'ovn-inject tenant-token-list')"
            )
        found.delete()


class ServiceTokenRevokeCommand(Command):
    """Revoke the service's tokens: the one with ``public_id``, or all of them if None."""

    def __init__(self, api: Any, service: str, public_id: str | None) -> None:
        super().__init__(api)
        self.service = service
        self.public_id = public_id

    def run_idl(self, txn: Any) -> None:
        service = service_row(self.api, self.service)
        doomed = [t for t in service.tokens if self.public_id in (None, t.public_id)]
        if self.public_id is not None and not doomed:
            raise RowNotFoundError(f"token '{self.public_id}' of service '{service.name}'")
        for token in doomed:
            if single(token.service) is not None:
                service.delvalue("tokens", token)
            token.delete()
        self.result = len(doomed)
