"""The states a flow and an attachment can be in, as the daemon writes them to OVN_Inject.

One place for the strings the schema's ``status`` columns hold; every
process compares with these members (a StrEnum equals its string).
"""

from __future__ import annotations

from enum import StrEnum

from ovn_inject.records import record


class FlowState(StrEnum):
    PENDING = "pending"  # written, not compiled yet (or its attachment is not active)
    INSTALLED = "installed"  # its hook lflows are in SB
    INVALID = "invalid"  # it cannot be compiled; the reason says why


class AttachmentState(StrEnum):
    PENDING = "pending"  # not compiled yet, or its service is disabled
    ACTIVE = "active"  # its scope is compiled into hook lflows
    INVALID = "invalid"  # its target, hook or cursor does not work; the reason says why


class Verdict(StrEnum):
    """What a dry run (``/v1/flows/validate``, ``flow-add --dry-run``) says of a flow it did not write."""

    VALID = "valid"  # it would be installed as shown
    PENDING = "pending"  # it is valid but would wait (no active attachment, ...); the reason says why
    INVALID = "invalid"  # the compiler would refuse it; the reason says why


#: The verdict of a dry run on a flow the compiler gave ``state``: never "installed", nothing was.
VERDICTS = {
    FlowState.PENDING: Verdict.PENDING,
    FlowState.INSTALLED: Verdict.VALID,
    FlowState.INVALID: Verdict.INVALID,
}


@record(frozen=True)
class Status:
    """A state with the reason shown next to it (empty when all is well)."""

    state: FlowState | AttachmentState
    reason: str = ""
