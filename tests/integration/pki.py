"""A throw-away PKI for TLS tests: one CA and leaf certificates it signs (openssl).

The CA says it signs certificates (basicConstraints, keyUsage): Python 3.13
verifies strictly and refuses a CA without them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(directory: Path, leaves: dict[str, str]) -> dict[str, tuple[Path, Path]]:
    """``{"ca": (key, cert), name: (key, cert) ...}`` for ``leaves`` (name -> CN; an IP gets a SAN)."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    out = {"ca": (ca_key, ca)}
    for name, common_name in leaves.items():
        key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        san = ["-addext", f"subjectAltName=IP:{common_name}"] if common_name[0].isdigit() else []
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={common_name}", *san,
                 "-keyout", str(key), "-out", str(csr))  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
                 "-days", "1", "-copy_extensions", "copy", "-out", str(cert))  # fmt: skip
        out[name] = (key, cert)
    return out
