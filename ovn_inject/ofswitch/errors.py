"""The one error a flow_mod or request can get: an OpenFlow ERROR with its type and code."""

from __future__ import annotations

from ovn_inject.errors import OvnInjectError


class OfError(OvnInjectError):
    """Answered with OFPT_ERROR (``kind``/``code`` as OpenFlow 1.3 numbers them); ``reason`` is logged."""

    def __init__(self, kind: int, code: int, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.code = code
        self.reason = reason
