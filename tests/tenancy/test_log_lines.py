"""F12 (issue 18): a client-claimed identity cannot write a line of its own into the log."""

from __future__ import annotations

import io
import logging

from resolver.core.log_format import EscapingFormatter, configure_logging, escape_controls

FORGED = "0.NA/88.118.7\n2026-12-06 12:00:00 INFO idnode admin login ok identity=300:0.NA/88"


def test_control_characters_are_escaped_on_one_line() -> None:
    assert escape_controls("a\nb\r\tc\x1b[31m\u2028\\n") == "a\\nb\\r\\tc\\x1b[31m\\u2028\\\\n"
    record = logging.LogRecord("idnode", logging.INFO, __file__, 1,
                               "handle auth failed identity=%s:%s", (300, FORGED), None)
    line = EscapingFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and line.startswith("INFO handle auth failed identity=300:0.NA/")
    assert "\\n2026-12-06" in line


def test_serve_logging_escapes_every_message() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        configure_logging("info", stream)
        logging.getLogger("resolver.handle.requests").info("identity=%s", FORGED)
    finally:
        root.handlers, root.level = saved[0], saved[1]
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("identity=0.NA/88.118.7\\n2026-12-06 12:00:00 "
                                                 "INFO idnode admin login ok identity=300:0.NA/88")
