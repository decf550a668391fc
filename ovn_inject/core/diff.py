"""Desired rows vs the rows we own in SB: what to insert and what to delete (pure).

Row uuids are derived from row content, so an unchanged row keeps its uuid
and a reconcile is a set difference; a changed row is a delete plus an insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Set
from dataclasses import dataclass

from ovn_inject.core.compiler import LogicalFlow


@dataclass(frozen=True)
class Delta:
    insert: tuple[LogicalFlow, ...]
    delete: tuple[uuid.UUID, ...]

    def __bool__(self) -> bool:
        return bool(self.insert or self.delete)


def diff(desired: Mapping[uuid.UUID, LogicalFlow], actual: Set[uuid.UUID]) -> Delta:
    insert = tuple(desired[u] for u in sorted(desired.keys() - actual))
    delete = tuple(sorted(actual - desired.keys()))
    return Delta(insert, delete)
