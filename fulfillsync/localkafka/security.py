"""What the secured local broker (`LocalBroker(secure=True)`, `fulfillsync kafka start --secure`) is made of: a CA,
the broker's certificate, a client certificate and the users' passwords, made on the fly with the `cryptography`
package into `<home>/security/` on first start and reused afterwards; and the ACLs it gets once it runs.

    security/ca.crt           the local CA (PEM): the brokers' and the client's certificates are signed by it
    security/ca.key           its private key (only for issuing more certificates)
    security/broker.pem       the broker's PEM keystore: its private key, then its certificate and the CA's
                              (CN=fulfillsync-broker; SAN localhost, 127.0.0.1, ::1; server and client use)
    security/client.crt       a client certificate for the mutual-TLS listener: CN=fulfillsync, so principal
    security/client.key       User:fulfillsync; the key is encrypted with `client_key_password`
    security/credentials.json the users' passwords and the client key's password (mode 0600)

Users (SCRAM-SHA-512 and PLAIN on the SASL_SSL listener; the mutual-TLS listener maps a certificate's CN to the
user of that name):
- `admin`: a super user; makes the ACLs;
- `fulfillsync`: the service, with exactly the ACLs docs/deploy.md ("Kafka security") lists, on the resource prefix
  `fulfillsync` (`SERVICE_PREFIX`, the default `kafka.topic_prefix`): configurations run against this broker use
  topic prefixes that start with it;
- `reader`: may only read: Describe and Read on the topics of that prefix, Read on its consumer groups.

Everything here raises `BrokerError` (never a bare ImportError or OSError) with what to do.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.x509 import Certificate

ADMIN = "admin"
SERVICE = "fulfillsync"
READER = "reader"
USERS = (ADMIN, SERVICE, READER)
BROKER_PRINCIPAL = "fulfillsync-broker"
SERVICE_PREFIX = "fulfillsync"
"""The resource prefix the service's and the reader's ACLs are on (topics and consumer groups)."""
VALIDITY = datetime.timedelta(days=825)


class SecurityMaterialError(RuntimeError):
    """The security material could not be made or read; the message says what to do."""


@dataclass(frozen=True)
class SecureMaterial:
    """The files and passwords of one secured broker home (see the module docstring)."""

    folder: Path
    passwords: dict[str, str]
    client_key_password: str

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def broker_keystore(self) -> Path:
        return self.folder / "broker.pem"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"

    @classmethod
    def load_or_make(cls, folder: Path) -> SecureMaterial:
        """The material in `folder`, made first when `folder` has none. Raises SecurityMaterialError when the
        `cryptography` package is missing or the files cannot be written or read."""
        credentials = folder / "credentials.json"
        if not credentials.exists():
            _make(folder)
        try:
            stored: dict[str, Any] = json.loads(credentials.read_text(encoding="utf-8"))
            return cls(folder=folder, passwords={user: str(stored["passwords"][user]) for user in USERS},
                       client_key_password=str(stored["client_key_password"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SecurityMaterialError(f"the broker's security material in {folder} is unreadable ({error}); "
                                        "delete the broker's home folder and start again") from None


def _crypto() -> Any:
    try:
        import cryptography  # noqa: F401 - only to say clearly that it is missing
    except ImportError:
        raise SecurityMaterialError(
            "the secured local broker makes its certificates with the `cryptography` package, which is not "
            "installed: `pip install cryptography` (it is among fulfillsync's test extras)") from None


def _make(folder: Path) -> None:
    """Make the CA, the broker's keystore, the client certificate and the passwords in `folder`."""
    _crypto()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    ca_key, ca_cert = issue_ca("fulfillsync local CA")
    broker_key, broker_cert = issue_certificate(ca_key, ca_cert, BROKER_PRINCIPAL, server=True)
    client_key, client_cert = issue_certificate(ca_key, ca_cert, SERVICE)
    client_key_password = secrets.token_hex(16)
    _write(folder / "ca.crt", certificate_pem(ca_cert))
    _write(folder / "ca.key", key_pem(ca_key), private=True)
    _write(folder / "broker.pem", key_pem(broker_key) + certificate_pem(broker_cert) + certificate_pem(ca_cert),
           private=True)
    _write(folder / "client.crt", certificate_pem(client_cert))
    _write(folder / "client.key", key_pem(client_key, client_key_password), private=True)
    document = {"passwords": {user: secrets.token_hex(16) for user in USERS},
                "client_key_password": client_key_password}
    _write(folder / "credentials.json", json.dumps(document, indent=2).encode(), private=True)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise SecurityMaterialError(f"cannot write {path}: {error.strerror or error}") from None


def issue_ca(name: str) -> tuple[EllipticCurvePrivateKey, Certificate]:
    """A new self-signed CA named `name` (P-256 key), valid from a day ago for `VALIDITY`."""
    _crypto()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue_certificate(ca_key: EllipticCurvePrivateKey, ca_cert: Certificate, common_name: str, *,
                      server: bool = False) -> tuple[EllipticCurvePrivateKey, Certificate]:
    """A new key and a certificate for subject `CN=<common_name>` signed by the CA: client use, plus server use
    with the loopback names (localhost, 127.0.0.1, ::1) when `server`."""
    _crypto()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
    builder = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def certificate_pem(certificate: Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: EllipticCurvePrivateKey, password: str | None = None) -> bytes:
    """`key` as PKCS#8 PEM, encrypted with `password` when given."""
    from cryptography.hazmat.primitives import serialization

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
