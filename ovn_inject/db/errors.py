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


class UnstorableTextError(InjectDbError):
    """Text OVSDB cannot hold: ovsdb-server drops the connection of a transaction that carries a NUL."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} contains a NUL character (U+0000), which an OVSDB string cannot hold")
        self.what = what


def storable(text: str, what: str) -> str:
    """``text``, if OVSDB can store it: checked before a transaction carries it, since a NUL
    would have ovsdb-server drop the connection, and the IDL resend it, until the write times out."""
    if "\x00" in text:
        raise UnstorableTextError(what)
    return text
