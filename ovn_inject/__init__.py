"""ovn-inject: Topology Service Injection for OVN."""

import warnings

__version__ = "0.1.0"

# os-ken 3.x (the OpenFlow wire format, and osken-manager for OpenFlow apps) brings eventlet,
# which python-ovs imports when present; its deprecation notice would precede every command.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
