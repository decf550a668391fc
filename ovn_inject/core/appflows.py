"""Service_Flow rows -> the compiler's AppFlow objects, parsed once and cached.

A flow's text was checked when it was written; the daemon checks it again
(OVN_Inject may have been written by hand, or the policy may have changed)
and prints it from the parsed tree. ``next;`` becomes the hook's
continuation by splicing parsed action nodes, never by editing text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ovn_inject.core.hooks import APP_PRIORITY_MAX, Pipeline
from ovn_inject.core.policy import CheckedFlow, check_flow
from ovn_inject.core.reach import Write
from ovn_inject.core.status import FlowState, Status
from ovn_inject.errors import OvnInjectError
from ovn_inject.lang import Actions, Context, Release, format_actions, format_match, parse_actions
from ovn_inject.lang import ast as n


@lru_cache(maxsize=256)
def _continuation(text: str, release: Release | None) -> tuple[n.Action, ...]:
    """The continuation's actions; the release bounds ``next(table=N)`` (26.03's tables go past 29)."""
    return parse_actions(text, Context(release=release)).items


def _splice(actions: Actions, continuation: tuple[n.Action, ...]) -> Actions:
    items: list[n.Action] = []
    for action in actions.items:
        if isinstance(action, n.Next) and action.table is None and action.pipeline is None:
            items.extend(continuation)
        elif isinstance(action, n.Clone):
            items.append(n.Clone(_splice(action.body, continuation)))
        else:
            items.append(action)
    return Actions(tuple(items))


@dataclass(frozen=True, eq=False)
class _Checked:
    """The outcome of checking one (match, actions) text per pipeline."""

    flow: dict[Pipeline, CheckedFlow | str]
    release: Release | None = None

    def get(self, pipeline: Pipeline) -> CheckedFlow | str:
        return self.flow[pipeline]


@dataclass(frozen=True, eq=False, slots=True)
class ServiceFlow:
    """One Service_Flow row as the compiler sees it (implements compiler.AppFlow).

    Compared by identity: the cache hands the same object for an unchanged
    row, which is what lets the compiler replay the chains it sits in. Its
    printed match and actions are kept, as printing from the tree is costly.
    """

    uuid: str
    service: str
    attachment: str | None
    priority: int
    checked: _Checked
    _rendered: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def ports(self) -> frozenset[str]:
        for outcome in self.checked.flow.values():
            if isinstance(outcome, CheckedFlow):
                return outcome.ports
        return frozenset()

    @property
    def writes(self) -> tuple[Write, ...]:
        for outcome in self.checked.flow.values():
            if isinstance(outcome, CheckedFlow):
                return outcome.writes
        return ()

    def problem(self, pipeline: Pipeline) -> str | None:
        outcome = self.checked.get(pipeline)
        return outcome if isinstance(outcome, str) else None

    def _flow(self) -> CheckedFlow:
        for outcome in self.checked.flow.values():
            if isinstance(outcome, CheckedFlow):
                return outcome
        raise AssertionError("render of a flow that failed its checks")

    def render_match(self) -> str:
        found = self._rendered.get("")
        if found is None:
            found = self._rendered[""] = format_match(self._flow().match)
        return found

    def render_actions(self, continuation: str) -> str:
        found = self._rendered.get(continuation)
        if found is None:
            spliced = _splice(self._flow().actions, _continuation(continuation, self.checked.release))
            found = self._rendered[continuation] = format_actions(spliced)
        return found


#: One Service_Flow row, read: the flow (or the status of one that fails everywhere), its expiry.
_Entry = tuple["ServiceFlow | Status | None", "float | None"]


class FlowCache:
    """Service_Flow rows, parsed and checked once; re-read only when a row changes.

    A check is kept while a row uses it; once the cache holds twice what the
    rows use, what they no longer use goes (amortized O(1) a row), so that
    memory stays bounded while flows come and go.
    """

    def __init__(self, release: Release | None = None) -> None:
        self.release = release  # the language flows are checked in (None: the default)
        self._checked: dict[tuple[str, str], _Checked] = {}
        self._rows: dict[uuid.UUID, _Entry] = {}
        self._row_keys: dict[uuid.UUID, tuple[str, str]] = {}

    def check(self, match: str, actions: str) -> _Checked:
        key = (match, actions)
        found = self._checked.get(key)
        if found is None:
            outcome: dict[Pipeline, CheckedFlow | str] = {}
            for pipeline in Pipeline:
                try:
                    outcome[pipeline] = check_flow(match, actions, [pipeline], self.release)
                except OvnInjectError as exc:
                    outcome[pipeline] = str(exc)
            found = self._checked[key] = _Checked(outcome, self.release)
        return found

    def update(self, rows: Mapping[uuid.UUID, Any], changed: Iterable[uuid.UUID] | None) -> None:
        """Re-read the rows in ``changed`` (every row if None); forget rows that are gone."""
        if changed is None:
            self._row_keys = {}
            self._rows = {key: self._read(key, row) for key, row in rows.items()}
        else:
            for key in changed:
                row = rows.get(key)
                if row is None:
                    self._rows.pop(key, None)
                    self._row_keys.pop(key, None)
                else:
                    self._rows[key] = self._read(key, row)
        if len(self._checked) > 2 * len(self._row_keys) + 1024:
            used = set(self._row_keys.values())
            self._checked = {key: found for key, found in self._checked.items() if key in used}

    def _read(self, key: uuid.UUID, row: Any) -> _Entry:
        expiry = _expiry(row)
        match, actions = row.match, row.actions
        self._row_keys[key] = (match, actions)
        # A plain uuid (schema 1.4.0), or the row of a weak reference (before it).
        service = row.service[0] if row.service else None
        if service is None:
            return None, expiry
        priority = int(row.priority)
        if not 0 <= priority <= APP_PRIORITY_MAX:
            # The schema allows 65535; a row beyond the band would run above another hook's flows.
            reason = f"priority: {priority} is outside 0..{APP_PRIORITY_MAX}"
            return Status(FlowState.INVALID, reason), expiry
        checked = self.check(match, actions)
        problems = [o for o in checked.flow.values() if isinstance(o, str)]
        if len(problems) == len(checked.flow):
            return Status(FlowState.INVALID, problems[0]), expiry
        attachment = row.attachment[0] if row.attachment else None
        flow = ServiceFlow(
            str(row.uuid),
            str(getattr(service, "uuid", service)),
            str(attachment.uuid) if attachment is not None else None,
            priority,
            checked,
        )
        return flow, expiry

    def load(
        self, rows: Mapping[uuid.UUID, Any], now: float, changed: Iterable[uuid.UUID] | None = None
    ) -> tuple[list[ServiceFlow], dict[str, Status], float | None]:
        """Live flows, the status of flows that fail their checks everywhere, the next expiry time."""
        self.update(rows, changed)
        flows: list[ServiceFlow] = []
        errors: dict[str, Status] = {}
        next_expiry: float | None = None
        for key, (item, expiry) in self._rows.items():
            if expiry is not None:
                # An expiry already past counts too: the daemon wakes at once to delete the row.
                next_expiry = expiry if next_expiry is None else min(next_expiry, expiry)
                if expiry <= now:
                    continue
            if isinstance(item, ServiceFlow):
                flows.append(item)
            elif item is not None:
                errors[str(key)] = item
        return flows, errors, next_expiry

    def expired(self, now: float) -> list[uuid.UUID]:
        """The rows whose hard timeout has passed, from what was read (no row is touched)."""
        return [key for key, (_, expiry) in self._rows.items() if expiry is not None and expiry <= now]


def _expiry(row: Any) -> float | None:
    """When a flow with a hard timeout goes (``created`` is in milliseconds)."""
    timeout = int(row.hard_timeout)
    return int(row.created) / 1000 + timeout if timeout > 0 else None
