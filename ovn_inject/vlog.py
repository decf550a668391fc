"""Logging like OVS's vlog: ``time|seq|module|level|message``, per-module levels, rate limits.

OVN operators read, grep and tune every daemon's log the same way
(``-vconsole:off``, ``-vfile:dbg``, ``ovn-appctl vlog/set northd:dbg``); our
daemons follow suit on top of Python's logging. A module is the last part of
an ``ovn_inject.*`` logger's name (``northd``, ``gate``, ``gateway``...); other
libraries' loggers are modules named after their package, quieter by default.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ovn_inject.errors import OvnInjectError

#: OVS's level names, lowest first, with the Python level each one lets through.
LEVELS: dict[str, int] = {
    "off": logging.CRITICAL + 10,
    "emer": logging.CRITICAL,
    "err": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "dbg": logging.DEBUG,
}
DESTINATIONS = ("console", "file")
#: Where ovn-inject's own loggers live; records of other loggers are "foreign".
ROOT = "ovn_inject"
#: ovn-inject's modules, listed by ``vlog/list`` even before they logged anything.
MODULES = ("daemon", "northd", "sbwriter", "gate", "gateway", "ofswitch", "metrics", "unixctl")
DEFAULT_LEVEL = "info"
#: Libraries (uvicorn, ovsdbapp...) say little unless asked.
FOREIGN_LEVEL = "warn"


class VlogError(OvnInjectError):
    """A bad ``-v``/``vlog/set`` specification."""


def module_of(logger_name: str) -> str:
    if logger_name == ROOT:
        return "daemon"
    if logger_name.startswith(ROOT + "."):
        return logger_name.rsplit(".", 1)[1]
    return logger_name.split(".", 1)[0] or "root"


class _OvsFormatter(logging.Formatter):
    """``2026-01-01T00:00:00.000Z|00001|northd|INFO|message``, with a sequence number per process."""

    NAMES = {
        logging.DEBUG: "DBG",
        logging.INFO: "INFO",
        logging.WARNING: "WARN",
        logging.ERROR: "ERR",
        logging.CRITICAL: "EMER",
    }

    def __init__(self) -> None:
        super().__init__()
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def format(self, record: logging.LogRecord) -> str:
        seq = getattr(record, "ovs_seq", None)
        if seq is None:  # one number per message, whichever destinations it goes to
            with self._lock:
                seq = record.ovs_seq = next(self._seq)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        level = self.NAMES.get(record.levelno, record.levelname)
        text = f"{stamp}.{millis:03d}Z|{seq:05d}|{module_of(record.name)}|{level}|{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


@dataclass
class Vlog:
    """Levels per module and destination, and the handlers that apply them."""

    levels: dict[str, dict[str, int]] = field(default_factory=dict)
    defaults: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(DESTINATIONS, LEVELS[DEFAULT_LEVEL])
    )
    log_file: Path | None = None
    handlers: dict[str, logging.Handler] = field(default_factory=dict)

    def level(self, module: str, destination: str) -> int:
        if module in self.levels:
            return self.levels[module][destination]
        if module in MODULES:
            return self.defaults[destination]
        return max(self.defaults[destination], LEVELS[FOREIGN_LEVEL])

    def modules(self) -> list[str]:
        seen = {module_of(name) for name in logging.Logger.manager.loggerDict if name.startswith(ROOT)}
        return sorted(set(MODULES) | seen | set(self.levels))

    def set(self, spec: str) -> None:
        """Apply one OVS spec: ``[MODULE|any][:DESTINATION|any][:LEVEL]`` in any order, ``:``-separated."""
        module, destination, level = "any", "any", "dbg"
        for word in (w.strip().lower() for w in spec.replace(",", ":").split(":")):
            if not word:
                continue
            if word in LEVELS:
                level = word
            elif word in (*DESTINATIONS, "any"):
                destination = word if destination == "any" or word != "any" else destination
            elif word == "syslog":
                raise VlogError("syslog is not a destination of ovn-inject's daemons (use console or file)")
            elif word in self.modules() or word == "any":
                module = word
            else:
                raise VlogError(
                    f"unknown module, destination or level '{word}' in '{spec}' (modules: "
                    f"{', '.join(self.modules())}; destinations: {', '.join(DESTINATIONS)}; "
                    f"levels: {', '.join(LEVELS)})"
                )
        destinations = DESTINATIONS if destination == "any" else (destination,)
        for dest in destinations:
            if module == "any":
                self.defaults[dest] = LEVELS[level]
                for levels in self.levels.values():
                    levels[dest] = LEVELS[level]
            else:
                current = self.levels.setdefault(module, {d: self.level(module, d) for d in DESTINATIONS})
                current[dest] = LEVELS[level]
        self._apply()

    def listing(self) -> str:
        """``vlog/list``: each module's level per destination, as OVS prints it."""
        names = {number: name for name, number in LEVELS.items()}
        lines = [f"{'':<16}{'console':>9}{'file':>9}", f"{'':<16}{'-------':>9}{'------':>9}"]
        for module in self.modules():
            console, file = (names[self.level(module, d)].upper() for d in DESTINATIONS)
            lines.append(f"{module:<16}{console:>9}{file:>9}")
        if self.log_file is not None:
            lines.append(f"log file: {self.log_file}")
        return "\n".join(lines) + "\n"

    def _apply(self) -> None:
        lowest = min(
            [self.defaults[d] for d in DESTINATIONS]
            + [level for levels in self.levels.values() for level in levels.values()]
        )
        logging.getLogger().setLevel(lowest)
        logging.getLogger(ROOT).setLevel(lowest)

    def install(self, log_file: Path | None) -> None:
        """Log to stderr and, with ``log_file``, to that file; replace whatever was there."""
        self.log_file = log_file
        formatter = _OvsFormatter()
        root = logging.getLogger()
        for handler in self.handlers.values():
            root.removeHandler(handler)
        self.handlers = {"console": logging.StreamHandler(sys.stderr)}
        if log_file is not None:
            self.handlers["file"] = logging.FileHandler(log_file)
        for destination, handler in self.handlers.items():
            handler.setFormatter(formatter)
            handler.addFilter(_Filter(self, destination))
            root.addHandler(handler)
        # Records of ovn-inject's loggers reach the handlers above through the root logger only.
        logging.getLogger(ROOT).handlers[:] = []
        self._apply()

    def reopen(self) -> None:
        """``vlog/reopen``: after logrotate moved the file away."""
        handler = self.handlers.get("file")
        if isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                handler.close()
                handler.stream = handler._open()
            finally:
                handler.release()


