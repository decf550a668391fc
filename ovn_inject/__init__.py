"""ovn-inject: Topology Service Injection for OVN."""

__version__ = "0.1.0"
