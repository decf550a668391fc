"""SSL for OVSDB connections: the one place that knows the key, certificate and CA files.

python-ovs keeps its SSL files process-wide (``ovs.stream.Stream.ssl_set_*``), as
OVS's C library does; every IDL, ovsdbapp connection and JSON-RPC request of
the process then uses them for its ``ssl:`` remotes. :meth:`SslOptions.apply`
checks the files first, so that a bad path is reported with the option that
named it rather than as an exception deep inside a connection attempt.

``--bootstrap-ca-cert`` is trust on first use, as in OVS: when its file does
not exist yet, the CA certificate that an ``ssl:`` server sends at the top of
its chain is accepted and written there; later runs verify against it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ovs.stream

from ovn_inject.constants import SSL_ENV
from ovn_inject.errors import OvnInjectError

#: Environment variables the CLI and the daemons read when an option is not given.
ENV = SSL_ENV
BOOTSTRAP_TIMEOUT = 10.0


class SslError(OvnInjectError):
    """An SSL option is missing, or names a file that cannot be used."""


def is_ssl(remote: str) -> bool:
    """True for ``ssl:HOST:PORT`` and ``pssl:PORT[:HOST]`` addresses."""
    return remote.strip().startswith(("ssl:", "pssl:"))


def split_remotes(remotes: Iterable[str]) -> list[str]:
    """Every single address of ``remotes`` (each may be a comma-separated list)."""
    return [part.strip() for text in remotes for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class SslOptions:
    """The SSL files of one command; ``prefix`` is how its options are spelled (``--db-`` on the gateway)."""

    private_key: Path | None = None
    certificate: Path | None = None
    ca_cert: Path | None = None
    bootstrap_ca_cert: Path | None = None
    prefix: str = "--"

    @property
    def given(self) -> bool:
        return any((self.private_key, self.certificate, self.ca_cert, self.bootstrap_ca_cert))

    @property
    def ca_file(self) -> Path | None:
        """The CA to verify peers with: --ca-cert, else the (bootstrapped) --bootstrap-ca-cert."""
        return self.ca_cert or self.bootstrap_ca_cert

    def option(self, field: str) -> str:
        return self.prefix + field.replace("_", "-")

    def require(self, remotes: Iterable[str]) -> None:
        """Raise SslError naming the missing options if any of ``remotes`` is ``ssl:``/``pssl:``."""
        secure = [r for r in split_remotes(remotes) if is_ssl(r)]
        if not secure:
            return
        missing = [self.option(f) for f in ("private_key", "certificate") if getattr(self, f) is None]
        if self.ca_file is None:
            missing.append(f"{self.option('ca_cert')} (or {self.option('bootstrap_ca_cert')})")
        if missing:
            raise SslError(f"{secure[0]} needs SSL: give {', '.join(missing)}")

    def apply(self, remotes: Iterable[str], timeout: float = BOOTSTRAP_TIMEOUT) -> None:
        """Check the files, bootstrap the CA if asked, and hand the files to python-ovs.

        Call it before the first connection of the process; ``remotes`` are those
        the command will use (only ``ssl:`` ones need SSL).
        """
        self.require(remotes)
        if not self.given:
            return
        self.check_files()
        bootstrap = self.bootstrap_ca_cert
        if self.ca_cert is None and bootstrap is not None and not bootstrap.exists():
            fetch_ca_cert(self, [r for r in split_remotes(remotes) if r.startswith("ssl:")], timeout)
        if self.private_key is not None:
            ovs.stream.Stream.ssl_set_private_key_file(str(self.private_key))
        if self.certificate is not None:
            ovs.stream.Stream.ssl_set_certificate_file(str(self.certificate))
        if self.ca_file is not None and self.ca_file.exists():
            ovs.stream.Stream.ssl_set_ca_cert_file(str(self.ca_file))

    def check_files(self) -> None:
        """Load every given file once with Python's ssl module; errors name the file and its option."""
        for field in ("private_key", "certificate", "ca_cert"):
            path = getattr(self, field)
            if path is not None and not os.access(path, os.R_OK):
                why = "does not exist" if not path.exists() else "cannot be read"
                raise SslError(f"{self.option(field)} {path}: the file {why}")
        if (self.private_key is None) != (self.certificate is None):
            given, other = ("private_key", "certificate")
            if self.private_key is None:
                given, other = other, given
            raise SslError(f"{self.option(given)} needs {self.option(other)} too")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.private_key is not None and self.certificate is not None:
            try:
                context.load_cert_chain(str(self.certificate), str(self.private_key))
            except (ssl.SSLError, OSError) as exc:
                raise SslError(
                    f"{self.option('certificate')} {self.certificate} and {self.option('private_key')} "
                    f"{self.private_key} are not a PEM certificate and its key ({_reason(exc)})"
                ) from None
        for field in ("ca_cert", "bootstrap_ca_cert"):
            path = getattr(self, field)
            if path is None or (field == "bootstrap_ca_cert" and not path.exists()):
                continue
            try:
                context.load_verify_locations(str(path))
            except (ssl.SSLError, OSError) as exc:
                raise SslError(
                    f"{self.option(field)} {path}: not a PEM CA certificate ({_reason(exc)})"
                ) from None

    # ---- contexts for asyncio (the northd gate) -----------------------------------

    def server_context(self) -> ssl.SSLContext:
        """For a ``pssl:`` listener: our certificate; clients must present one signed by the CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        return self._peer_verified(context)

    def client_context(self) -> ssl.SSLContext:
        """For an ``ssl:`` remote: the server must be signed by the CA (no host name check, as OVS)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        return self._peer_verified(context)

    def _peer_verified(self, context: ssl.SSLContext) -> ssl.SSLContext:
        if self.private_key is None or self.certificate is None or self.ca_file is None:
            raise SslError("SSL needs a private key, a certificate and a CA certificate")
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(str(self.certificate), str(self.private_key))
        context.load_verify_locations(str(self.ca_file))
        return context

    def ovs_args(self) -> list[str]:
        """The same files as options of OVS/OVN programs (``--private-key=...`` ...)."""
        names = {"private_key": "--private-key", "certificate": "--certificate", "ca_cert": "--ca-cert"}
        args = [f"{flag}={getattr(self, field)}" for field, flag in names.items() if getattr(self, field)]
        if self.ca_cert is None and self.bootstrap_ca_cert is not None:
            args.append(f"--bootstrap-ca-cert={self.bootstrap_ca_cert}")
        return args


