"""``init``, ``hook-list`` and the generic ``list``/``find``/``get`` on OVN_Inject's tables."""

from __future__ import annotations

from typing import Any

import click

from ovn_inject.cli.db_options import (
    commit_and_wait,
    db_options,
    emit,
    inject_api,
    settings,
    ssl_ready,
)
from ovn_inject.cli.output import format_value, render
from ovn_inject.core.hooks import HOOK_POINTS
from ovn_inject.core.placement import Placement, cursor_widths, pinned_registers
from ovn_inject.db.commands import by_uuid
from ovn_inject.db.discovery import discover
from ovn_inject.db.errors import InjectDbError, RowNotFoundError
from ovn_inject.db.records import Record, to_record
from ovn_inject.db.schema import table_names
from ovn_inject.lang import Release, parse_release

HOOK_COLUMNS = [
    "hook",
    "datapath",
    "pipeline",
    "host_stage",
    "table",
    "northd_max",
    "band",
    "cursor",
    "usable",
    "ovn_release",
    "reason",
]
#: Columns that name a row besides its uuid (as ovn-nbctl finds a switch by name).
NAME_COLUMNS = {"Service": "name", "Token": "public_id", "Tenant_Token": "public_id"}


def _table(name: str) -> str:
    for table in table_names():
        if table.lower() == name.lower():
            return table
    raise InjectDbError(f"unknown table '{name}'; OVN_Inject has {', '.join(table_names())}")


def _rows(api: Any, table: str) -> list[Any]:
    with api.ovsdb_connection.lock:
        return list(api.tables[table].rows.values())


def _record_row(api: Any, table: str, reference: str) -> Any:
    rows = _rows(api, table)
    name_column = NAME_COLUMNS.get(table)
    if name_column is not None:
        named = [r for r in rows if getattr(r, name_column) == reference]
        if named:
            return named[0]
    if table == "Inject_Global" and reference == "." and rows:
        return rows[0]
    found = by_uuid(rows, reference, table)
    if found is None:
        raise RowNotFoundError(f"row '{reference}' in table {table}")
    return found


def _columns(table_rows_columns: list[str], wanted: str | None) -> list[str]:
    if not wanted:
        return table_rows_columns
    chosen = [c.strip() for c in wanted.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in table_rows_columns]
    if unknown:
        raise InjectDbError(
            f"unknown column(s) {', '.join(unknown)}; columns: {', '.join(table_rows_columns)}"
        )
    return chosen


def _all_columns(api: Any, table: str) -> list[str]:
    return ["_uuid", *sorted(api.tables[table].columns)]


def _emit_records(records: list[Record], columns: list[str], bare: bool) -> None:
    fmt = settings().format or "list"
    emit(render(records, columns, fmt, bare=bare and fmt in ("list", "table")))


columns_option = click.option("--columns", help="Comma-separated columns to show (default: all).")
bare_option = click.option("--bare", is_flag=True, help="Values only, no column names.")


@click.command("init")
@db_options
def init() -> None:
    """Create the Inject_Global row if it is missing (like 'ovn-nbctl init')."""
    with inject_api() as api:
        commit_and_wait(api, api.init())


@click.command("sync")
@db_options
def sync() -> None:
    """With --wait=sb|hv, wait until every earlier change is in SB / on every chassis."""
    with inject_api() as api:
        commit_and_wait(api)


@click.command("list")
@click.argument("table")
@click.argument("records", nargs=-1)
@columns_option
@bare_option
@db_options
def list_(table: str, records: tuple[str, ...], columns: str | None, bare: bool) -> None:
    """List rows of TABLE (all, or the RECORDS given by uuid or name)."""
    name = _table(table)
    with inject_api() as api:
        chosen = _columns(_all_columns(api, name), columns)
        rows = [_record_row(api, name, r) for r in records] if records else _rows(api, name)
        found = [to_record(r, chosen) for r in rows]
    _emit_records(found, chosen, bare)


def _condition(text: str) -> tuple[str, str | None, str, bool]:
    """``column=value``, ``column!=value`` or ``column:key=value``."""
    negate = "!=" in text
    left, sep, value = text.partition("!=" if negate else "=")
    if not sep or not left:
        raise InjectDbError(
            f"bad condition '{text}': expected COLUMN=VALUE, COLUMN!=VALUE or COLUMN:KEY=VALUE"
        )
    column, _, key = left.partition(":")
    return column, key or None, value, negate


