"""free_tcp_port: a port no outgoing connection can take before the daemon binds it."""

from __future__ import annotations

import socket

import pytest

from ovn_inject.sandbox import processes


def test_a_port_outside_the_ephemeral_range_that_binds() -> None:
    low, high = processes._ephemeral_range()
    first, last = processes.PICKED_PORTS
    if not (last < low or first > high):
        pytest.skip(f"this kernel's ephemeral range {low}-{high} covers {first}-{last}")
    ports = {processes.free_tcp_port() for _ in range(20)}
    assert all(first <= p < last for p in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_kernel_whose_ephemeral_range_covers_them_gets_one_of_its_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processes, "_ephemeral_range", lambda: (1024, 65535))
    port = processes.free_tcp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
