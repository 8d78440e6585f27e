"""DSA key classes for CNRI compatibility, without a deprecation warning at import.

CNRI's Handle servers and clients still use DSA keys (``DSA_PUB_KEY``, and
DSA is the default of older ``hdl-keygen``), so idnode keeps verifying and
producing DSA signatures.  ``cryptography`` 51 deprecated DSA and warns on
*every attribute access* of its ``dsa`` module, including the class names that
idnode's type unions and ``isinstance`` checks mention at import.  That warning
would reach every ``idnode`` command's stderr although no DSA key is in play.

This module reads the class names once with that warning silenced.  Operations
that really build or use a DSA key (``dsa.DSAPublicNumbers(...)``,
``generate_private_key``) still go through ``cryptography``'s public names and
so still warn: a user holding a DSA key is told, nobody else is.
"""

from __future__ import annotations

import warnings

from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    DSAPublicKey = dsa.DSAPublicKey
    DSAPrivateKey = dsa.DSAPrivateKey
