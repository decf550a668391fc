"""ovn-inject: Topology Service Injection for OVN."""

import sys

__version__ = "0.1.0"

# os-ken 3.x (the OpenFlow wire format, and osken-manager for OpenFlow apps) brings eventlet into
# the environment. python-ovs's poller imports eventlet when it is installed, only to ask whether
# select() is monkey-patched; nothing of ours patches it, so the answer is no, and the import cost
# every command a third of a second (and asyncio). Answer for it: no process of ours uses eventlet
# (os-ken's parsers do not; osken-manager runs as a process of its own).
# eventlet warns that it is deprecated when imported, and only then: blocked here, it never is in
# a process of ours (a filter for that warning would compile a regex, importing re: 5 ms of the
# thin client of 'ovn-inject --detach').
sys.modules.setdefault("eventlet", None)  # type: ignore[arg-type]