class _Filter(logging.Filter):
    def __init__(self, vlog: Vlog, destination: str) -> None:
        super().__init__()
        self.vlog, self.destination = vlog, destination

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.vlog.level(module_of(record.name), self.destination)


#: The process's vlog: one per process, like OVS's.
VLOG = Vlog()


def setup(log_file: Path | None, specs: tuple[str, ...] = ()) -> Vlog:
    """Install the handlers, then apply ``-v`` specs in order (``-vconsole:off``, ``-vnorthd:dbg``)."""
    VLOG.install(log_file)
    for spec in specs:
        VLOG.set(spec)
    return VLOG


class RateLimit:
    """OVS's VLOG_RATE_LIMIT: at most ``burst`` messages at once, then ``per_minute``.

    Messages over the limit are counted and reported with the next one let
    through, so a condition that repeats every retry does not flood the log.
    """

    def __init__(
        self, per_minute: float = 5, burst: int = 5, clock: Callable[[], float] | None = None
    ) -> None:
        self.per_minute, self.burst = per_minute, burst
        self._clock = clock or time.monotonic
        self._tokens = float(burst)
        self._last = self._clock()
        self._dropped = 0
        self._first_drop = 0.0
        self._last_drop = 0.0

    def allow(self) -> str | None:
        """None when this message must be dropped, else a note about the ones dropped before it."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_minute / 60)
        self._last = now
        if self._tokens < 1:
            if not self._dropped:
                self._first_drop = now
            self._dropped += 1
            self._last_drop = now
            return None
        self._tokens -= 1
        note = ""
        if self._dropped:
            note = (
                f" (dropped {self._dropped} log messages in last {now - self._first_drop:.0f} seconds, "
                f"most recently {now - self._last_drop:.0f} seconds ago, due to excessive rate)"
            )
            self._dropped = 0
        return note

    def log(self, logger: logging.Logger, level: int, message: str, *args: object) -> None:
        note = self.allow()
        if note is not None:
            logger.log(level, message + note, *args)
