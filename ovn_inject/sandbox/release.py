"""Which OVN release the sandbox runs and what its NB schema offers.

Tests whose expectations changed between releases, and the optional features
of the ``full`` topology, key off these two facts rather than guessing: the
release comes from ``ovn-nbctl --version`` (the same packages as the daemons),
the features from the NB schema file the sandbox creates its NB database with.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import processes

_VERSION = re.compile(r"^ovn-nbctl (\d+)\.(\d+)\.(\d+)", re.MULTILINE)


@dataclass(frozen=True, order=True)
class Release:
    """An OVN release number, ordered (23.03.1 < 23.09.0 < 26.03.1)."""

    major: int
    minor: int
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor:02d}.{self.patch}"

    @property
    def series(self) -> str:
        """The release series operators name it by, e.g. ``25.03``."""
        return f"{self.major}.{self.minor:02d}"


def parse_version(text: str) -> Release:
    """The release in ``ovn-nbctl --version``'s output."""
    found = _VERSION.search(text)
    if found is None:
        raise SandboxError(f"cannot read an OVN release from 'ovn-nbctl --version': {text.strip()[:80]!r}")
    return Release(int(found[1]), int(found[2]), int(found[3]))


@functools.cache
def installed() -> Release:
    """The OVN release installed on this machine (the one a sandbox runs)."""
    return parse_version(processes.run(["ovn-nbctl", "--version"]).stdout)


@functools.cache
def nb_schema() -> dict[str, Any]:
    """The installed NB schema, as the JSON document ovsdb-server reads."""
    loaded: dict[str, Any] = json.loads(processes.find_schema("ovn-nb.ovsschema").read_text())
    return loaded


def schema_has(schema: dict[str, Any], need: str) -> bool:
    """Whether ``schema`` has ``Table``, ``Table.column`` or ``Table.column=value`` (a value of its enum)."""
    path, _, value = need.partition("=")
    table_name, _, column_name = path.partition(".")
    table = schema["tables"].get(table_name)
    if table is None or not column_name:
        return table is not None
    column = table["columns"].get(column_name)
    if column is None or not value:
        return column is not None
    key = column["type"]["key"] if isinstance(column["type"], dict) else column["type"]
    enum = key.get("enum") if isinstance(key, dict) else None
    if enum is None:
        return False
    values = enum[1] if isinstance(enum, list) and enum[0] == "set" else [enum]
    return value in values


#: The first release whose northd deletes a foreign Logical_Flow row only on a full recompute
#: (earlier ones reconcile the whole table on every change, so the row goes at once).
LAZY_FOREIGN_DELETE = Release(23, 9, 0)
