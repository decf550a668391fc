"""OVS-style logging: the line format, ``-v`` specs, and rate-limited warnings."""

from __future__ import annotations

import logging
import re

import pytest

from ovn_inject.vlog import LEVELS, RateLimit, Vlog, VlogError, module_of

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|(\d{5})\|(\w+)\|(DBG|INFO|WARN|ERR|EMER)\|(.*)$")


@pytest.fixture
def vlog(tmp_path):  # type: ignore[no-untyped-def]
    log = Vlog()
    log.install(tmp_path / "test.log")
    yield log
    for handler in log.handlers.values():
        logging.getLogger().removeHandler(handler)
        handler.close()


def lines(vlog: Vlog) -> list[tuple[str, ...]]:
    assert vlog.log_file is not None
    for handler in vlog.handlers.values():
        handler.flush()
    return [LINE.match(line).groups() for line in vlog.log_file.read_text().splitlines()]  # type: ignore[union-attr]


def test_lines_are_time_seq_module_level_message_numbered_once_per_message(vlog: Vlog) -> None:
    logging.getLogger("ovn_inject.northd").info("pass %d", 1)
    logging.getLogger("ovn_inject.gate").warning("hello")
    logging.getLogger("ovn_inject.gate").debug("not shown at the default level")
    assert lines(vlog) == [("00001", "northd", "INFO", "pass 1"), ("00002", "gate", "WARN", "hello")]


def test_specs_set_levels_per_module_and_destination(vlog: Vlog) -> None:
    vlog.set("gate:file:dbg")
    vlog.set("console:off")
    assert vlog.level("gate", "file") == LEVELS["dbg"] and vlog.level("northd", "file") == LEVELS["info"]
    assert vlog.level("gate", "console") == vlog.level("northd", "console") == LEVELS["off"]
    logging.getLogger("ovn_inject.gate").debug("now shown")
    assert lines(vlog) == [("00001", "gate", "DBG", "now shown")]
    vlog.set("dbg")  # bare -v: debug everywhere
    assert vlog.level("northd", "console") == LEVELS["dbg"]
    listing = vlog.listing().splitlines()
    assert listing[0].split() == ["console", "file"]
    assert "gate                  DBG      DBG" in listing
    with pytest.raises(VlogError, match="unknown module, destination or level 'nosuch'"):
        vlog.set("nosuch:dbg")
    with pytest.raises(VlogError, match="syslog"):
        vlog.set("syslog:dbg")


def test_other_libraries_are_quieter_by_default(vlog: Vlog) -> None:
    assert module_of("uvicorn.error") == "uvicorn" and module_of("ovn_inject") == "daemon"
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("uvicorn.error").warning("something")
    assert lines(vlog) == [("00001", "uvicorn", "WARN", "something")]


def test_rate_limit_lets_a_burst_through_then_reports_what_it_dropped() -> None:
    now = [0.0]
    limit = RateLimit(per_minute=6, burst=2, clock=lambda: now[0])
    assert [limit.allow() for _ in range(5)] == ["", "", None, None, None]
    now[0] = 10.0  # one token back (6 a minute)
    note = limit.allow()
    assert note is not None and "dropped 3 log messages" in note
    assert limit.allow() is None
