"""Errors of the trust layer (keys, JWS, claims).

Each message is one clear line meant for an operator; none ever contains key
material.
"""

from __future__ import annotations


class TrustError(Exception):
    """Base of every error raised by :mod:`registry.trust`."""


class KeyLoadError(TrustError):
    """A private key could not be loaded: wrong or missing passphrase, bad PEM, unsupported type."""


class PassphraseNeeded(KeyLoadError):
    """The private key is encrypted and no passphrase was given."""


class PassphraseNotExpected(KeyLoadError):
    """A passphrase was given for a private key that is not encrypted."""


class WrongPassphrase(KeyLoadError):
    """The passphrase does not decrypt the private key."""


class JwsError(TrustError):
    """A JSON Web Signature could not be created or parsed."""


class ClaimsError(TrustError):
    """A JWS payload is not a well-formed Handle claims set."""
