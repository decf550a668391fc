"""Errors of the logical-flow language: every one says where (column) and what was expected."""

from __future__ import annotations

from ovn_inject.errors import OvnInjectError


class LanguageError(OvnInjectError):
    """A match or actions string that OVN's language (or our stricter rules) refuses.

    ``column`` is 1-based (0 when the error is about a tree built in code, with
    no text behind it); ``excerpt`` shows the text with a caret under the column.
    """

    def __init__(self, reason: str, text: str = "", column: int = 0, hint: str = "") -> None:
        self.reason = reason
        self.text = text
        self.column = column
        self.hint = hint
        #: which text of a flow it is about ("match" or "actions"), when the caller knows
        self.where = ""
        where = f" at column {column}" if column else ""
        tail = f"; {hint}" if hint else ""
        super().__init__(f"{reason}{where}{tail}")

    @property
    def excerpt(self) -> str:
        if not self.column:
            return self.text
        return f"{self.text}\n{' ' * (self.column - 1)}^"


class ParseError(LanguageError):
    """The text does not follow the grammar (or names a field that does not exist)."""


class TypeCheckError(LanguageError):
    """The text parses but combines fields, operators and constants in a way that is refused."""


class ReleaseError(OvnInjectError):
    """An OVN release (or SB schema version) that ovn-inject has no language table for."""
