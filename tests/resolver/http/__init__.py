"""Tests of resolver.http."""
