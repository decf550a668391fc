"""The OVN_Inject API over ovsdbapp's OVS IDL backend, and how to connect to it."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ovs.db.idl
from ovsdbapp import exceptions
from ovsdbapp.backend import ovs_idl
from ovsdbapp.backend.ovs_idl import connection, idlutils

from ovn_inject.constants import INJECT_DB_NAME
from ovn_inject.core.quota import BUDGET_OPTION
from ovn_inject.core.validate import ValidFlow
from ovn_inject.db import api, commands, flow_commands, flowtxn, idlthread, lazyidl, tenant_commands
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.rpc import Rpc, RpcError
from ovn_inject.errors import OvnInjectError
from ovn_inject.ovs_json import install as _linear_json

DEFAULT_TIMEOUT = 30.0
# Without its C extension (the index's wheel has none) python-ovs parses JSON per character.
_linear_json()

# ovsdbapp and python-ovs log through the logging module; without a handler
# Python prints their warnings to stderr, next to our own one-line errors.
# A process that configures logging (a daemon) still gets them.
for _name in ("ovsdbapp", "ovs"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


class InjectDbApiIdlImpl(ovs_idl.Backend, api.API):
    schema = INJECT_DB_NAME
    # Service names are unique per tenant only: db.services resolves them, never lookup().
    lookup_table = {
        "Token": idlutils.RowLookup("Token", "public_id", None),
        "Tenant_Token": idlutils.RowLookup("Tenant_Token", "public_id", None),
    }

    # ovsdbapp keeps one connection per Backend *class*; we keep it per
    # instance so that one process can talk to several OVN_Inject servers
    # (tests, the daemon next to a CLI call).
    @property
    def ovsdb_connection(self) -> Any:
        return self._connection

    @ovsdb_connection.setter
    def ovsdb_connection(self, value: Any) -> None:
        self._connection = value

    def create_transaction(self, check_error: bool = True, log_errors: bool = False, **kwargs: Any) -> Any:
        # Always raise, never log-and-ignore (ovsdbapp's execute() defaults to
        # check_error=False): a refused command must abort its whole transaction
        # and reach the caller as the error it is.
        return super().create_transaction(check_error=True, log_errors=False, **kwargs)

    def init(self) -> Any:
        return commands.InitCommand(self)

    def global_get(self) -> Any:
        return commands.GlobalGetCommand(self)

    def bump_cfg(self) -> Any:
        return commands.BumpCfgCommand(self)

    def service_add(
        self,
        name: str,
        tenant: str,
        description: str = "",
        max_flows: int | None = None,
        may_exist: bool = False,
        max_openflow_flows: int | None = None,
        **external_ids: str,
    ) -> Any:
        options = {} if max_flows is None else {"max_flows": str(max_flows)}
        if max_openflow_flows is not None:
            options[BUDGET_OPTION] = str(max_openflow_flows)
        return commands.ServiceAddCommand(
            self, name, tenant, description, options, may_exist, dict(external_ids)
        )

    def service_del(self, name: str, if_exists: bool = False) -> Any:
        return commands.ServiceDelCommand(self, name, if_exists)

    def service_set(
        self,
        name: str,
        description: str | None = None,
        enabled: bool | None = None,
        max_flows: int | None = None,
        max_openflow_flows: int | None = None,
    ) -> Any:
        return commands.ServiceSetCommand(self, name, description, enabled, max_flows, max_openflow_flows)

    def service_get(self, name: str) -> Any:
        return commands.ServiceGetCommand(self, name)

    def service_list(self) -> Any:
        return commands.ServiceListCommand(self)

    def attach_add(
        self,
        service: str,
        target_kind: str,
        target_name: str,
        hook: str,
        order: int | None = None,
        may_exist: bool = False,
    ) -> Any:
        return commands.AttachAddCommand(self, service, target_kind, target_name, hook, order, may_exist)

    def attach_del(
        self,
        service: str,
        target_kind: str,
        target_name: str,
        hook: str | None = None,
        if_exists: bool = False,
    ) -> Any:
        return commands.AttachDelCommand(self, service, target_kind, target_name, hook, if_exists)

    def attach_list(self, service: str | None = None) -> Any:
        return commands.AttachListCommand(self, service)

    def flow_add(
        self,
        service: str,
        flows: Sequence[ValidFlow],
        token: str | None = None,
        index: Any = None,
        default_limit: int | None = None,
        staged: Any = None,
    ) -> Any:
        return flow_commands.FlowAddCommand(self, service, flows, token, index, default_limit, staged)

    def flow_del(
        self,
        service: str,
        flow_id: str | None = None,
        cookie: int | None = None,
        cookie_mask: int | None = None,
        if_exists: bool = False,
        token: str | None = None,
        staged: Any = None,
    ) -> Any:
        return flow_commands.FlowDelCommand(
            self, service, flow_id, cookie, cookie_mask, if_exists, token, staged
        )

    def flow_replace(
        self,
        service: str,
        flows: Sequence[ValidFlow],
        token: str | None = None,
        default_limit: int | None = None,
        staged: Any = None,
    ) -> Any:
        return flow_commands.FlowReplaceCommand(self, service, flows, token, default_limit, staged)

    def flow_list(self, service: str | None = None) -> Any:
        return flow_commands.FlowListCommand(self, service)

    def token_add(
        self,
        service: str,
        public_id: str,
        secret_hash: str,
        created: int,
        expires: int | None = None,
        description: str = "",
    ) -> Any:
        return commands.TokenAddCommand(self, service, public_id, secret_hash, created, expires, description)

    def token_list(self, service: str | None = None) -> Any:
        return commands.TokenListCommand(self, service)

    def token_revoke(self, token_id: str, if_exists: bool = False) -> Any:
        return commands.TokenRevokeCommand(self, token_id, if_exists)

    def token_lookup(self, public_id: str) -> Any:
        return commands.TokenLookupCommand(self, public_id)

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
    ) -> Any:
        return tenant_commands.TenantTokenAddCommand(
            self, tenant, public_id, secret_hash, created, expires, description, max_services, max_flows
        )

    def tenant_token_list(self, tenant: str | None = None) -> Any:
        return tenant_commands.TenantTokenListCommand(self, tenant)

    def tenant_token_revoke(self, token_id: str, if_exists: bool = False) -> Any:
        return tenant_commands.TenantTokenRevokeCommand(self, token_id, if_exists)

    def tenant_guard(self, public_id: str) -> Any:
        return tenant_commands.TenantGuardCommand(self, public_id)

    def tenant_service_add(
        self,
        name: str,
        tenant: str,
        description: str = "",
        max_flows: int | None = None,
        max_services: int | None = None,
        enabled: bool = True,
    ) -> Any:
        options = {} if max_flows is None else {"max_flows": str(max_flows)}
        return tenant_commands.TenantServiceAddCommand(
            self, name, tenant, description, options, max_services, enabled, {}
        )

    def service_token_revoke(self, service: str, public_id: str | None = None) -> Any:
        return tenant_commands.ServiceTokenRevokeCommand(self, service, public_id)

    def commit(self, *commands: Any) -> list[Any]:
        """Run ``commands`` in one transaction (all or nothing); return their results."""
        with self._refusals(), self.transaction() as txn:
            for command in commands:
                txn.add(command)
        return [command.result for command in commands]

    def commit_flows(self, command: Any) -> Any:
        """Commit a group command of flow adds with its rows as plain operations (db.flowtxn), as
        :meth:`commit` would; through python-ovs's rows (``commit``) where a value does not suit."""
        try:
            with self._refusals():
                flowtxn.FlowGroupTransaction(self, command).commit()
        except flowtxn.Unsuitable:
            return self.commit(command)[0]
        return command.result

    def commit_here(self, command: Any, flows: bool) -> Any:
        """:meth:`commit_flows` (``flows``) or :meth:`commit` of one command, run in the calling
        thread, which must be the connection's (db.group's hook): what it would do with the
        transaction queued to it, the same errors raised."""
        if flows:
            try:
                with self._refusals(), self.ovsdb_connection.lock:
                    flowtxn.FlowGroupTransaction(self, command).do_commit()
                return command.result
            except flowtxn.Unsuitable:
                pass
        return self.commit_rows_here(command)

    def commit_rows_here(self, command: Any) -> Any:
        """:meth:`commit` of one command through python-ovs's rows, in the connection's thread."""
        with self._refusals(), self.ovsdb_connection.lock:
            txn = self.create_transaction(check_error=True, log_errors=False)
            txn.add(command)
            txn.do_commit()
        return command.result

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        """A failed commit as the InjectDbError that says why (an OvnInjectError as it is)."""
        try:
            yield
        except (OvnInjectError, flowtxn.Unsuitable):
            raise
        except exceptions.TimeoutException:
            timeout = getattr(self.ovsdb_connection, "timeout", None)
            within = f" within {timeout:g} s" if isinstance(timeout, int | float) else " in time"
            raise InjectDbError(
                f"OVN_Inject did not answer{within} (a larger --timeout?); the change may still commit"
            ) from None
        except RuntimeError as exc:
            raise InjectDbError(f"OVN_Inject refused the change: {_describe(exc)}") from exc

    # ---- status ----------------------------------------------------------------

    def current_cfg(self, column: str) -> int:
        with self.ovsdb_connection.lock:
            rows = list(self.tables["Inject_Global"].rows.values())
            return int(getattr(rows[0], column)) if rows else 0

    def wait_cfg(self, column: str, cfg: int, timeout: float) -> bool:
        """Wait until Inject_Global.<column> >= cfg (the IDL thread keeps the row current)."""
        deadline = time.monotonic() + timeout
        while self.current_cfg(column) < cfg:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self.ovsdb_connection.stop()


