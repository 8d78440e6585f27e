"""Tests of registry.trust: keys, JWS, certificates, record signatures, verification."""
