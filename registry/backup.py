"""Consistent copies of the registry and their restore, with the tools each engine provides.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies the
  database page by page under a read transaction, so a node may keep serving
  and writing while it runs; the copy is a plain SQLite file.  Restore copies
  it back (the target must not exist, or be replaced on purpose).
* PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot of the
  node's schema: ``database_schema``, else ``public``), restored with
  ``pg_restore --no-owner`` into an empty database.  The client tools of the
  server's major version must be installed (Debian: ``postgresql-client-NN``).

Nothing is re-implemented: both are the engines' own consistent-copy tools.
After a restore the caller verifies the audit chain
(:meth:`~registry.audit.AuditMixin.verify_audit`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from registry.db import normalise_url

PAGES_PER_STEP = 1024
PG_TOOL_TIMEOUT = 3600.0


class BackupError(RuntimeError):
    """A backup or restore that could not be made; the message says why."""


Progress = Callable[[int, int], None]   # (pages copied, pages in all)


def is_sqlite(url: str) -> bool:
    """Whether ``url`` is an SQLite database."""
    return normalise_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL."""
    database = normalise_url(url).database
    if not database:
        raise BackupError(f"{url}: an in-memory SQLite database has nothing to back up")
    return Path(database)


def backup_sqlite(url: str, out: Path, progress: Progress | None = None) -> None:
    """Copy the SQLite database of ``url`` to ``out`` (online, consistent)."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"{source_path}: no such database")
    tmp = out.with_name(out.name + ".part")
    with sqlite3.connect(f"file:{source_path}?mode=ro", uri=True) as source, \
            sqlite3.connect(tmp) as target:
        source.backup(target, pages=PAGES_PER_STEP,
                      progress=None if progress is None else
                      lambda _status, remaining, total: progress(total - remaining, total))
        # the copy takes the source's WAL mode; a backup is one self-contained file
        target.execute("PRAGMA journal_mode=DELETE")
    tmp.replace(out)


def restore_sqlite(backup: Path, url: str, *, replace: bool = False) -> None:
    """Put the SQLite ``backup`` where ``url`` points (refused if a database is there)."""
    target = sqlite_path(url)
    if target.exists() and not replace:
        raise BackupError(f"{target} exists: restore into a fresh data dir, or --replace")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    # through SQLite, not a file copy: what a -wal file beside the backup holds counts too
    with sqlite3.connect(backup) as source, sqlite3.connect(target) as copy:
        try:
            intact = source.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        except sqlite3.DatabaseError:
            intact = False
        if not intact:
            raise BackupError(f"{backup}: not an intact SQLite database")
        source.backup(copy, pages=PAGES_PER_STEP)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: postgresql-client)")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """``url`` as libpq reads it, without its password, and the environment carrying it
    (a password on a command line is visible to every user of the machine)."""
    parsed = normalise_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def backup_postgres(url: str, schema: str, out: Path) -> None:
    """``pg_dump --format=custom`` of ``schema`` into ``out``."""
    dbname, env = _libpq(url)
    command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--schema={schema}",
               f"--file={out}", f"--dbname={dbname}"]
    _run(command, env, "pg_dump")


def restore_postgres(backup: Path, url: str) -> None:
    """``pg_restore`` of ``backup`` into the (empty) database of ``url``."""
    dbname, env = _libpq(url)
    command = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error",
               f"--dbname={dbname}", str(backup)]
    _run(command, env, "pg_restore")


def _run(command: list[str], env: dict[str, str], tool: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=PG_TOOL_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{tool} did not finish within {PG_TOOL_TIMEOUT:g} s") from None
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-500:]}")


def make_backup(url: str, schema: str, out: Path, *, replace: bool = False,
                progress: Progress | None = None) -> int:
    """Back up the registry of ``url`` (``schema`` on PostgreSQL) to ``out``; its size."""
    if out.exists() and not replace:
        raise BackupError(f"{out} exists: choose another name, or replace it on purpose")
    if is_sqlite(url):
        backup_sqlite(url, out, progress)
    else:
        backup_postgres(url, schema, out)
    return out.stat().st_size


def restore_backup(backup: Path, url: str, *, replace: bool = False) -> None:
    """Restore ``backup`` into the database of ``url`` (SQLite: the file; PostgreSQL: empty)."""
    if not backup.is_file():
        raise BackupError(f"{backup}: no such backup file")
    if is_sqlite(url):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        restore_sqlite(backup, url, replace=replace)
    else:
        restore_postgres(backup, url)
