"""``init``, ``hook-list`` and the generic ``list``/``find``/``get`` on OVN_Inject's tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ovn_inject.cli.conditions import parse_condition
from ovn_inject.cli.db_options import (
    commit_and_wait,
    db_options,
    emit,
    format_option,
    if_exists,
    inject_api,
    read,
    settings,
    ssl_ready,
    wait_option,
)
from ovn_inject.cli.output import format_value, render, render_ovsdb
from ovn_inject.db import wire
from ovn_inject.db.errors import AmbiguousRecordError, InjectDbError, RowNotFoundError
from ovn_inject.db.schema import table_names

if TYPE_CHECKING:
    from ovn_inject.lang import Release

Record = dict[str, Any]
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


def _find_record(rows: list[Record], table: str, reference: str) -> Record | None:
    """The row ``reference`` names: by name (Service: also TENANT/NAME), ``.``, uuid or uuid prefix."""
    if table == "Service":
        try:
            return wire.find_service(rows, reference)
        except RowNotFoundError:
            return None
    name_column = NAME_COLUMNS.get(table)
    if name_column is not None:
        named = [r for r in rows if r.get(name_column) == reference]
        if named:
            return named[0]
    if table == "Inject_Global" and reference == "." and rows:
        return rows[0]
    wanted = reference.strip().lower()
    if len(wanted) < 4:
        raise AmbiguousRecordError(f"{table} '{reference}': give at least 4 characters of its uuid")
    found = [r for r in rows if r["_uuid"].startswith(wanted)]
    if len(found) > 1:
        raise AmbiguousRecordError(f"{table} '{reference}' is ambiguous: {len(found)} rows start with it")
    return found[0] if found else None


def _record_row(rows: list[Record], table: str, reference: str, missing_ok: bool) -> Record | None:
    found = _find_record(rows, table, reference)
    if found is None and not missing_ok:
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


def _emit_records(records: list[Record], columns: list[str], bare: bool) -> None:
    fmt = settings().format or "list"
    emit(render_ovsdb(records, columns, fmt, bare=bare and fmt in ("list", "table")))


columns_option = click.option("--columns", help="Comma-separated columns to show (default: all).")
bare_option = click.option("--bare", is_flag=True, help="Values only, no column names.")


@click.command("init")
@wait_option
@db_options
def init() -> None:
    """Create the Inject_Global row if it is missing (like 'ovn-nbctl init')."""
    with inject_api() as api:
        commit_and_wait(api, api.init())


@click.command("sync")
@wait_option
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
@click.option("--if-exists", "missing_ok", is_flag=True, help="Skip RECORDS that do not exist.")
@format_option
@db_options
def list_(table: str, records: tuple[str, ...], columns: str | None, bare: bool, missing_ok: bool) -> None:
    """List rows of TABLE (all, or the RECORDS given by uuid or name)."""
    name = _table(table)
    chosen = _columns(wire.columns_of(name), columns)
    rows = read(name)[name]
    if records:
        picked = [_record_row(rows, name, r, if_exists(missing_ok)) for r in records]
        rows = [r for r in picked if r is not None]
    _emit_records([{c: r.get(c) for c in chosen} for r in rows], chosen, bare)


@click.command("find")
@click.argument("table")
@click.argument("conditions", nargs=-1)
@columns_option
@bare_option
@format_option
@db_options
def find(table: str, conditions: tuple[str, ...], columns: str | None, bare: bool) -> None:
    """List rows of TABLE that satisfy every CONDITION.

    A CONDITION is COLUMN[:KEY]OP VALUE, OP one of = != < > <= >= (scalars; = and != also
    compare whole sets) or {=} {!=} {<} {>} {<=} {>=} (set equality, subset, superset), as
    in ovn-nbctl: 'find Service_Flow priority>5', 'find Service_Flow status{<=}installed,pending'.
    """
    name = _table(table)
    parsed = [parse_condition(c) for c in conditions]
    chosen = _columns(wire.columns_of(name), columns)
    records = read(name)[name]
    found = [{c: r.get(c) for c in chosen} for r in records if all(p.matches(r) for p in parsed)]
    _emit_records(found, chosen, bare)


@click.command("get")
@click.argument("table")
@click.argument("record")
@click.argument("columns", nargs=-1, required=True)
@click.option("--if-exists", "missing_ok", is_flag=True, help="Print nothing if RECORD does not exist.")
@format_option
@db_options
def get(table: str, record: str, columns: tuple[str, ...], missing_ok: bool) -> None:
    """Print the value of each COLUMN (or COLUMN:KEY) of one RECORD, one per line."""
    name = _table(table)
    full = _record_row(read(name)[name], name, record, if_exists(missing_ok))
    if full is None:
        return
    values: list[Any] = []
    for wanted in columns:
        column, _, key = wanted.partition(":")
        if column not in full:
            raise InjectDbError(f"table {name} has no column '{column}'")
        value = full[column]
        if key:
            if not isinstance(value, dict) or key not in value:
                if if_exists(missing_ok):
                    continue
                raise InjectDbError(f"{name} {record} has no key '{key}' in column {column}")
            value = value[key]
        values.append(value)
    if settings().format == "json":
        import json

        emit(json.dumps(dict(zip(columns, values, strict=False)), indent=2) + "\n")
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
    callback=lambda _ctx, _param, value: _release(value),
    help="Read northd's flows in this OVN release's language (default: what SB's schema says).",
)
@format_option
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
    from ovn_inject.core.hooks import HOOK_POINTS
    from ovn_inject.core.placement import Placement, cursor_widths, pinned_registers
    from ovn_inject.db.discovery import discover

    config = settings()
    ssl_ready(config.sb_remote)
    registers = pinned_registers(cursor_register_ls, cursor_register_lr)
    if cursor_width is None:
        attached = [row["hook"] for row in read("Attachment")["Attachment"]]
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


def _release(value: str | None) -> Release | None:
    from ovn_inject.lang import parse_release

    return parse_release(value) if value else None
