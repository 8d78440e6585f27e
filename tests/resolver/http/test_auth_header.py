"""What an ``Authorization: Handle ...`` header says (resolver.http.auth.HandleAuthHeader):
its session, and whether it tries to prove an identity (any of id, type, alg or
signature, named in any case)."""

from __future__ import annotations

import pytest

from resolver.http.auth import HandleAuthHeader


@pytest.mark.parametrize(("header", "session_id", "authenticating"), [
    ('Handle sessionId="abc"', "abc", False),
    ('Handle SESSIONID="abc", cnonce="bm9uY2U="', "abc", False),
    ('Handle sessionId="abc", id="300%3A0.NA%2F88.118.8"', "abc", True),
    ('Handle ID="300:0.NA/88.118.8"', None, True),
    ('Handle sessionId="abc", Type="HS_SECKEY"', "abc", True),
    ('Handle ALG="HMAC-SHA256"', None, True),
    ('Handle cnonce="x", signature="c2ln"', None, True),
    ('Handle cnonce="x"', None, False),
])
def test_session_and_proof_of_a_header(header: str, session_id: str | None,
                                       authenticating: bool) -> None:
    parsed = HandleAuthHeader.parse(header)
    assert parsed is not None
    assert parsed.session_id == session_id
    assert parsed.authenticating is authenticating
    assert parsed.authenticating is any(
        parsed.get(k) is not None for k in ("id", "TYPE", "Alg", "signature"))
