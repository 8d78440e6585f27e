"""Challenge and session tables shared by the Handle server processes of one node.

A CNRI client answers a challenge, and sends each request of a session, on a
new connection; with SO_REUSEPORT the kernel may hand it to any process, so
every process must see the same open challenges and sessions.  One
``multiprocessing`` manager process holds the two tables;
:class:`SharedAuthTables` starts it, and any process (a spawned worker, or a
``--worker-child`` started by the CLI) joins with :func:`connect_auth_tables`
using its address and key, then passes the stores to ``run_handle_server``.

The manager process ends with the process that started it, even when that
one is killed with SIGKILL (:mod:`resolver.core.orphans`), and removes the
directory of its socket as it goes; its resource tracker then ends too.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import signal
import tempfile
from multiprocessing.managers import BaseManager
from typing import Any

from protocol.message import Message
from resolver.core.limits import DEFAULT_LIMITS, Limits
from resolver.core.orphans import die_with_parent
from resolver.handle.challenges import ChallengeStore, ChallengeTable
from resolver.handle.sessions import SessionStore, SessionTable

#: the tables, created on first use inside the manager process
_TABLES: dict[str, Any] = {}


def _challenge_table(lifetime: float, max_pending: int) -> ChallengeTable[Message]:
    if "challenges" not in _TABLES:
        _TABLES["challenges"] = ChallengeTable(lifetime, max_pending)
    table: ChallengeTable[Message] = _TABLES["challenges"]
    return table


def _session_table(max_sessions: int) -> SessionTable:
    if "sessions" not in _TABLES:
        _TABLES["sessions"] = SessionTable(max_sessions)
    table: SessionTable = _TABLES["sessions"]
    return table


class _AuthManager(BaseManager):
    """Serves the node's one challenge table and one session table."""


_AuthManager.register("challenges", callable=_challenge_table)
_AuthManager.register("sessions", callable=_session_table)


class SharedAuthTables:
    """The manager process holding the tables.  ``address`` (a Unix socket path)
    and ``authkey`` are what other processes need to connect; keep the key
    secret (it lets a process read session keys)."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="idnode-auth-")
        self.address = os.path.join(self._dir, "tables")
        self.authkey = secrets.token_bytes(32)
        self._manager = _AuthManager(
            address=self.address, authkey=self.authkey, ctx=multiprocessing.get_context("spawn")
        )
        self._manager.start(_serve_tables, (os.getpid(), self._dir))

    def close(self) -> None:
        """Stop the manager process and remove its socket."""
        self._manager.shutdown()
        shutil.rmtree(self._dir, ignore_errors=True)  # the manager may have removed it


def _serve_tables(parent: int, folder: str) -> None:
    """In the manager process: end with ``parent``, removing ``folder`` (the socket's)."""

    def stop(_signum: int, _frame: object) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    die_with_parent(parent)


def connect_auth_tables(
    address: str, authkey: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[ChallengeStore[Message], SessionStore]:
    """Stores for ``run_handle_server(challenges=..., sessions=...)`` backed by the
    shared tables (created with ``limits`` by whichever process comes first)."""
    manager = _AuthManager(address=address, authkey=authkey)
    manager.connect()
    challenges = manager.challenges(  # type: ignore[attr-defined]
        limits.challenge_lifetime, limits.max_pending_challenges
    )
    sessions = manager.sessions(limits.max_sessions)  # type: ignore[attr-defined]
    return ChallengeStore(challenges, remote=True), SessionStore(sessions, remote=True)
