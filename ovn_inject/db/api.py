"""The typed API on OVN_Inject, shaped like ovsdbapp's own OVN APIs.

Every method returns a command object; run it alone with ``.execute()`` or
group several in ``with api.transaction() as txn: txn.add(...)`` so that
they commit together or not at all. The CLI, the gateway and the compiler
daemon all go through it.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from ovsdbapp import api as ovsdbapp_api

from ovn_inject.core.validate import ValidFlow


class API(ovsdbapp_api.API, metaclass=abc.ABCMeta):
    # ---- global ------------------------------------------------------------
    @abc.abstractmethod
    def init(self) -> ovsdbapp_api.Command:
        """Create the Inject_Global row if it is missing."""

    @abc.abstractmethod
    def global_get(self) -> ovsdbapp_api.Command:
        """The Inject_Global row (None if the database is not initialised)."""

    @abc.abstractmethod
    def bump_cfg(self) -> ovsdbapp_api.Command:
        """Increment Inject_Global.cfg; the result is the new value (for --wait)."""

    # ---- services -------------------------------------------------------------
    @abc.abstractmethod
    def service_add(
        self,
        name: str,
        tenant: str,
        description: str = "",
        max_flows: int | None = None,
        may_exist: bool = False,
        max_openflow_flows: int | None = None,
        **external_ids: str,
    ) -> ovsdbapp_api.Command:
        """Create a service; with may_exist an existing one of the same tenant is kept.

        ``max_openflow_flows``: its OpenFlow budget (None: the default).
        """

    @abc.abstractmethod
    def service_del(self, name: str, if_exists: bool = False) -> ovsdbapp_api.Command:
        """Delete a service with its attachments, flows and tokens."""

    @abc.abstractmethod
    def service_set(
        self,
        name: str,
        description: str | None = None,
        enabled: bool | None = None,
        max_flows: int | None = None,
        max_openflow_flows: int | None = None,
    ) -> ovsdbapp_api.Command:
        """Change what is given (None keeps it); a negative max_flows removes the quota,
        a negative max_openflow_flows restores the default budget."""

    @abc.abstractmethod
    def service_get(self, name: str) -> ovsdbapp_api.Command:
        """One service by name."""

    @abc.abstractmethod
    def service_list(self) -> ovsdbapp_api.Command:
        """Every service, by name."""

    # ---- attachments ----------------------------------------------------------
    @abc.abstractmethod
    def attach_add(
        self,
        service: str,
        target_kind: str,
        target_name: str,
        hook: str,
        order: int | None = None,
        may_exist: bool = False,
    ) -> ovsdbapp_api.Command:
        """Attach a service to a target at a hook; order defaults to after those already there.

        The caller has validated the target (exists, same tenant, fits the hook).
        """

    @abc.abstractmethod
    def attach_del(
        self,
        service: str,
        target_kind: str,
        target_name: str,
        hook: str | None = None,
        if_exists: bool = False,
    ) -> ovsdbapp_api.Command:
        """Detach (from every hook of that target if hook is None); flows bound to it go too."""

    @abc.abstractmethod
    def attach_list(self, service: str | None = None) -> ovsdbapp_api.Command:
        """Attachments of one service or of all."""

    # ---- flows -------------------------------------------------------------------
    @abc.abstractmethod
    def flow_add(
        self,
        service: str,
        flows: Sequence[ValidFlow],
        token: str | None = None,
        index: Any = None,
        default_limit: int | None = None,
        staged: Any = None,
    ) -> ovsdbapp_api.Command:
        """Add validated flows; quota and duplicates are checked again inside the transaction.

        ``token``: the public id of the token a request came with (no write
        commits once it is revoked); ``index``: a ``db.rows.FlowIndex``; ``staged``: a
        ``db.rows.Staged`` shared by the commands of one group commit.
        """

    @abc.abstractmethod
    def flow_del(
        self,
        service: str,
        flow_id: str | None = None,
        cookie: int | None = None,
        cookie_mask: int | None = None,
        if_exists: bool = False,
        token: str | None = None,
        staged: Any = None,
    ) -> ovsdbapp_api.Command:
        """Delete one flow by uuid (or unique prefix), or every flow whose cookie matches."""

    @abc.abstractmethod
    def flow_replace(
        self,
        service: str,
        flows: Sequence[ValidFlow],
        token: str | None = None,
        default_limit: int | None = None,
        staged: Any = None,
    ) -> ovsdbapp_api.Command:
        """Replace every flow of the service in one transaction (an OpenFlow bundle)."""

    @abc.abstractmethod
    def flow_list(self, service: str | None = None) -> ovsdbapp_api.Command:
        """Flows of one service or of all."""

    # ---- tokens ----------------------------------------------------------------
    @abc.abstractmethod
    def token_add(
        self,
        service: str,
        public_id: str,
        secret_hash: str,
        created: int,
        expires: int | None = None,
        description: str = "",
    ) -> ovsdbapp_api.Command:
        """Store a token's public id and secret hash (never the secret)."""

    @abc.abstractmethod
    def token_list(self, service: str | None = None) -> ovsdbapp_api.Command:
        """Tokens of one service or of all."""

    @abc.abstractmethod
    def token_revoke(self, token_id: str, if_exists: bool = False) -> ovsdbapp_api.Command:
        """Delete a token by public id or uuid."""

    @abc.abstractmethod
    def token_lookup(self, public_id: str) -> ovsdbapp_api.Command:
        """The token with this public id, or None (for the gateway)."""

    # ---- tenant self-service ------------------------------------------------------
    @abc.abstractmethod
    def tenant_token_add(
        self,
        tenant: str,
        public_id: str,
        secret_hash: str,
        created: int,
        expires: int | None = None,
        description: str = "",
        max_services: int | None = None,
        max_flows: int | None = None,
    ) -> ovsdbapp_api.Command:
        """Store a tenant credential (hash only) with the tenant's limits."""

    @abc.abstractmethod
    def tenant_token_list(self, tenant: str | None = None) -> ovsdbapp_api.Command:
        """Tenant credentials of one tenant or of all."""

    @abc.abstractmethod
    def tenant_token_revoke(self, token_id: str, if_exists: bool = False) -> ovsdbapp_api.Command:
        """Delete a tenant credential by public id or uuid; its services stay."""

    @abc.abstractmethod
    def tenant_guard(self, public_id: str) -> ovsdbapp_api.Command:
        """Fail the transaction it is part of unless the tenant credential still exists."""

    @abc.abstractmethod
    def tenant_service_add(
        self,
        name: str,
        tenant: str,
        description: str = "",
        max_flows: int | None = None,
        max_services: int | None = None,
        enabled: bool = True,
    ) -> ovsdbapp_api.Command:
        """service_add, refused once the tenant owns ``max_services`` services."""

    @abc.abstractmethod
    def service_token_revoke(self, service: str, public_id: str | None = None) -> ovsdbapp_api.Command:
        """Revoke one token of the service (or all of them); refuses a token of another service."""
