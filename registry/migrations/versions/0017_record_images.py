"""``handles.image``: each record's values as one blob ready for the wire.

A resolution that misses every cache read a record's ~15 value rows, built a value
object from each and encoded them all again for the answer (issue 17).  The image
(:mod:`protocol.record_image`) is those values as a resolution response carries them,
behind a short head (how many values anyone may not read, the smallest TTLs): a cold
read fetches one blob instead of the rows, and a plain resolution is answered with
its bytes.  Every write keeps it in step with the rows, in the same transaction; a
NULL image (a record whose values the wire cannot carry exactly) is read from the
rows as before.

This migration adds the column and fills it for the records there are, 2,000 at a
time in handle order.  It makes the images with :func:`protocol.record_image.make_image`
(the protocol package is pure and keeps no state): an image names its format, and a
later format would be a later migration filling the column again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

from protocol.record_image import make_image
from protocol.values import ValueReference, make_value

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000


def _value(row: Any) -> Any:
    (_hid, _key, idx, type_, data, ttl_type, ttl, timestamp, ar, aw, pr, pw, refs) = row
    if isinstance(refs, str):
        refs = json.loads(refs)
    return make_value(idx, type_, bytes(data), ttl_type, ttl, timestamp, bool(ar), bool(aw),
                      bool(pr), bool(pw), tuple(ValueReference(h, i) for h, i in refs or ()))


def _fill(bind: sa.Connection) -> None:
    refs = '"references"::text' if bind.dialect.name == "postgresql" else '"references"'
    heads = sa.text("SELECT id, name_key FROM handles WHERE id > :after ORDER BY id LIMIT "
                    f"{_BATCH}")
    values = sa.text(
        "SELECT v.handle_id, v.name_key, v.idx, v.type, v.data, v.ttl_type, v.ttl, "
        "v.timestamp, v.admin_read, v.admin_write, v.public_read, v.public_write, "
        f"v.{refs} FROM handle_values AS v WHERE v.handle_id >= :first "
        "AND v.handle_id <= :last ORDER BY v.handle_id, v.idx")
    store = sa.text("UPDATE handles SET image = :image WHERE id = :id AND name_key = :key")
    after = 0
    while True:
        batch = bind.execute(heads, {"after": after}).all()
        if not batch:
            return
        after = batch[-1][0]
        keys: dict[int, str] = {hid: key for hid, key in batch}
        rows = bind.execute(values, {"first": batch[0][0], "last": after}).all()
        images = {hid: make_image([_value(row) for row in group])
                  for hid, group in groupby(rows, key=lambda row: row[0])}
        updates = [{"id": hid, "key": key, "image": images.get(hid, make_image(()))}
                   for hid, key in keys.items()]
        bind.execute(store, updates)


def upgrade() -> None:
    """Add ``handles.image`` and make every record's image."""
    op.add_column("handles", sa.Column("image", sa.LargeBinary(), nullable=True))
    _fill(op.get_bind())


def downgrade() -> None:
    """Drop the images (the rows hold everything they held)."""
    op.drop_column("handles", "image")
