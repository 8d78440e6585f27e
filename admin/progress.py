"""A progress display on stderr for long commands: done/total, rows per second and ETA.

On a terminal the line is redrawn in place; otherwise (a pipe, a log file, a
test reading stderr) one complete line is written at most every ``interval``
seconds, so a reader always sees whole lines such as::

    import: 120000/1000000 rows (12.0%)  48210 rows/s  ETA 0:00:18
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` for a number of seconds."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Progress:
    """Reports ``done`` of ``total`` units of work; ``total`` 0 means unknown."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "rows",
        stream: TextIO | None = None,
        interval: float | None = None,
        start: int = 0,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.2 if self.tty else 1.0)
        self.start_done = start
        self.done = start
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = -1

    def line(self) -> str:
        """The current status line (without a newline)."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = (self.done - self.start_done) / elapsed
        text = f"{self.label}: {self.done}"
        if self.total:
            text += f"/{self.total} {self.unit} ({100.0 * self.done / self.total:.1f}%)"
        else:
            text += f" {self.unit}"
        text += f"  {rate:.0f} {self.unit}/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f"  ETA {format_duration((self.total - self.done) / rate)}"
        return text

    def update(self, done: int, *, force: bool = False) -> None:
        """Record progress; redraw when ``interval`` has passed (or ``force``)."""
        self.done = done
        now = time.monotonic()
        if not force and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        self._drawn = done
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """Draw the final state (unless it is on screen already) and end the line."""
        if self._drawn != self.done:
            self.update(self.done, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
