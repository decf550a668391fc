"""SSL options: which are missing for an ssl: remote, bad files named with their option, gate addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovn_inject.db.ssl_options import SslError, SslOptions
from ovn_inject.gate.proxy import Endpoint, GateConfigError, NorthdGate, parse_listen, parse_remotes


def test_ssl_addresses_of_the_gate() -> None:
    assert parse_listen("pssl:6645") == Endpoint("ssl", host="127.0.0.1", port=6645)
    assert parse_listen("pssl:0:[::1]") == Endpoint("ssl", host="::1", port=0)
    remotes = parse_remotes(["ssl:10.0.0.1:6642,ssl:[::1]:6642"])
    assert [str(remote) for remote in remotes] == ["ssl:10.0.0.1:6642", "ssl:[::1]:6642"]
    with pytest.raises(GateConfigError, match="pssl:PORT"):
        parse_listen("pssl:x")


def test_gate_with_ssl_needs_its_files() -> None:
    with pytest.raises(SslError, match="needs SSL: give --private-key, --certificate, --ca-cert"):
        NorthdGate("pssl:0", ["unix:/sb.sock"])
    NorthdGate("punix:/gate.sock", ["tcp:127.0.0.1:6642"])  # no SSL, no files


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        (SslOptions(), "--private-key, --certificate, --ca-cert (or --bootstrap-ca-cert)"),
        (SslOptions(Path("k"), Path("c")), "--ca-cert (or --bootstrap-ca-cert)"),
        (SslOptions(ca_cert=Path("ca"), prefix="--db-"), "--db-private-key, --db-certificate"),
    ],
)
def test_missing_options_are_listed(options: SslOptions, missing: str) -> None:
    with pytest.raises(SslError) as error:
        options.require(["unix:/nb.sock", "tcp:1.2.3.4:6641,ssl:1.2.3.4:6641"])
    assert str(error.value) == f"ssl:1.2.3.4:6641 needs SSL: give {missing}"


def test_no_ssl_remote_needs_nothing() -> None:
    SslOptions().apply(["unix:/nb.sock", "tcp:127.0.0.1:6641"])


def test_bad_files_are_named_with_their_option(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(SslError, match=f"--ca-cert {tmp_path}/none.pem: the file does not exist"):
        SslOptions(ca_cert=tmp_path / "none.pem").check_files()
    with pytest.raises(SslError, match=f"--db-ca-cert {junk}: not a PEM CA certificate"):
        SslOptions(ca_cert=junk, prefix="--db-").check_files()
    with pytest.raises(SslError, match="are not a PEM certificate and its key"):
        SslOptions(private_key=junk, certificate=junk).check_files()
    with pytest.raises(SslError, match="--certificate needs --private-key too"):
        SslOptions(certificate=junk).check_files()
