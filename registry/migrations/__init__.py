"""Alembic migrations of the registry schema, run from code by :func:`registry.db.migrate`."""
