"""Federation certificates: one CA per federation, one certificate per site.

::

    init_ca(out_dir)                          -> ca.crt, ca.key
    issue_site_cert(9999, ca_dir, out_dir)    -> party-9999.crt, party-9999.key (+ ca.crt)

A site certificate's subject common name is ``party-<id>`` and its subject
alternative name is the DNS name ``party-<id>.atoll``; gateways check that name
on both sides (the client through the TLS target name, the server by reading
the peer certificate), so a certificate can only speak for its own party.
Keys are ECDSA P-256, written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from atoll.federation._errors import CertificateError

__all__ = [
    "CA_CERT",
    "CA_KEY",
    "check_site_cert",
    "init_ca",
    "issue_site_cert",
    "load_cert",
    "party_id_from_cert",
    "party_id_from_common_name",
    "server_name",
    "site_cert_paths",
]

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
_CN = re.compile(r"party-([1-9][0-9]{0,18})\Z")


def server_name(party_id: int) -> str:
    """The DNS name a site's certificate carries, checked as the TLS target name."""
    return f"party-{party_id}.atoll"


def site_cert_paths(out_dir: str | Path, party_id: int) -> tuple[Path, Path]:
    out = Path(out_dir)
    return out / f"party-{party_id}.crt", out / f"party-{party_id}.key"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def init_ca(
    out_dir: str | Path,
    *,
    common_name: str = "Atoll federation CA",
    days: int = 3650,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Create a federation CA in ``out_dir``; return (certificate path, key path)."""
    out = Path(out_dir)
    cert_path, key_path = out / CA_CERT, out / CA_KEY
    if not overwrite and (cert_path.exists() or key_path.exists()):
        raise CertificateError(
            f"{out}: a CA already exists there (--force / overwrite=True replaces it)"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Atoll federation"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def load_cert(path: str | Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except FileNotFoundError:
        raise CertificateError(f"{path}: certificate file not found") from None
    except ValueError as exc:
        raise CertificateError(f"{path}: not a PEM certificate: {exc}") from None


def _load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = load_cert(ca_dir / CA_CERT)
    try:
        key = serialization.load_pem_private_key((ca_dir / CA_KEY).read_bytes(), password=None)
    except FileNotFoundError:
        raise CertificateError(f"{ca_dir / CA_KEY}: CA key file not found") from None
    except ValueError as exc:
        raise CertificateError(f"{ca_dir / CA_KEY}: not a PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{ca_dir / CA_KEY}: expected an EC private key")
    return cert, key


def issue_site_cert(
    party_id: int,
    ca_dir: str | Path,
    out_dir: str | Path,
    *,
    days: int = 397,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> tuple[Path, Path]:
    """Issue a certificate for site ``party_id``, signed by the CA in ``ca_dir``.

    Writes ``party-<id>.crt``, ``party-<id>.key`` (0600) and a copy of ``ca.crt``
    into ``out_dir``; returns (certificate path, key path).
    """
    if type(party_id) is not int or party_id <= 0:
        raise CertificateError(f"party id must be a positive int, got {party_id!r}")
    ca_path = Path(ca_dir)
    ca_cert, ca_key = _load_ca(ca_path)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Atoll federation"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"party-{party_id}"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(server_name(party_id))]), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    out = Path(out_dir)
    cert_path, key_path = site_cert_paths(out, party_id)
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    ca_copy = out / CA_CERT
    if ca_copy.resolve() != (ca_path / CA_CERT).resolve():
        shutil.copyfile(ca_path / CA_CERT, ca_copy)
    return cert_path, key_path


def party_id_from_common_name(common_name: str) -> int | None:
    m = _CN.match(common_name)
    return int(m.group(1)) if m else None


def party_id_from_cert(cert: x509.Certificate) -> int | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return None
    value = names[0].value
    return party_id_from_common_name(value if isinstance(value, str) else value.decode())


def check_site_cert(
    cert_path: str | Path,
    key_path: str | Path,
    ca_path: str | Path,
    party_id: int,
    *,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Check a site's own files before serving: signed by the CA, valid now, names the party, key matches."""
    cert = load_cert(cert_path)
    ca = load_cert(ca_path)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateError(
            f"{cert_path}: not signed by the federation CA in {ca_path}"
        ) from None
    when = now or _now()
    if when < cert.not_valid_before_utc:
        raise CertificateError(
            f"{cert_path}: not valid before {cert.not_valid_before_utc.isoformat()}"
        )
    if when > cert.not_valid_after_utc:
        raise CertificateError(f"{cert_path}: expired on {cert.not_valid_after_utc.isoformat()}")
    named = party_id_from_cert(cert)
    if named != party_id:
        raise CertificateError(
            f"{cert_path}: names party {named}, but this site is party {party_id}"
        )
    try:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except FileNotFoundError:
        raise CertificateError(f"{key_path}: key file not found") from None
    except ValueError as exc:
        raise CertificateError(f"{key_path}: not a PEM private key: {exc}") from None
    if key.public_key() != cert.public_key():
        raise CertificateError(f"{key_path}: does not match certificate {cert_path}")
    return cert
