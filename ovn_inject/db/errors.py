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
    """Text OVSDB cannot hold: ovsdb-server drops the connection of a transaction that carries it."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what} {reason}")
        self.what = what


def unstorable(text: str) -> str | None:
    """Why OVSDB cannot store ``text`` (a NUL, or a lone surrogate, which is not Unicode), or None.

    ovsdb-server refuses either by dropping the connection, and the IDL then resends the
    transaction on every reconnection until it times out, stalling every write behind it.
    """
    if "\x00" in text:
        return "contains a NUL character (U+0000), which an OVSDB string cannot hold"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return f"contains a lone surrogate (U+{code:04X}), which is not Unicode text an OVSDB string can hold"
    return None


def storable(text: str, what: str) -> str:
    """``text``, if OVSDB can store it; checked before a transaction carries it (see :func:`unstorable`)."""
    reason = unstorable(text)
    if reason is not None:
        raise UnstorableTextError(what, reason)
    return text
