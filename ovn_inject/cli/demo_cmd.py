"""``ovn-inject demo``: the main job behind ``make run``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ovn_inject import demo as demo_module
from ovn_inject.sandbox import DEFAULT_DIR


@click.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True)
@click.option("--chassis", default=2, show_default=True, type=click.IntRange(1, 32))
@click.option("--once", is_flag=True, help="Show the demo and exit (0 when every step passed).")
def demo(directory: Path, chassis: int, once: bool) -> None:
    """Start a sandbox OVN with the demo topology and show it working."""
    if not demo_module.run(directory, chassis, once):
        sys.exit(1)
