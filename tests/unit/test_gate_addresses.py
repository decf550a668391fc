"""The gate's --listen and --remote addresses: OVS syntax, clear errors."""

from __future__ import annotations

import pytest

from ovn_inject.gate.proxy import Endpoint, GateConfigError, parse_listen, parse_remotes


def test_listen_addresses() -> None:
    assert parse_listen("punix:/run/gate.sock") == Endpoint("unix", path="/run/gate.sock")
    assert parse_listen("ptcp:6645") == Endpoint("tcp", host="127.0.0.1", port=6645)
    assert parse_listen("ptcp:0:127.0.0.1") == Endpoint("tcp", host="127.0.0.1", port=0)


def test_remotes_split_on_commas_and_repeat() -> None:
    remotes = parse_remotes(["unix:/a.sock,tcp:127.0.0.1:6642", "tcp:[::1]:6643"])
    assert [str(remote) for remote in remotes] == ["unix:/a.sock", "tcp:127.0.0.1:6642", "tcp:[::1]:6643"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("ssl:10.0.0.1", "ssl:HOST:PORT"), ("tcp:6642", "tcp:HOST:PORT"), ("unix:", "unix:PATH")],
)
def test_bad_remotes_are_named(text: str, message: str) -> None:
    with pytest.raises(GateConfigError, match=message) as error:
        parse_remotes([text])
    assert text in str(error.value)


def test_no_remote_at_all() -> None:
    with pytest.raises(GateConfigError, match="at least one --remote"):
        parse_remotes([""])