def fetch_schema_helper(remote: str, schema_name: str, timeout: float) -> Any:
    """The schema as the server has it, with an error that says why it could not be had."""
    with Rpc(remote, timeout, schema_name) as rpc:
        try:
            schema_json = rpc.request("get_schema", [schema_name])
        except RpcError as exc:
            hint = (
                " (is it served there? 'ovsdb-server/add-db' adds a database)"
                if "unknown" in str(exc.error)
                else ""
            )
            raise InjectDbError(
                f"cannot reach {schema_name}: {rpc.remote} has no database {schema_name}{hint}"
            ) from None
    return ovs.db.idl.SchemaHelper(None, schema_json)


class HookedOvsdbIdl(idlthread.HookedIdl, connection.OvsdbIdl):
    """ovsdbapp's IDL whose thread also runs the group commit's hook (db.idlthread)."""


class LazyFlowsIdl(idlthread.HookedIdl, lazyidl.LazyRows, connection.OvsdbIdl):
    """ovsdbapp's IDL with db.lazyidl's update handling: a flow row stays JSON until a column is read.

    For a writer that reads a few columns of the flows it inserts (the
    gateway's index), not the whole echo of each.
    """

    lazy_tables = frozenset({"Service_Flow"})


def open_idl(
    remote: str,
    schema_name: str,
    tables: Mapping[str, Sequence[str]] | None,
    timeout: float,
    idl_class: type[connection.OvsdbIdl] = connection.OvsdbIdl,
) -> connection.Connection:
    """An ovsdbapp connection monitoring ``tables`` (table -> columns; all columns if empty)."""
    try:
        helper = fetch_schema_helper(remote, schema_name, timeout)
        if tables is None:
            helper.register_all()
        else:
            for table, columns in tables.items():
                if columns:
                    helper.register_columns(table, list(columns))
                else:
                    helper.register_table(table)
        idl = idl_class(remote, helper)
        conn = connection.Connection(idl, timeout)
        conn.start()
    except OvnInjectError:
        raise
    except exceptions.TimeoutException:
        raise InjectDbError(
            f"{schema_name} at {remote} did not answer within {timeout:g} s (a larger --timeout?)"
        ) from None
    except Exception as exc:
        raise InjectDbError(f"cannot reach {schema_name} at {remote}: {_describe(exc)}") from exc
    return conn


def _describe(exc: Exception) -> str:
    try:
        text = str(exc).strip()
    except Exception:  # ovsdbapp's exceptions can fail to print themselves
        text = ""
    return (text or type(exc).__name__).splitlines()[0]


def connect(remote: str, timeout: float = DEFAULT_TIMEOUT, lazy_flows: bool = False) -> InjectDbApiIdlImpl:
    """The API on OVN_Inject at ``remote``; ``lazy_flows``: flow rows stay JSON until read (LazyFlowsIdl)."""
    idl_class = LazyFlowsIdl if lazy_flows else HookedOvsdbIdl
    conn = open_idl(remote, INJECT_DB_NAME, None, timeout, idl_class)
    return InjectDbApiIdlImpl(conn, start=False)
