"""Shared helpers of the HTTP front-end tests (REST, pyhandle, OpenAPI, browser); no tests here.

``seed`` fills a store with a node hosting prefix ``88.118.8``: its prefix
handle ``0.NA/88.118.8`` is administered by ``300:0.NA/88.118.8`` (secret key)
and ``301:0.NA/88.118.8`` (RSA key); ``88.118.8/user`` is a known identity with
no rights on the prefix; ``88.118.8/TV-0001`` is a product with a URL.
``serve`` runs the real aiohttp server on an ephemeral port, over TLS with a
self-signed certificate made here when asked.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.constants import ADMIN_PERM_ALL
from protocol.public_key import encode_public_key
from protocol.references import encode_secret_key
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.metrics import Metrics
from resolver.core.service import ResolutionService
from resolver.http.api import run_http_server

PREFIX = "88.118.8"
NA = "0.NA/88.118.8"
TV = "88.118.8/TV-0001"
USER = "88.118.8/user"
SECRET = "prefix-secret"
USER_SECRET = "user-secret"
ADMIN_ID = f"300:{NA}"
RSA_ID = f"301:{NA}"
TV_URL = "https://example.org/tv-0001"
RSA_KEY = rsa.generate_private_key(65537, 2048)


def admin_value(index: int, handle: str, admin_index: int, perms: int = ADMIN_PERM_ALL) -> (
    HandleValue
):
    """An HS_ADMIN value naming ``handle``:``admin_index``."""
    return HandleValue(
        index, "HS_ADMIN", encode_admin_record(AdminRecord(handle, admin_index, perms))
    )


async def seed(store: HandleStore) -> None:
    """The prefix handle with its credentials, an unprivileged identity, one product."""
    await store.create_handle(
        NA,
        [
            admin_value(100, NA, 300),
            admin_value(101, NA, 301),
            HandleValue(300, "HS_SECKEY", encode_secret_key(SECRET.encode()), public_read=False),
            HandleValue(301, "HS_PUBKEY", encode_public_key(RSA_KEY.public_key())),
        ],
        actor="test",
    )
    await store.create_handle(
        USER,
        [
            admin_value(100, NA, 300),
            HandleValue(300, "HS_SECKEY", encode_secret_key(USER_SECRET.encode()),
                        public_read=False),
        ],
        actor="test",
    )
    await store.create_handle(
        TV,
        [
            admin_value(100, NA, 300),
            HandleValue(1, "URL", TV_URL.encode()),
            HandleValue(2, "EMAIL", b"ops@example.org"),
            HandleValue(3, "DESC", b"<b>Smart TV</b> & remote"),
        ],
        actor="test",
    )


def basic(user: str, secret: str) -> str:
    """The Basic Authorization header pyhandle sends (user URL-encoded)."""
    token = f"{quote(user.encode('utf-8'))}:{secret}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, the service and the metrics behind it."""

    url: str
    service: ResolutionService
    metrics: Metrics


@asynccontextmanager
async def serve(
    store: HandleStore, tls_folder: Path | None = None, **options: Any
) -> AsyncIterator[Served]:
    """Seed ``store`` and serve it on 127.0.0.1 (HTTPS when ``tls_folder`` is given).

    ``options`` go to :func:`resolver.http.api.make_app`.
    """
    await seed(store)
    service = ResolutionService(store)
    metrics = Metrics()
    context = self_signed_context(tls_folder) if tls_folder is not None else None
    runner, port = await run_http_server(
        service, "127.0.0.1", 0, ssl_context=context, metrics=metrics, **options
    )
    scheme = "https" if context is not None else "http"
    try:
        yield Served(f"{scheme}://127.0.0.1:{port}", service, metrics)
    finally:
        await runner.cleanup()
