"""The one exception hierarchy of ovn-inject.

Every error a user can see derives from :class:`OvnInjectError`; its message
says what went wrong and, where possible, what to do about it. The CLI prints
``ovn-inject: <message>`` and exits 1 for any of them.
"""

from __future__ import annotations


class OvnInjectError(Exception):
    """Base of every error ovn-inject raises on purpose."""


class SandboxError(OvnInjectError):
    """A sandbox OVN could not be started, reached or stopped."""


class MissingBinaryError(SandboxError):
    """An OVN/OVS program is not installed."""

    def __init__(self, program: str) -> None:
        super().__init__(
            f"'{program}' is not installed or not on PATH; run 'make deps' "
            "(it installs ovn-central, ovn-host and openvswitch-switch)"
        )
        self.program = program


class CommandFailedError(OvnInjectError):
    """An external OVN/OVS command exited non-zero."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"'{' '.join(argv[:3])} ...' failed (exit {returncode}): {detail}")
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
