"""The ``ovn-inject`` command: one click group, one module per command family."""

from __future__ import annotations

import sys

import click

from ovn_inject import ovs_json
from ovn_inject.audit import AUDIT_LOG_ENV
from ovn_inject.errors import OvnInjectError


class Group(click.Group):
    """Turns every OvnInjectError into ``ovn-inject: <message>`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OvnInjectError as exc:
            click.echo(f"ovn-inject: {exc}", err=True)
            sys.exit(1)


@click.group(cls=Group)
@click.version_option(package_name="ovn-inject")
@click.option(
    "--audit-log",
    envvar=AUDIT_LOG_ENV,
    type=click.Path(dir_okay=False),
    help=f"Append a JSON line per write or refusal to this file (default ${AUDIT_LOG_ENV}).",
)
def main(audit_log: str | None) -> None:
    """Topology Service Injection for OVN."""
    # Every command talks OVSDB through python-ovs; without its C extension (the index's
    # wheel has none) its JSON parser runs per character in Python.
    ovs_json.install()


def _register() -> None:
    from ovn_inject.cli import (
        audit_cmd,
        dbctl_cmd,
        demo_cmd,
        flow_cmd,
        gateway_cmd,
        northd_cmd,
        ofswitch_cmd,
        parse_cmd,
        sandbox_cmd,
        sbgate_cmd,
        service_cmd,
        tenant_cmd,
        token_cmd,
        units_cmd,
    )
    from ovn_inject.cli.db_options import install_on_group

    main.add_command(sandbox_cmd.sandbox)
    main.add_command(demo_cmd.demo)
    main.add_command(sbgate_cmd.sbgate)
    main.add_command(parse_cmd.parse)
    main.add_command(northd_cmd.northd)
    for command in units_cmd.COMMANDS:
        main.add_command(command)
    main.add_command(gateway_cmd.gateway)
    main.add_command(ofswitch_cmd.ofswitch)
    install_on_group(main)
    for family in (service_cmd, ofswitch_cmd, flow_cmd, token_cmd, tenant_cmd, dbctl_cmd):
        for command in family.COMMANDS:
            main.add_command(audit_cmd.audited(command))


_register()
