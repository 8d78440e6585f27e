"""Tests for registry."""
