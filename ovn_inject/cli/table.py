"""Every ``ovn-inject`` command as data: name, module, section, one-line help, the global flags it takes.

``--help``, shell completion and the man page read this table and import no
command module; the group imports a command's module when it runs it.
tests/unit/test_cli_table.py checks that each entry's help is its command's own.
"""

from __future__ import annotations

from dataclasses import dataclass

DATABASE = "Database commands"
INSPECT = "Inspecting the pipeline"
DAEMONS = "Daemons"
DEPLOY = "Deployment"
DEV = "Sandbox and development tools"
SECTIONS = (DATABASE, INSPECT, DAEMONS, DEPLOY, DEV)
#: Sections of commands that run once and exit (the others run for long: daemons, the sandbox).
ONE_SHOT = frozenset({DATABASE, INSPECT})


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    attribute: str
    section: str
    help: str
    #: Global flags with a meaning for this command ("may-exist", "if-exists").
    flags: frozenset[str] = frozenset()
    #: Whether it changes OVN_Inject (audited; offers --wait).
    writes: bool = False


_MAY, _IF = frozenset({"may-exist"}), frozenset({"if-exists"})

COMMANDS: tuple[Entry, ...] = (
    Entry(
        "init", "dbctl_cmd", "init", DATABASE, "Create the Inject_Global row if it is missing.", writes=True
    ),
    Entry(
        "sync",
        "dbctl_cmd",
        "sync",
        DATABASE,
        "With --wait=sb|hv, wait until every earlier change is in SB / on every chassis.",
        writes=True,
    ),
    Entry(
        "service-add",
        "service_cmd",
        "service_add",
        DATABASE,
        "Register a network service for one tenant.",
        _MAY,
        True,
    ),
    Entry(
        "service-del",
        "service_cmd",
        "service_del",
        DATABASE,
        "Delete a service with all its attachments, flows and tokens.",
        _IF,
        True,
    ),
    Entry(
        "service-set",
        "service_cmd",
        "service_set",
        DATABASE,
        "Change a service's description, enabled flag, flow quota or OpenFlow budget.",
        _IF,
        True,
    ),
    Entry(
        "service-set-openflow",
        "ofswitch_cmd",
        "service_set_openflow",
        DATABASE,
        "Set SERVICE's OpenFlow endpoints; no TARGET: the service is no switch.",
        frozenset(),
        True,
    ),
    Entry("service-list", "service_cmd", "service_list", DATABASE, "List the services."),
    Entry(
        "service-show", "service_cmd", "service_show", DATABASE, "Show one service with its attachments.", _IF
    ),
    Entry(
        "attach-add",
        "service_cmd",
        "attach_add",
        DATABASE,
        "Attach SERVICE to KIND:NAME (lsp, ls, lr, lrp, pg) at a hook point.",
        _MAY,
        True,
    ),
    Entry(
        "attach-del",
        "service_cmd",
        "attach_del",
        DATABASE,
        "Detach SERVICE from KIND:NAME; the flows bound to that attachment go with it.",
        _IF,
        True,
    ),
    Entry(
        "attach-list",
        "service_cmd",
        "attach_list",
        DATABASE,
        "List the attachments of SERVICE (or of every service).",
    ),
    Entry(
        "flow-add",
        "flow_cmd",
        "flow_add",
        DATABASE,
        "Add one flow to SERVICE at one attachment (or --all-attachments); --dry-run compiles only.",
        writes=True,
    ),
    Entry(
        "flow-del",
        "flow_cmd",
        "flow_del",
        DATABASE,
        "Delete a flow of SERVICE by ID, or the flows matching --cookie.",
        _IF,
        True,
    ),
    Entry("flow-list", "flow_cmd", "flow_list", DATABASE, "List the flows of SERVICE (or of every service)."),
    Entry(
        "flow-replace",
        "flow_cmd",
        "flow_replace",
        DATABASE,
        "Replace every flow of SERVICE with those in FILE (JSON lines or a JSON array).",
        writes=True,
    ),
    Entry(
        "token-create",
        "token_cmd",
        "token_create",
        DATABASE,
        "Create a bearer token for SERVICE; prints the secret once.",
        writes=True,
    ),
    Entry("token-list", "token_cmd", "token_list", DATABASE, "List tokens (public ids only, never secrets)."),
    Entry(
        "token-revoke",
        "token_cmd",
        "token_revoke",
        DATABASE,
        "Revoke a token by public id or uuid.",
        _IF,
        True,
    ),
    Entry(
        "tenant-token-create",
        "tenant_cmd",
        "tenant_token_create",
        DATABASE,
        "Create a tenant credential (self-service API); prints the secret once.",
        writes=True,
    ),
    Entry("tenant-token-list", "tenant_cmd", "tenant_token_list", DATABASE, "List tenant credentials."),
    Entry(
        "tenant-token-revoke",
        "tenant_cmd",
        "tenant_token_revoke",
        DATABASE,
        "Revoke a tenant credential; its services stay.",
        _IF,
        True,
    ),
    Entry("list", "dbctl_cmd", "list_", DATABASE, "List rows of TABLE (all, or the RECORDS given).", _IF),
    Entry(
        "find",
        "dbctl_cmd",
        "find",
        DATABASE,
        "Rows of TABLE meeting every CONDITION: COLUMN[:KEY] OP VALUE (OP as in ovn-nbctl: = < {<=} ...).",
    ),
    Entry(
        "get", "dbctl_cmd", "get", DATABASE, "Print the value of each COLUMN (or COLUMN:KEY) of RECORD.", _IF
    ),
    Entry(
        "show",
        "show_cmd",
        "show",
        INSPECT,
        "Services per tenant, their attachments in order per element and hook, flow counts by status.",
    ),
    Entry(
        "hook-list",
        "dbctl_cmd",
        "hook_list",
        INSPECT,
        "The hook points, their host stage, table, band and cursor on the connected OVN.",
    ),
    Entry(
        "lflow-list",
        "lflow_cmd",
        "lflow_list",
        INSPECT,
        "Our Logical_Flow rows in SB grouped by datapath and hook (of SERVICE or DATAPATH).",
    ),
    Entry(
        "trace",
        "lflow_cmd",
        "trace",
        INSPECT,
        "Run ovn-trace on DATAPATH MICROFLOW and name the service and flow of each hook stage.",
    ),
    Entry("northd", "northd_cmd", "northd", DAEMONS, "Compile services, attachments and flows into SB."),
    Entry("gateway", "gateway_cmd", "gateway", DAEMONS, "Serve the token-secured HTTP API for services."),
    Entry("sbgate", "sbgate_cmd", "sbgate", DAEMONS, "Proxy ovn-northd's SB connection, hiding our rows."),
    Entry(
        "ofswitch",
        "ofswitch_cmd",
        "ofswitch",
        DAEMONS,
        "Serve each service with OpenFlow targets as a virtual OpenFlow 1.3 switch (table 0 = its hook).",
    ),
    Entry(
        "systemd-units",
        "units_cmd",
        "systemd_units",
        DEPLOY,
        "Write systemd units for OVN_Inject's database, the gate, the daemon and the gateway.",
    ),
    Entry(
        "northd-db-params",
        "units_cmd",
        "northd_db_params",
        DEPLOY,
        "Copy ovn-northd's database options with SB pointed at the gate.",
    ),
    Entry("db-create", "units_cmd", "db_create", DEPLOY, "Create OVN_Inject's database file (or cluster)."),
    Entry("sandbox", "sandbox_cmd", "sandbox", DEV, "Start, stop and inspect a local OVN to try things on."),
    Entry("demo", "demo_cmd", "demo", DEV, "Run the demo scenario on a sandbox."),
    Entry("parse", "parse_cmd", "parse", DEV, "Check a match or actions text as ovn-controller would."),
)

_BY_NAME = {e.name: e for e in COMMANDS}


def entry(name: str) -> Entry | None:
    return _BY_NAME.get(name)
