"""Tests of resolver.dns."""
