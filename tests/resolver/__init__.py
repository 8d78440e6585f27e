"""Tests for resolver."""
