"""Shared entry point of the atheris harnesses: libFuzzer flags come from argv."""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris


def fuzz(check: Callable[[bytes], None]) -> None:
    """Run libFuzzer over ``check`` with the command line's corpus dirs and flags."""
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