def fetch_ca_cert(options: SslOptions, remotes: list[str], timeout: float) -> None:
    """Trust on first use: write the self-signed top of the first reachable server's chain."""
    target = options.bootstrap_ca_cert
    assert target is not None
    problems = []
    for remote in remotes:
        try:
            pem = _peer_ca_pem(options, remote, timeout)
        except (OSError, ValueError) as exc:
            problems.append(f"{remote}: {_reason(exc)}")
            continue
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_bytes(pem)
            tmp.replace(target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            option = options.option("bootstrap_ca_cert")
            raise SslError(f"{option} {target}: cannot write it ({exc})") from None
        return
    raise SslError(
        f"{options.option('bootstrap_ca_cert')} {target}: no CA certificate to bootstrap from "
        f"({'; '.join(problems) or 'no ssl: remote given'})"
    )


def _peer_ca_pem(options: SslOptions, remote: str, timeout: float) -> bytes:
    host, _, port = remote.removeprefix("ssl:").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("not ssl:HOST:PORT")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nothing to verify against yet: that is the point
    if options.private_key is not None and options.certificate is not None:
        context.load_cert_chain(str(options.certificate), str(options.private_key))
    with (
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw,
        context.wrap_socket(raw) as sock,
    ):
        # Python 3.11 has the peer's chain only on the private object (public from 3.13).
        chain = sock._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
        for cert in reversed(chain or []):
            info = cert.get_info()
            if info.get("subject") == info.get("issuer"):
                pem: str = cert.public_bytes(ssl._ssl.ENCODING_PEM)  # type: ignore[attr-defined]
                return pem.encode()
    raise ValueError("the server sent no self-signed CA certificate (does it run with --peer-ca-cert?)")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return str(exc).strip() or type(exc).__name__
