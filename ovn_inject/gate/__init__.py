"""The northd gate: an OVSDB proxy on ovn-northd's SB connection that hides our rows."""

from ovn_inject.gate.framing import FramingError, JsonStreamFramer
from ovn_inject.gate.proxy import NorthdGate
from ovn_inject.gate.session import GateSession

__all__ = ["FramingError", "GateSession", "JsonStreamFramer", "NorthdGate"]