def _matches(record: Record, condition: tuple[str, str | None, str, bool]) -> bool:
    column, key, value, negate = condition
    if column not in record:
        raise InjectDbError(f"unknown column '{column}'")
    actual = record[column]
    if key is not None:
        actual = actual.get(key) if isinstance(actual, dict) else None
    shown = actual if isinstance(actual, str) else format_value(actual)
    equal = shown == value or format_value(actual) == value
    return equal != negate


@click.command("find")
@click.argument("table")
@click.argument("conditions", nargs=-1)
@columns_option
@bare_option
@db_options
def find(table: str, conditions: tuple[str, ...], columns: str | None, bare: bool) -> None:
    """List rows of TABLE that satisfy every CONDITION (COLUMN=VALUE, COLUMN!=VALUE, COLUMN:KEY=VALUE)."""
    name = _table(table)
    parsed = [_condition(c) for c in conditions]
    with inject_api() as api:
        every = _all_columns(api, name)
        chosen = _columns(every, columns)
        records = [to_record(r, every) for r in _rows(api, name)]
    found = [{c: r[c] for c in chosen} for r in records if all(_matches(r, p) for p in parsed)]
    _emit_records(found, chosen, bare)


@click.command("get")
@click.argument("table")
@click.argument("record")
@click.argument("columns", nargs=-1, required=True)
@db_options
def get(table: str, record: str, columns: tuple[str, ...]) -> None:
    """Print the value of each COLUMN (or COLUMN:KEY) of one RECORD, one per line."""
    name = _table(table)
    with inject_api() as api:
        row = _record_row(api, name, record)
        full = to_record(row, _all_columns(api, name))
    values: list[Any] = []
    for wanted in columns:
        column, _, key = wanted.partition(":")
        if column not in full:
            raise InjectDbError(f"table {name} has no column '{column}'")
        value = full[column]
        if key:
            if not isinstance(value, dict) or key not in value:
                raise InjectDbError(f"{name} {record} has no key '{key}' in column {column}")
            value = value[key]
        values.append(value)
    if settings().format == "json":
        import json

        emit(json.dumps(dict(zip(columns, values, strict=True)), indent=2) + "\n")
        return
    for value in values:
        click.echo(format_value(value))


@click.command("hook-list")
@click.option(
    "--cursor-register-ls", help="As given to 'ovn-inject northd' (default: chosen from free bits)."
)
@click.option(
    "--cursor-register-lr", help="As given to 'ovn-inject northd' (default: chosen from free bits)."
)
@click.option("--cursor-width", type=click.IntRange(1, 8), help="As given to 'ovn-inject northd'.")
@click.option(
    "--ovn-release",
    callback=lambda _ctx, _param, value: parse_release(value) if value else None,
    help="Read northd's flows in this OVN release's language (default: what SB's schema says).",
)
@db_options
def hook_list(
    cursor_register_ls: str | None,
    cursor_register_lr: str | None,
    cursor_width: int | None,
    ovn_release: Release | None,
) -> None:
    """The hook points, their host stage, table, band and cursor on the connected OVN, and whether usable.

    Cursors are sized as the daemon sizes them: to the attachments OVN_Inject holds at each hook.
    """
    config = settings()
    ssl_ready(config.sb_remote)
    registers = pinned_registers(cursor_register_ls, cursor_register_lr)
    if cursor_width is None:
        with inject_api() as api:
            attached = [row.hook for row in api.tables["Attachment"].rows.values()]
        width: int | dict[str, int] = cursor_widths(attached)
    else:
        width = cursor_width
    found = discover(config.sb_remote, config.db_timeout, registers, width, release=ovn_release)
    records = []
    for hook in HOOK_POINTS:
        where = found.placements[hook.name]
        stage = found.stages.get(hook.host_stage)
        usable = isinstance(where, Placement)
        records.append(
            {
                "hook": hook.name,
                "datapath": hook.datapath.value,
                "pipeline": hook.pipeline.value,
                "host_stage": hook.host_stage,
                "table": stage.table_id if stage else None,
                "northd_max": stage.max_priority if stage else None,
                "band": "{}-{}".format(*where.band) if isinstance(where, Placement) else None,
                "cursor": where.cursor.field if isinstance(where, Placement) else None,
                "usable": usable,
                "ovn_release": found.release.name,
                "reason": "" if isinstance(where, Placement) else where.reason,
                "summary": hook.summary,
            }
        )
    columns = [*HOOK_COLUMNS, "summary"] if config.output == "json" else HOOK_COLUMNS
    emit(render(records, columns, config.output))


COMMANDS = [init, sync, list_, find, get, hook_list]
