"""Auth review, by reading the code: secrets and MACs are compared in constant time only.

Every ``==``/``!=`` (and ``in``) in the serving, registry and CLI code whose
operand is a variable or attribute named like a secret, a MAC, a password, a
token or a signature is reported, unless the other side is a constant (a
literal or an UPPER_CASE module constant such as a type name): such
comparisons must go through ``hmac.compare_digest``.  The modules that
check secrets do call it.  And no logging call is handed anything named like
a secret or a key (the runtime check is ``test_auth_logs.py``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "resolver", "registry", "admin")
SECRET_NAME = re.compile(r"secret|(^|_)mac($|_)|password|passphrase|token|signature|seckey",
                         re.IGNORECASE)
KEY_NAME = re.compile(r"secret|password|passphrase|private|authorization|credential"
                      r"|(server|session|signing|mac)_?key", re.IGNORECASE)
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
LOGGERS = {"log", "_log", "logger", "logging"}
COMPARED_IN_CONSTANT_TIME = (
    "protocol/auth.py", "protocol/credential.py", "resolver/core/service.py",
)


def _names(node: ast.AST) -> list[str]:
    """The names a plain operand (names, attributes, subscripts) is made of; none for
    anything computed by a call (a length, a code looked up...)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr, *_names(node.value)]
    if isinstance(node, ast.Subscript):
        return _names(node.value)
    return []


def _constant(node: ast.AST) -> bool:
    """A literal, or a module constant (UPPER_CASE): a type name or code, not a secret."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        return name.isupper()
    return isinstance(node, ast.Tuple | ast.Set | ast.List) and all(
        _constant(e) for e in node.elts)


def _suspicious(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
            continue
        if any(_constant(o) for o in operands):
            continue
        named = [n for o in operands for n in _names(o) if SECRET_NAME.search(n)]
        if named:
            found.append((node.lineno, ",".join(named)))
    return found


def _logged_secrets(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOG_METHODS and isinstance(node.func.value, ast.Name)
                and node.func.value.id in LOGGERS):
            continue
        named = [n for arg in node.args[1:] for sub in ast.walk(arg) for n in _names(sub)
                 if KEY_NAME.search(n)]
        if named:
            found.append((node.lineno, ",".join(named)))
    return found


def _modules() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(), str(path)))
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def test_no_logging_call_is_given_a_secret_or_key() -> None:
    problems = [f"{path.relative_to(ROOT)}:{line} logs {what}"
                for path, tree in _modules() for line, what in _logged_secrets(tree)]
    assert problems == []


def test_no_secret_or_mac_is_compared_with_eq() -> None:
    problems = [f"{path.relative_to(ROOT)}:{line} compares {what}"
                for path, tree in _modules() for line, what in _suspicious(tree)]
    assert problems == []


def test_secret_checks_use_compare_digest() -> None:
    for module in COMPARED_IN_CONSTANT_TIME:
        assert "hmac.compare_digest(" in (ROOT / module).read_text(), module


def test_the_check_sees_a_plain_comparison() -> None:
    code = ("ok = expected_mac == answer\nbad = body.signed_secret != given\n"
            "fine = value.type == TYPE_HS_SECKEY\nalso = len(signature) != 64\n")
    assert [line for line, _ in _suspicious(ast.parse(code))] == [1, 2]
    logging_code = ('log.info("auth %s", body.secret_key)\nlog.info("path %s", path)\n'
                    'logger.warning("x %r", config.server_key)\n')
    assert [line for line, _ in _logged_secrets(ast.parse(logging_code))] == [1, 3]
