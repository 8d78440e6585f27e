"""The node's certificate-issuer key, loaded from configuration for the console to approve with.

``cert_issuer_key_path`` names an encrypted private key file (``idnode keys
gen`` writes one; relative to the data dir unless absolute), ``cert_issuer``
the value reference it is certified as (``INDEX:HANDLE``, as ``idnode cert
approve --issuer``).  The passphrase comes from the environment variable named
by ``cert_issuer_passphrase_env`` or from ``cert_issuer_passphrase_file``: never
from the configuration itself, and it is never logged or kept once the key is
decrypted.  :func:`load_cert_issuer` runs when the HTTP app starts; anything
wrong (file missing, wrong passphrase, key not encrypted, no ``cert_issuer``)
is a :class:`~registry.config.ConfigError` naming the setting and the file, so
the node does not start with a console that cannot do what it shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from registry.config import ConfigError, NodeConfig
from registry.trust.claims import ValueRef
from registry.trust.errors import KeyLoadError
from registry.trust.keys import PrivateKey, load_private_key

#: a passphrase file is a line of text; anything larger is not one
MAX_PASSPHRASE_BYTES = 4096
#: what an encrypted PEM private key says about itself (PKCS#8, SM2, legacy OpenSSL)
ENCRYPTED_MARKS = (b"ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")


@dataclass(frozen=True, slots=True)
class CertIssuer:
    """Who signs certificates the console approves: the reference, its key, the default days."""

    ref: ValueRef
    key: PrivateKey
    days: int

    def __repr__(self) -> str:  # never print key material
        return f"CertIssuer({self.ref}, days={self.days})"


def _unset(path: Path) -> bool:
    return str(path) in ("", ".")


def _passphrase(config: NodeConfig, environ: Mapping[str, str]) -> str:
    env, file = config.cert_issuer_passphrase_env, config.cert_issuer_passphrase_file
    if bool(env) == (not _unset(file)):
        raise ConfigError("cert_issuer_key_path: set exactly one of cert_issuer_passphrase_env "
                          "and cert_issuer_passphrase_file (the issuer key must be encrypted)")
    if env:
        value = environ.get(env, "")
        if not value:
            raise ConfigError(f"cert_issuer_passphrase_env: the variable {env} is not set "
                              "or empty")
        return value
    path = config.path(file)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PASSPHRASE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cert_issuer_passphrase_file: cannot read {path}: "
                          f"{exc.strerror}") from None
    try:
        value = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        value = ""
    if not value or len(raw) > MAX_PASSPHRASE_BYTES:
        raise ConfigError(f"cert_issuer_passphrase_file: {path} does not hold a passphrase "
                          f"(one line of UTF-8 text, at most {MAX_PASSPHRASE_BYTES} bytes)")
    return value


def _issuer_ref(text: str) -> ValueRef:
    ref = ValueRef.parse(text.strip())
    if ref.index <= 0 or "/" not in ref.handle:
        raise ConfigError(f"cert_issuer: must be INDEX:HANDLE (the reference the issuer key is "
                          f"certified as, e.g. 300:0.NA/88.118), got {text!r}")
    return ref


def load_cert_issuer(
    config: NodeConfig, environ: Mapping[str, str] | None = None
) -> CertIssuer | None:
    """The issuer the configuration names, its key decrypted; None when
    ``cert_issuer_key_path`` is unset; :class:`ConfigError` naming the problem otherwise."""
    if _unset(config.cert_issuer_key_path):
        return None
    ref = _issuer_ref(config.cert_issuer)
    path = config.path(config.cert_issuer_key_path)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cert_issuer_key_path: cannot read {path}: {exc.strerror}") from None
    if not any(mark in pem for mark in ENCRYPTED_MARKS):
        raise ConfigError(f"cert_issuer_key_path: {path} is not encrypted: the web tier holds "
                          "this key, so keep it encrypted ('idnode keys gen' without "
                          "--unencrypted)")
    passphrase = _passphrase(config, os.environ if environ is None else environ)
    try:
        key = load_private_key(pem, passphrase)
    except KeyLoadError as exc:
        raise ConfigError(f"cert_issuer_key_path: {path}: {exc}") from None
    return CertIssuer(ref, key, config.cert_issuer_days)
