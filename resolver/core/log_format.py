"""One log line per event, whatever the event carries: the node's log formatter.

Log messages name things clients chose (claimed identities, handle names,
hosts).  A newline or another control character in one of them would let a
client write a line of its own into the log (log forging, issue 18 F12), so
the formatter escapes every control character of the message (``\\n`` becomes
the two characters backslash-n), after the arguments are merged in: no call
site can forget it.  Tracebacks, appended after the message, keep their lines.
"""

from __future__ import annotations

import logging
from typing import TextIO

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# every C0 control character, DEL and the C1 controls and Unicode line breaks
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_ESCAPES = {code: chr(code).encode("unicode_escape").decode("ascii") for code in _CONTROLS}
_ESCAPES[0x5C] = "\\\\"  # a literal backslash doubles, so an escape cannot be faked either


def escape_controls(text: str) -> str:
    """``text`` with control characters (and backslashes) escaped, on one line."""
    return text.translate(_ESCAPES)


class EscapingFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose messages cannot span lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Log at ``level`` to ``stream`` (stderr) through :class:`EscapingFormatter`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter(LINE_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
