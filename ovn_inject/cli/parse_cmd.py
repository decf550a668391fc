"""``ovn-inject parse match|actions TEXT``: print the canonical form, or the error with a caret."""

from __future__ import annotations

import sys

import click

from ovn_inject import lang


def _context(
    ports: tuple[str, ...],
    address_sets: tuple[str, ...],
    port_groups: tuple[str, ...],
    release: str | None = None,
    pipeline: str | None = None,
) -> lang.Context:
    return lang.Context(
        ports=frozenset(ports) if ports else None,
        address_sets=frozenset(address_sets) if address_sets else None,
        port_groups=frozenset(port_groups) if port_groups else None,
        release=lang.parse_release(release) if release else None,
        pipeline=pipeline,
    )


def _release(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an unknown release while parsing options, with the known ones listed."""
    if value is not None:
        try:
            lang.parse_release(value)
        except lang.ReleaseError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


_options = [
    click.option(
        "--port", "ports", multiple=True, help="A port that exists (repeatable); checks port names."
    ),
    click.option(
        "--address-set", "address_sets", multiple=True, help="An address set that exists (repeatable)."
    ),
    click.option("--port-group", "port_groups", multiple=True, help="A port group that exists (repeatable)."),
    click.option(
        "--release",
        callback=_release,
        help="The OVN release whose language applies, e.g. 26.03 or 26.03.1 (default 23.03).",
    ),
    click.option(
        "--pipeline",
        type=click.Choice(["ingress", "egress"]),
        help="The pipeline of the flow (bounds next(table=N) where the two differ in length).",
    ),
]


def _with_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_options):
        f = option(f)
    return f


@click.group()
@click.option(
    "--release",
    callback=_release,
    help="The OVN release whose language applies, e.g. 26.03 or 26.03.1 (default 23.03).",
)
@click.pass_context
def parse(ctx: click.Context, release: str | None) -> None:
    """Parse and type-check OVN logical-flow text; print it in canonical form."""
    ctx.meta["ovn_inject.parse.release"] = release


def _chosen_release(release: str | None) -> str | None:
    """The subcommand's --release, else the group's."""
    if release is not None:
        return release
    value = click.get_current_context().meta.get("ovn_inject.parse.release")
    return value if isinstance(value, str) else None


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
    text: str,
    ports: tuple[str, ...],
    address_sets: tuple[str, ...],
    port_groups: tuple[str, ...],
    release: str | None,
    pipeline: str | None,
) -> None:
    """Parse a Logical_Flow match expression."""
    _run("match", text, _context(ports, address_sets, port_groups, _chosen_release(release), pipeline))


@parse.command()
@click.argument("text")
@_with_options
def actions(
    text: str,
    ports: tuple[str, ...],
    address_sets: tuple[str, ...],
    port_groups: tuple[str, ...],
    release: str | None,
    pipeline: str | None,
) -> None:
    """Parse Logical_Flow actions."""
    _run("actions", text, _context(ports, address_sets, port_groups, _chosen_release(release), pipeline))
