"""Tests of resolver.core."""
