"""CNRI HANDLE.NET batch files (``hdl-genericbatch``, ``net.handle.apps.batch.GenericBatch``).

Reading (:func:`read_batch`) turns a batch file into :class:`BatchOp` operations;
writing (:func:`record_block`) turns a handle record into a ``CREATE`` block
that GenericBatch (and :func:`read_batch`) reads back to the same bytes.  The
syntax, as GenericBatch parses it::

    AUTHENTICATE PUBKEY:300:0.NA/88.118      next line: private key file ['|' passphrase]
    AUTHENTICATE SECKEY:300:0.NA/88.118      next line: the secret
    CREATE 88.118.8/TV-1                     value lines, then a blank line
    ADD 88.118.8/TV-1 / MODIFY 88.118.8/TV-1 value lines, then a blank line
    REMOVE 2,3:88.118.8/TV-1
    DELETE 88.118.8/TV-1
    HOME 10.0.0.1:2641:TCP / UNHOME ...      0.NA/ handles, one a line, then a blank line
    SESSIONSETUP                             its option lines, then a blank line

A value line is ``INDEX TYPE TTL PERMS FORMAT DATA``: PERMS four 0/1 digits
(admin read, admin write, public read, public write); FORMAT ``UTF8`` (the rest
of the line, trimmed), ``ADMIN`` (``INDEX:PERMS12:HANDLE``, the twelve
``AdminRecord.perms`` in CNRI's order), ``LIST`` (``INDEX:HANDLE;`` repeated,
an HS_VLIST) or ``FILE`` (a path whose bytes are the data; an HS_SITE file
may be CNRI's siteinfo.json).  Command words and formats are case-insensitive.
A relative FILE path is taken relative to the batch file's folder (CNRI takes
it relative to the working directory: run GenericBatch from that folder).
Data that no inline format carries exactly (binary, several lines, leading or
trailing blanks, empty) is written as a FILE beside the batch file.  What is
not part of a batch file is lost on the way: timestamps, and absolute TTLs
(written as their number, read back as relative).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from protocol.admin_record import PERMISSION_ORDER, AdminRecord, decode_admin_record
from protocol.admin_record import encode_admin_record as encode_admin
from protocol.errors import ProtocolError
from protocol.references import decode_vlist, encode_vlist
from protocol.rest_json import site_from_json
from protocol.site_info import encode_site_info
from protocol.values import HandleValue, ValueReference

#: operation words that count as operations (AUTHENTICATE and SESSIONSETUP only set context)
OPERATIONS = ("CREATE", "ADD", "MODIFY", "REMOVE", "DELETE", "HOME", "UNHOME")


@dataclass(frozen=True, slots=True)
class BatchOp:
    """One operation of a batch file, from line ``row`` to line ``end`` (counted from 1).

    ``handle`` is the handle (or, for HOME/UNHOME, the server line); ``values``
    the values of CREATE/ADD/MODIFY; ``indexes`` those of REMOVE; ``prefixes``
    the ``0.NA/`` handles of HOME/UNHOME.  ``error`` says why the block is
    unusable (nothing else is then set).
    """

    kind: str
    row: int
    end: int
    handle: str = ""
    values: tuple[HandleValue, ...] = ()
    indexes: tuple[int, ...] = ()
    prefixes: tuple[str, ...] = ()
    error: str | None = None


class BatchSyntaxError(ValueError):
    """A line that GenericBatch would reject (``==>INVALID``)."""


# --- reading ------------------------------------------------------------------------


@dataclass
class _Lines:
    lines: list[str]
    at: int = 0  # lines consumed

    def next(self) -> str | None:
        if self.at >= len(self.lines):
            return None
        self.at += 1
        return self.lines[self.at - 1].rstrip("\r\n")

    def block(self) -> list[tuple[int, str]]:
        """The following lines up to a blank one (consumed) or the end."""
        found = []
        while (line := self.next()) is not None and line.strip():
            found.append((self.at, line))
        return found


def read_batch(text: str, base: Path) -> Iterator[BatchOp]:
    """The operations of batch file ``text`` in order (FILE paths relative to ``base``)."""
    src = _Lines(text.removeprefix("\ufeff").splitlines())
    while (line := src.next()) is not None:
        row = src.at
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "AUTHENTICATE":
            src.next()  # the secret or key file: the import runs as the operator
            continue
        if word == "SESSIONSETUP":
            src.block()
            continue
        if word not in OPERATIONS:
            yield BatchOp(word or "?", row, row, error=f"unknown command {word!r}")
            continue
        yield _operation(word, rest, row, src, base)


def _operation(word: str, rest: str, row: int, src: _Lines, base: Path) -> BatchOp:
    if word in ("CREATE", "ADD", "MODIFY"):
        lines = src.block()
        end = lines[-1][0] if lines else row
        if not rest:
            return BatchOp(word, row, end, error="no handle after " + word)
        try:
            values = tuple(parse_value_line(text, base) for _, text in lines)
        except BatchSyntaxError as exc:
            return BatchOp(word, row, end, rest, error=str(exc))
        if not values:
            return BatchOp(word, row, end, rest, error=f"no handle values for {rest}")
        return BatchOp(word, row, end, rest, values=values)
    if word in ("HOME", "UNHOME"):
        lines = src.block()
        end = lines[-1][0] if lines else row
        return BatchOp(word, row, end, rest, prefixes=tuple(t.strip() for _, t in lines))
    if word == "REMOVE":
        indexes, colon, handle = rest.partition(":")
        try:
            numbers = tuple(int(i) for i in indexes.split(",") if i.strip())
        except ValueError:
            numbers = ()
        if not colon or not numbers or not handle.strip():
            return BatchOp(word, row, row, rest, error="REMOVE needs INDEX[,INDEX...]:HANDLE")
        return BatchOp(word, row, row, handle.strip(), indexes=numbers)
    if not rest:
        return BatchOp(word, row, row, error="no handle after DELETE")
    return BatchOp(word, row, row, rest)


def parse_value_line(line: str, base: Path) -> HandleValue:
    """One ``INDEX TYPE TTL PERMS FORMAT DATA`` line (``GenericBatch.readHandleValue``)."""
    parts = line.strip().split(None, 5)
    if len(parts) < 5:
        raise BatchSyntaxError(f"value line needs INDEX TYPE TTL PERMS FORMAT DATA: {line!r}")
    index_text, value_type, ttl_text, perms, fmt = parts[:5]
    data_text = parts[5].strip() if len(parts) > 5 else ""
    try:
        index, ttl = int(index_text), int(ttl_text)
    except ValueError:
        raise BatchSyntaxError(f"index and ttl must be numbers: {line!r}") from None
    if len(perms) < 4:
        raise BatchSyntaxError(f"permissions must be four 0/1 digits: {line!r}")
    if not data_text:
        raise BatchSyntaxError(f"no data: {line!r}")
    data = _data(fmt.upper(), value_type, data_text, base)
    return HandleValue(
        index=index, type=value_type, data=data, ttl=ttl,
        admin_read=perms[0] == "1", admin_write=perms[1] == "1",
        public_read=perms[2] == "1", public_write=perms[3] == "1",
    )


def _data(fmt: str, value_type: str, text: str, base: Path) -> bytes:
    if fmt == "UTF8":
        return text.encode("utf-8")
    if fmt == "ADMIN":
        return encode_admin(_admin_record(text))
    if fmt == "LIST":
        return encode_vlist(_references(text))
    if fmt == "FILE":
        path = Path(text)
        path = path if path.is_absolute() else base / path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise BatchSyntaxError(f"cannot read FILE {text}: {exc.strerror}") from None
        if value_type.upper() == "HS_SITE" and raw.lstrip()[:1] == b"{":  # siteinfo.json
            try:
                return encode_site_info(site_from_json(orjson.loads(raw)))
            except (ValueError, ProtocolError) as exc:
                raise BatchSyntaxError(f"FILE {text} is not a site: {exc}") from None
        return raw
    raise BatchSyntaxError(f"unknown data format {fmt!r} (UTF8, ADMIN, LIST or FILE)")


def _admin_record(text: str) -> AdminRecord:
    index, _, rest = text.partition(":")
    perms, _, handle = rest.partition(":")
    perms = perms.strip()
    if len(perms) != 12 or set(perms) - {"0", "1"} or not handle.strip():
        raise BatchSyntaxError(f"ADMIN data must be INDEX:PERMS12:HANDLE, got {text!r}")
    try:
        admin_index = int(index)
    except ValueError:
        raise BatchSyntaxError(f"bad admin index in {text!r}") from None
    bits = sum(bit for bit, flag in zip(PERMISSION_ORDER, perms, strict=True) if flag == "1")
    return AdminRecord(handle.strip(), admin_index, bits)


def _references(text: str) -> tuple[ValueReference, ...]:
    refs = []
    for part in text.split(";"):
        if not part.strip():
            continue
        index, colon, handle = part.partition(":")
        try:
            refs.append(ValueReference(handle.strip(), int(index)))
        except ValueError:
            raise BatchSyntaxError(f"LIST entries must be INDEX:HANDLE;, got {part!r}") from None
        if not colon or not handle.strip():
            raise BatchSyntaxError(f"LIST entries must be INDEX:HANDLE;, got {part!r}")
    if not refs:
        raise BatchSyntaxError("empty LIST")
    return tuple(refs)


# --- writing ------------------------------------------------------------------------


#: stores bytes that need a FILE line and returns the path to write on it
FileSink = Callable[[str, HandleValue], str]


@dataclass
class FolderSink:
    """Writes FILE data into ``folder`` (created on first use), named by a counter;
    returns the path relative to ``relative_to`` (the batch file's folder)."""

    folder: Path
    relative_to: Path
    count: int = field(default=0)

    def __call__(self, handle: str, value: HandleValue) -> str:
        self.count += 1
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / f"{self.count:06d}-{value.index}.bin"
        path.touch(mode=0o600)  # secrets may be among the data
        path.write_bytes(value.data)
        with contextlib.suppress(ValueError):
            return str(path.relative_to(self.relative_to))
        return str(path)


def record_block(handle: str, values: tuple[HandleValue, ...] | list[HandleValue],
                 sink: FileSink) -> str:
    """``CREATE handle``, its value lines, and the blank line that ends the block."""
    if not handle.strip() or any(c.isspace() for c in handle):
        raise BatchSyntaxError(f"handle {handle!r} cannot be written in a batch file")
    lines = [f"CREATE {handle}"]
    lines += [value_line(handle, v, sink) for v in sorted(values, key=lambda v: v.index)]
    return "\n".join(lines) + "\n\n"


def value_line(handle: str, value: HandleValue, sink: FileSink) -> str:
    """The value line for ``value`` (inline when a format carries its bytes exactly)."""
    if not value.type or any(c.isspace() for c in value.type):
        raise BatchSyntaxError(f"{handle} index {value.index}: type {value.type!r} has blanks")
    perms = "".join("1" if flag else "0" for flag in (
        value.admin_read, value.admin_write, value.public_read, value.public_write))
    fmt, data = _inline(value) or ("FILE", sink(handle, value))
    return f"{value.index} {value.type} {value.ttl} {perms} {fmt} {data}"


def _inline(value: HandleValue) -> tuple[str, str] | None:
    """(format, text) when the value's bytes survive an inline format, else None."""
    if value.type == "HS_ADMIN":
        with contextlib.suppress(ProtocolError):
            admin = decode_admin_record(value.data)
            if encode_admin(admin) == value.data and _plain(admin.admin_handle):
                perms = "".join("1" if admin.has(bit) else "0" for bit in PERMISSION_ORDER)
                return "ADMIN", f"{admin.admin_index}:{perms}:{admin.admin_handle}"
    if value.type == "HS_VLIST":
        with contextlib.suppress(ProtocolError):
            refs = decode_vlist(value.data)
            if refs and encode_vlist(refs) == value.data and all(
                _plain(r.handle) and ";" not in r.handle for r in refs
            ):
                return "LIST", "".join(f"{r.index}:{r.handle};" for r in refs)
    try:
        text = value.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _plain(text) and "\x00" not in text:
        return "UTF8", text
    return None


def _plain(text: str) -> bool:
    """Text a value line carries unchanged: one line, not empty, no outer blanks."""
    return bool(text) and text == text.strip() and "\n" not in text and "\r" not in text
