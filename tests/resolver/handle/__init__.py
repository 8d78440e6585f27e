"""Tests of resolver.handle."""
