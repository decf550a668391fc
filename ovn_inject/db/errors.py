"""Errors of the OVN_Inject database layer; each says what to do about it."""

from __future__ import annotations

from ovn_inject.errors import OvnInjectError


class InjectDbError(OvnInjectError):
    """OVN_Inject could not be reached or a transaction failed."""


class RowNotFoundError(InjectDbError):
    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(f"{what} not found{hint}")


class RowExistsError(InjectDbError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} already exists (use --may-exist to ignore this)")


class AmbiguousRecordError(InjectDbError):
    pass
