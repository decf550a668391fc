"""``ovn-inject sandbox up|down|status|env``: a real OVN in userspace."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import click

from ovn_inject.constants import SANDBOX_DIR_ENV
from ovn_inject.errors import OvnInjectError
from ovn_inject.sandbox import DEFAULT_DIR, Sandbox
from ovn_inject.sandbox import ports as sandbox_ports
from ovn_inject.sandbox import topology as topologies

dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    envvar=SANDBOX_DIR_ENV,
    help=f"State directory of the sandbox (default ${SANDBOX_DIR_ENV}, set by 'sandbox env', or .sandbox).",
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
    for key, value in {**box.env(), SANDBOX_DIR_ENV: str(box.root)}.items():
        click.echo(f"export {key}={shlex.quote(value)}")


@sandbox.command("port-add")
@dir_option
@click.argument("switch")
@click.argument("port")
@click.option("--tenant", required=True, help="The port's tenant (its external_ids:neutron:project_id).")
@click.option("--chassis", required=True, help="The chassis to bind it on (hv1, hv2...).")
@click.option(
    "--addresses",
    default="unknown",
    show_default=True,
    help="Its NB addresses, e.g. '02:00:00:00:01:64 10.0.1.100' (comma-separated for several).",
)
@click.option("--may-exist", is_flag=True, help="Do nothing if the port is already bound.")
def port_add(
    directory: Path, switch: str, port: str, tenant: str, chassis: str, addresses: str, may_exist: bool
) -> None:
    """Create a VM port for an appliance (an IDS, a load balancer), bind it on a chassis, wait until up.

    It has no port security, so it may receive packets for other addresses (a copy for an IDS, a VIP).
    What it receives: 'sandbox capture PORT'.
    """
    box = _running(directory)
    if may_exist and port in box.state.bindings:
        return
    sandbox_ports.add_port(box, switch, port, tenant, chassis, addresses)
    click.echo(f"port {port} of {tenant} on {switch}, bound on {chassis}")


@sandbox.command("port-del")
@dir_option
@click.argument("port")
def port_del(directory: Path, port: str) -> None:
    """Unbind a port that 'port-add' created and delete it from NB."""
    sandbox_ports.del_port(_running(directory), port)


@sandbox.command()
@dir_option
@click.argument("port")
@click.argument("packet")
def send(directory: Path, port: str, packet: str) -> None:
    """Send PACKET as if PORT's VM sent it.

    \b
    PACKET is PROTO [KEY=VALUE]... (one argument: quote it), or hex bytes:
      icmp dst=vm2
      tcp dst=vm2 sport=41000 dport=22 flags=S
      tcp dst=vm2 dport=80 flags=PA payload='GET /etc/passwd'
      udp dst=02:00:00:00:01:64/10.0.1.100 dport=53 dscp=46
    PROTO is tcp, udp or icmp; dst (and src, default PORT) is a port, or MAC/IP;
    other keys: sport, dport, flags, seq, ack, ttl, dscp, payload.
    """
    box = _running(directory)
    frame = sandbox_ports.build(box, port, packet)
    box.send(port, frame)
    click.echo(f"sent by {port}: {sandbox_ports.describe(frame)}")


@sandbox.command()
@dir_option
@click.argument("port")
@click.option("--path", is_flag=True, help="Print the pcap file's path instead (for tools that read pcaps).")
@click.option(
    "--expect",
    type=click.IntRange(min=0),
    help="Wait until PORT received at least this many packets (fail after --timeout).",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=5.0, show_default=True)
def capture(directory: Path, port: str, path: bool, expect: int | None, timeout: float) -> None:
    """Print, one a line, every packet PORT's VM received so far (oldest first)."""
    box = _running(directory)
    if path:
        click.echo(str(box.tx_pcap(port).resolve()))
        return
    frames = box.transmitted(port)
    deadline = time.monotonic() + timeout
    while expect is not None and len(frames) < expect:
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"{port} received {len(frames)} packets in {timeout:g} s, not {expect}"
            )
        time.sleep(0.05)
        frames = box.transmitted(port)
    for number, frame in enumerate(frames, 1):
        click.echo(f"{number} {sandbox_ports.describe(frame)}")


def _running(directory: Path) -> Sandbox:
    box = Sandbox(directory)
    if not box.state.pids:
        raise click.ClickException(f"no sandbox is up in {box.root}; start one with 'ovn-inject sandbox up'")
    return box
