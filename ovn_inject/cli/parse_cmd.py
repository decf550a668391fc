"""``ovn-inject parse match|actions TEXT``: print the canonical form, or the error with a caret."""

from __future__ import annotations

import sys

import click

from ovn_inject import lang


def _context(
    ports: tuple[str, ...], address_sets: tuple[str, ...], port_groups: tuple[str, ...]
) -> lang.Context:
    return lang.Context(
        ports=frozenset(ports) if ports else None,
        address_sets=frozenset(address_sets) if address_sets else None,
        port_groups=frozenset(port_groups) if port_groups else None,
    )


_options = [
    click.option(
        "--port", "ports", multiple=True, help="A port that exists (repeatable); checks port names."
    ),
    click.option(
        "--address-set", "address_sets", multiple=True, help="An address set that exists (repeatable)."
    ),
    click.option("--port-group", "port_groups", multiple=True, help="A port group that exists (repeatable)."),
]


def _with_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_options):
        f = option(f)
    return f


@click.group()
def parse() -> None:
    """Parse and type-check OVN logical-flow text; print it in canonical form."""


def _run(kind: str, text: str, context: lang.Context) -> None:
    try:
        if kind == "match":
            click.echo(lang.format_match(lang.parse_match(text, context)))
        else:
            click.echo(lang.format_actions(lang.parse_actions(text, context)))
    except lang.LanguageError as exc:
        click.echo(f"ovn-inject: {exc}", err=True)
        if exc.column:
            click.echo(exc.excerpt, err=True)
        sys.exit(1)


@parse.command()
@click.argument("text")
@_with_options
def match(
    text: str, ports: tuple[str, ...], address_sets: tuple[str, ...], port_groups: tuple[str, ...]
) -> None:
    """Parse a Logical_Flow match expression."""
    _run("match", text, _context(ports, address_sets, port_groups))


@parse.command()
@click.argument("text")
@_with_options
def actions(
    text: str, ports: tuple[str, ...], address_sets: tuple[str, ...], port_groups: tuple[str, ...]
) -> None:
    """Parse Logical_Flow actions."""
    _run("actions", text, _context(ports, address_sets, port_groups))
