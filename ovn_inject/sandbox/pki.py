"""A sandbox's PKI, made with ``ovs-pki`` as OVN's own sandbox makes it.

``ovs-pki init`` creates two CAs; every certificate here is signed by the
switch CA, and every daemon and client of the sandbox shares one key and
certificate: what is tested is SSL on every connection, not key management.
"""

from __future__ import annotations

from pathlib import Path

from ovn_inject.db.ssl_options import SslOptions
from ovn_inject.sandbox import processes

CA = "switchca"


def _ovs_pki(directory: Path, *args: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    argv = ["ovs-pki", f"--dir={directory}", f"--log={directory}.log", "--force", *args]
    processes.run(argv, cwd=directory)


def create(directory: Path, name: str = "sandbox") -> SslOptions:
    """A new PKI in ``directory`` and one certificate ``name`` signed by its CA."""
    _ovs_pki(directory, "init")
    return sign(directory, name)


def sign(directory: Path, name: str) -> SslOptions:
    """A key and certificate ``name`` signed by the PKI in ``directory`` (created with :func:`create`)."""
    # Run in the PKI's directory: the name becomes the certificate's CN (at most 64 characters).
    _ovs_pki(directory, "req+sign", name, "switch")
    return options(directory, name)


def options(directory: Path, name: str = "sandbox") -> SslOptions:
    """The SSL files of certificate ``name`` of the PKI in ``directory``."""
    return SslOptions(
        private_key=directory / f"{name}-privkey.pem",
        certificate=directory / f"{name}-cert.pem",
        ca_cert=directory / CA / "cacert.pem",
    )
