"""Checks of the arguments of some generic actions, where OVN validates them when it parses.

Each checker takes the argument words of :class:`~ovn_inject.lang.ast.Generic`
and returns an error message or None. Actions without a checker are checked
for balanced brackets only (what OVN refuses beyond that surfaces in the
corpus test against ovn-controller).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

LOG_VERDICTS = frozenset(("drop", "reject", "allow"))
LOG_SEVERITIES = frozenset(("alert", "warning", "notice", "info", "debug"))
EVENTS = frozenset(("empty_lb_backends",))


def _pairs(words: tuple[str, ...]) -> list[tuple[str, str]] | str:
    """``key=value, key=value`` (commas optional) as pairs, or an error message."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        if words[i] == ",":
            i += 1
            continue
        if i + 2 > len(words) - 1 or words[i + 1] != "=":
            return f"expected key=value, found '{' '.join(words[i : i + 3])}'"
        pairs.append((words[i], words[i + 2]))
        i += 3
    return pairs


def _string(word: str) -> str | None:
    if not word.startswith('"'):
        return None
    try:
        value = json.loads(word)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def check_log(words: tuple[str, ...] | None) -> str | None:
    pairs = _pairs(words or ())
    if isinstance(pairs, str):
        return pairs
    verdict = None
    for key, value in pairs:
        if key == "verdict":
            if value not in LOG_VERDICTS:
                return f"unknown log verdict '{value}'; expected one of {', '.join(sorted(LOG_VERDICTS))}"
            verdict = value
        elif key == "severity":
            if value not in LOG_SEVERITIES:
                return f"unknown log severity '{value}'"
        elif key in ("name", "meter"):
            text = _string(value)
            if text is None:
                return f"log {key} must be a quoted string"
            if key == "name" and len(text.encode()) >= 64:
                return "log name must be shorter than 64 characters"
        else:
            return f"unknown log argument '{key}'"
    if verdict is None:
        return "log needs a verdict (verdict=drop, reject or allow)"
    return None


def check_trigger_event(words: tuple[str, ...] | None) -> str | None:
    pairs = _pairs(words or ())
    if isinstance(pairs, str):
        return pairs
    if not pairs or pairs[0][0] != "event":
        return 'trigger_event needs event="..." first'
    event = _string(pairs[0][1])
    if event not in EVENTS:
        return f"unknown event {pairs[0][1]}"
    for key, value in pairs[1:]:
        text = _string(value)
        if text is None:
            return f"trigger_event option {key} must be a quoted string"
        if key == "load_balancer":
            try:
                uuid.UUID(text)
            except ValueError:
                return f"load balancer '{text}' is not a UUID"
    return None


CHECKS: dict[str, Callable[[tuple[str, ...] | None], str | None]] = {
    "log": check_log,
    "trigger_event": check_trigger_event,
}
