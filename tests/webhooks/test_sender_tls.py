"""https deliveries connect to the checked IP yet verify the certificate against the URL's
name (sent as SNI), so pinning the address weakens nothing."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flowllama.webhooks.sender import WebhookSender
from flowllama.webhooks.ssrf import AllowList, IPAddress, UrlPolicy


def _cert(subject: str, issuer: x509.Name | None, issuer_key: ec.EllipticCurvePrivateKey | None,
          *, ca: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256()), key


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """An https server on 127.0.0.1 whose certificate names ``hooks.test``; yields its port,
    the CA file and the Host headers it saw."""
    ca_cert, ca_key = _cert("Test CA", None, None, ca=True)
    leaf, leaf_key = _cert("hooks.test", ca_cert.subject, ca_key, ca=False)
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hosts.append(self.headers.get("Host", ""))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], tmp_path / "ca.pem", hosts
    server.shutdown()
    server.server_close()


def _sender(ca_file: Path) -> WebhookSender:
    def resolve(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    context = ssl.create_default_context(cafile=str(ca_file))
    return WebhookSender(UrlPolicy(AllowList(["127.0.0.1"]), resolver=resolve, ports=None),
                         timeout_s=5,
                         transport=httpx.HTTPTransport(verify=context))


def test_https_to_the_pinned_address_verifies_the_name(
        tls_receiver: tuple[int, Path, list[str]]) -> None:
    port, ca_file, hosts = tls_receiver
    sender = _sender(ca_file)
    result = sender.send(f"https://hooks.test:{port}/in", b"{}", {})
    sender.close()
    assert result.ok, result.error
    assert hosts == [f"hooks.test:{port}"]


def test_https_certificate_for_another_name_is_refused(
        tls_receiver: tuple[int, Path, list[str]]) -> None:
    port, ca_file, hosts = tls_receiver
    sender = _sender(ca_file)
    result = sender.send(f"https://evil.test:{port}/in", b"{}", {})
    sender.close()
    assert not result.ok and result.status_code is None
    assert "certificate" in (result.error or "").lower()
    assert hosts == []
