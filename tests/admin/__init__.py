"""Tests for admin."""
