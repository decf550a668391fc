"""``ovn-inject sandbox up|down|status|env``: a real OVN in userspace."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

from ovn_inject.errors import OvnInjectError
from ovn_inject.sandbox import DEFAULT_DIR, Sandbox
from ovn_inject.sandbox import topology as topologies

dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="State directory of the sandbox.",
)


@click.group()
def sandbox() -> None:
    """Run a complete OVN (NB, SB, northd, N chassis) in userspace."""


@sandbox.command()
@dir_option
@click.option(
    "--chassis", default=2, show_default=True, type=click.IntRange(1, 32), help="Number of chassis."
)
@click.option(
    "--topology",
    default="demo",
    show_default=True,
    type=click.Choice(sorted(topologies.TOPOLOGIES)),
)
@click.option(
    "--sb-cluster",
    default=0,
    type=click.Choice(["0", "3", "5"]),
    show_default=True,
    help="Run SB as a RAFT cluster of this many members (0: standalone).",
)
@click.option("--no-gate", is_flag=True, help="Connect ovn-northd straight to SB, without the northd gate.")
@click.option(
    "--ssl",
    is_flag=True,
    help="Make a PKI (ovs-pki) and connect every daemon and the CLI to the databases over SSL.",
)
def up(directory: Path, chassis: int, topology: str, sb_cluster: str, no_gate: bool, ssl: bool) -> None:
    """Start the sandbox and build a topology in it."""
    started = time.monotonic()
    box = Sandbox(directory)
    box.up(chassis=chassis, gate=not no_gate, sb_cluster=int(sb_cluster), ssl=ssl)
    try:
        topologies.build(box, topologies.by_name(topology))
    except BaseException:
        box.down()
        raise
    elapsed = time.monotonic() - started
    over = " over SSL" if ssl else ""
    click.echo(
        f"sandbox up in {box.root} with {chassis} chassis, topology '{topology}'{over} ({elapsed:.2f} s)"
    )
    click.echo(
        f'use it from a shell with: eval "$(ovn-inject sandbox env --dir {shlex.quote(str(directory))})"'
    )


@sandbox.command()
@dir_option
def down(directory: Path) -> None:
    """Stop every process of the sandbox."""
    box = Sandbox(directory)
    survivors = box.down()
    if survivors:
        raise click.ClickException(f"processes {survivors} did not stop")
    click.echo(f"sandbox in {box.root} is down")


@sandbox.command()
@dir_option
def status(directory: Path) -> None:
    """Show the sandbox's processes and whether they run; exit status 1 if any is stopped or none is up."""
    box = Sandbox(directory)
    rows = box.status()
    if not rows:
        raise OvnInjectError(f"no sandbox is up in {box.root}")
    for name, pid, alive in rows:
        click.echo(f"{name:<28} pid {pid:<8} {'running' if alive else 'stopped'}")
    click.echo(f"NB: {box.nb_remote} {box.nb_tcp_remote}")
    click.echo(f"SB: {box.sb_remote} {box.sb_tcp_remote}")
    click.echo(f"northd's SB: {box.northd_sb_remote}")
    click.echo(f"OVN_Inject: {box.inject_remote} (a second database of NB's ovsdb-server)")
    for lport, chassis in sorted(box.state.bindings.items()):
        click.echo(f"port {lport:<10} on {chassis}")
    stopped = [name for name, _, alive in rows if not alive]
    if stopped:
        raise OvnInjectError(f"stopped: {', '.join(stopped)}")


@sandbox.command()
@dir_option
def env(directory: Path) -> None:
    """Print export lines for ovn-nbctl, ovn-sbctl, ovn-trace and hv1's OVS tools."""
    box = Sandbox(directory)
    if not box.status():
        raise OvnInjectError(f"no sandbox is up in {box.root} (start one with 'ovn-inject sandbox up')")
    for key, value in box.env().items():
        click.echo(f"export {key}={shlex.quote(value)}")
