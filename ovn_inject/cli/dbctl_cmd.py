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
from ovn_inject.db.commands import by_uuid
from ovn_inject.db.errors import InjectDbError, RowNotFoundError
from ovn_inject.db.records import Record, to_record
from ovn_inject.db.schema import table_names
from ovn_inject.hooks import DatapathKind
from ovn_inject.northd.discovery import analyze, fetch_northd_flows
from ovn_inject.northd.placement import DEFAULT_CURSOR_REGISTER, Placement
from ovn_inject.northd.placement import place_hooks as place_with_cursors
from ovn_inject.stages import place_hooks

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
    "reason",
]
#: Columns that name a row besides its uuid (as ovn-nbctl finds a switch by name).
NAME_COLUMNS = {"Service": "name", "Token": "public_id"}


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
    "--cursor-register-ls",
    default=DEFAULT_CURSOR_REGISTER,
    show_default=True,
    help="The register the daemon's switch hooks use (as given to 'ovn-inject northd').",
)
@click.option("--cursor-register-lr", default=DEFAULT_CURSOR_REGISTER, show_default=True)
@db_options
def hook_list(cursor_register_ls: str, cursor_register_lr: str) -> None:
    """The hook points, their host stage, table, band and cursor on the connected OVN, and whether usable."""
    config = settings()
    ssl_ready(config.sb_remote)
    rows = fetch_northd_flows(config.sb_remote, config.db_timeout)
    stages, used = analyze(rows)
    registers = {DatapathKind.SWITCH: cursor_register_ls, DatapathKind.ROUTER: cursor_register_lr}
    placed = place_with_cursors(stages, used, registers)
    records = []
    for band in place_hooks(stages):
        hook, stage = band.hook, band.stage
        where = placed[hook.name]
        usable = isinstance(where, Placement)
        records.append(
            {
                "hook": hook.name,
                "datapath": hook.datapath.value,
                "pipeline": hook.pipeline.value,
                "host_stage": hook.host_stage,
                "table": stage.table_id if stage else None,
                "northd_max": stage.max_priority if stage else None,
                "band": f"{band.band[0]}-{band.band[1]}" if band.band else None,
                "cursor": where.cursor.field if isinstance(where, Placement) else None,
                "usable": usable,
                "reason": "" if isinstance(where, Placement) else where.reason,
                "summary": hook.summary,
            }
        )
    columns = [*HOOK_COLUMNS, "summary"] if config.output == "json" else HOOK_COLUMNS
    emit(render(records, columns, config.output))


COMMANDS = [init, sync, list_, find, get, hook_list]
