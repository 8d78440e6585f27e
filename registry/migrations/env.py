"""Alembic environment: migrates the connection :func:`registry.db.run_migrations` hands over.

No ``alembic.ini`` is involved: the caller builds the Alembic ``Config`` and puts
an open (synchronous facade of an async) connection in
``config.attributes["connection"]``; this module only runs the scripts on it.
"""

from __future__ import annotations

from alembic import context

from registry.models import Base
from registry.partitions import is_partition


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave the handle tables' partitions out of comparisons with the models."""
    return not (type_ == "table" and name is not None and is_partition(name))


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    compare_type=True,
    include_name=_include_name,
)
with context.begin_transaction():
    context.run_migrations()
