"""The index from other schemes' identifiers (GS1, OID, Ecode) to handles, kept inside every write.

A record names its other identifiers in typed values: ``ID.GS1`` (a GTIN with
serial, an SSCC... in any spelling :mod:`registry.schemes.gs1` reads) and
``ID.OID``, ``ID.ECODE``.  Each write transaction parses them (:func:`parse_record`; a value that
does not parse, or parses as another scheme than its type says, is refused
with the value's index and the reason) and brings ``identifier_keys`` up to
date; a key already bound to another handle is refused with the owner named.
Deleting a handle drops its keys (foreign key, ON DELETE CASCADE).

A key is bound whatever the tier of the value naming it (one code, one
handle), but it is *public* only when a value naming it has ``PUBLIC_READ``
(:mod:`registry.tiers`): only public keys are found by :func:`public_handle_of`,
which ``/api/resolve``, GS1 Digital Link and DNS ask, so a partners-only or
owner-only identifier does not leak through the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.values import HandleValue
from registry.errors import InvalidValue
from registry.models import IdentifierKey, table_of
from registry.names import name_key
from registry.schemes import Identifier, SchemeError, parse_identifier

ID_TYPES: dict[str, str] = {"ID.GS1": "gs1", "ID.OID": "oid", "ID.ECODE": "ecode"}
MAX_IDENTIFIERS_PER_RECORD = 32
_K = table_of(IdentifierKey)
_CHUNK = 500

Values = Mapping[int, HandleValue]
#: a bulk write parses each record's identifiers twice (check, then index): the second
#: time is a look-up here (texts to immutable Identifiers, bounded)
_parse = lru_cache(maxsize=8192)(parse_identifier)


def _parsed(values: Values) -> dict[str, tuple[Identifier, bool]]:
    """``{canonical key: (identifier, named by a public value)}`` of a record."""
    found: dict[str, tuple[Identifier, bool]] = {}
    if not any(value.type in ID_TYPES for value in values.values()):
        return found
    for index, value in sorted(values.items()):
        scheme = ID_TYPES.get(value.type)
        if scheme is None:
            continue
        text = value.data.decode("utf-8", "replace")
        try:
            identifier = _parse(text)
        except SchemeError as exc:
            raise InvalidValue(f"value {index} ({value.type}): {exc}") from None
        if identifier.scheme != scheme:
            raise InvalidValue(f"value {index} ({value.type}): {text!r} is "
                               f"{identifier.scheme.upper()}, not {scheme.upper()}")
        earlier = found.get(identifier.key)
        public = value.public_read or (earlier is not None and earlier[1])
        found[identifier.key] = (identifier, public)
    if len(found) > MAX_IDENTIFIERS_PER_RECORD:
        raise InvalidValue(f"more than {MAX_IDENTIFIERS_PER_RECORD} other identifiers "
                           "in one record")
    return found


async def owners(conn: AsyncConnection, keys: Iterable[str]) -> dict[str, str]:
    """``{key: handle}`` for those of ``keys`` bound to a handle."""
    wanted = sorted(set(keys))
    bound: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(_K.c.key, _K.c.handle).where(_K.c.key.in_(wanted[start:start + _CHUNK]))
        bound.update({row[0]: row[1] for row in await conn.execute(query)})
    return bound


def _taken(name: str, key: str, owner: str) -> InvalidValue:
    return InvalidValue(f"{key.split(':', 1)[0].upper()} key {key.split(':', 1)[1]} is "
                        f"already bound to {owner}, not {name}")


async def on_write(conn: AsyncConnection, name: str, old: Values | None, new: Values) -> None:
    """Check the identifiers of the record a write leaves and re-index them."""
    parsed = _parsed(new)
    if old is not None and _parsed(old) == parsed:
        return
    keys = {key: ident for key, (ident, _public) in parsed.items()}
    own = name_key(name)
    for key, owner in (await owners(conn, keys)).items():
        if name_key(owner) != own:
            raise _taken(name, key, owner)
    if old is not None:  # a new handle has no keys yet (its earlier keys went with it)
        await conn.execute(delete(_K).where(_K.c.name_key == own))
    await _insert(conn, [(name, parsed)])


#: a record's identifiers as :func:`parse_record` gives them: ``{canonical key:
#: (identifier, named by a public value)}``, or why they are malformed
Parsed = dict[str, tuple[Identifier, bool]] | str


def parse_record(values: Values) -> Parsed:
    """The identifiers a record names, or why they are malformed (what a bulk write
    finds out before its transaction: :mod:`registry.bulk_prepare`)."""
    try:
        return _parsed(values)
    except InvalidValue as exc:
        return str(exc)


async def check_records(
    conn: AsyncConnection, records: Iterable[tuple[str, Values]],
    parsed_already: Mapping[str, Parsed] | None = None,
) -> dict[str, str]:
    """``{handle: reason}`` for each record of a batch whose identifiers are malformed or taken
    (by another handle, or by an earlier record of the same batch); ``parsed_already``:
    records' identifiers parsed before (:func:`parse_record`), by name."""
    bad: dict[str, str] = {}
    parsed: dict[str, Mapping[str, object]] = {}  # the canonical keys each record names
    made = parsed_already or {}
    for name, values in records:
        found = made[name] if name in made else parse_record(values)
        if isinstance(found, str):
            bad[name] = found
        else:
            parsed[name] = found
    bound = await owners(conn, (key for keys in parsed.values() for key in keys))
    claimed: dict[str, str] = {}
    for name, keys in parsed.items():
        for key in keys:
            owner = bound.get(key) or claimed.get(key)
            if owner is not None and name_key(owner) != name_key(name):
                bad[name] = str(_taken(name, key, owner))
                break
        else:
            claimed.update(dict.fromkeys(keys, name))
    return bad


async def index_records(conn: AsyncConnection, records: Iterable[tuple[str, Values]],
                        *, replaced: Iterable[str] | None = None,
                        parsed_already: Mapping[str, Parsed] | None = None) -> None:
    """Re-index a batch that :func:`check_records` passed: the old keys of the ``replaced``
    handles (default: of every handle of the batch) are dropped first (a new handle has
    none: its earlier keys went with it); ``parsed_already`` as for :func:`check_records`."""
    made = parsed_already or {}
    todo = [(name, found if isinstance(found := made.get(name), dict) else _parsed(values))
            for name, values in records]
    names = [name_key(name) for name in (replaced if replaced is not None
                                         else (name for name, _keys in todo))]
    for start in range(0, len(names), _CHUNK):
        await conn.execute(delete(_K).where(_K.c.name_key.in_(names[start:start + _CHUNK])))
    await _insert(conn, todo)


async def _insert(conn: AsyncConnection,
                  todo: list[tuple[str, dict[str, tuple[Identifier, bool]]]]) -> None:
    rows = [{"key": key, "scheme": ident.scheme, "name_key": name_key(name), "handle": name,
             "public": public}
            for name, keys in todo for key, (ident, public) in keys.items()]
    for start in range(0, len(rows), _CHUNK):
        await conn.execute(insert(_K), rows[start:start + _CHUNK])


async def public_handle_of(conn: AsyncConnection, key: str) -> str | None:
    """The handle an identifier's canonical key is bound to by a public value, if any."""
    query = select(_K.c.handle).where(_K.c.key == key, _K.c.public)
    return (await conn.execute(query)).scalar_one_or_none()
