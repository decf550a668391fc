"""Names shared by every component: the marks on our rows and our defaults."""

from __future__ import annotations

#: external_ids key that marks a Southbound row as ovn-inject's. The northd
#: gate hides every row that carries it; the compiler sets it on every row
#: it writes. Its value is free (the compiler stores its own version there).
OWNER_KEY = "ovn-inject"
#: The value the compiler writes under OWNER_KEY (the gate hides any value;
#: the daemon's monitor condition and discovery's exclusion match this one).
OWNER_VALUE = "1"

#: external_ids key of NB rows that names their tenant (as OpenStack writes it).
DEFAULT_TENANT_KEY = "neutron:project_id"

#: Environment variable that names the OVN_Inject database, like OVN_NB_DB.
INJECT_DB_ENV = "OVN_INJECT_DB"

#: Name of the OVN_Inject database in its schema.
INJECT_DB_NAME = "OVN_Inject"

#: Environment variable with the gateway's base URL, as ``ovn-inject sandbox env`` exports it.
GATEWAY_ENV = "OVN_INJECT_GATEWAY"

#: Environment variable naming the control socket of ``ovn-inject --detach``: set, every
#: ``ovn-inject`` call has that daemon run its command (as ``OVN_NB_DAEMON`` for ovn-nbctl).
DAEMON_ENV = "OVN_INJECT_DAEMON"

#: Environment variable naming the CLI's audit log (``ovn-inject --audit-log``).
AUDIT_LOG_ENV = "OVN_INJECT_AUDIT_LOG"

#: Environment variables naming the OVN databases, as OVN's own tools read them.
NB_DB_ENV = "OVN_NB_DB"
SB_DB_ENV = "OVN_SB_DB"

#: Environment variables the CLI and the daemons read for SSL when an option is not given.
SSL_ENV = {
    "private_key": "OVN_INJECT_PRIVATE_KEY",
    "certificate": "OVN_INJECT_CERTIFICATE",
    "ca_cert": "OVN_INJECT_CA_CERT",
    "bootstrap_ca_cert": "OVN_INJECT_BOOTSTRAP_CA_CERT",
}

#: The sandbox directory that ``ovn-inject sandbox ...`` uses by default (``sandbox env`` sets it).
SANDBOX_DIR_ENV = "OVN_INJECT_SANDBOX_DIR"
