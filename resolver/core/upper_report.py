"""Delivery of the statistics report to the upper node, on demand and periodically.

A national secondary node sends its statistics (:mod:`registry.stats_report`)
upward at a fixed interval.  ``upper`` is an ``http(s)://`` URL (the document
is POSTed as ``application/json``) or a file path (written there, for a relay
or an operator to pick up).  With ``upper_report_url`` set, ``idnode serve``
sends the report for the past ``upper_report_hours`` every that many hours;
``idnode stats report`` sends one at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from registry.stats_report import build_report
from registry.store import HandleStore

log = logging.getLogger(__name__)

POST_TIMEOUT = 30.0
RETRY_SECONDS = 300.0


class UpperReportError(Exception):
    """The report could not be delivered; ``unreachable`` when no answer came."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


async def deliver(document: dict[str, Any], upper: str) -> str:
    """POST ``document`` to ``upper`` (a URL) or write it to that file; where it went."""
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    if not upper.startswith(("http://", "https://")):
        await asyncio.to_thread(Path(upper).write_bytes, body + b"\n")
        return upper
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            upper, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            if response.status >= 300:
                raise UpperReportError(f"{upper} refused the report: HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UpperReportError(
            f"cannot send the report to {upper}: {exc or type(exc).__name__}", unreachable=True
        ) from None
    return upper


async def send_periodically(
    store: HandleStore, node_prefix: str, upper: str, hours: float
) -> None:
    """Every ``hours``, report the period just ended; retry a failed delivery soon."""
    interval = timedelta(hours=hours)
    end = datetime.now(UTC)
    while True:
        await asyncio.sleep(max(0.0, (end + interval - datetime.now(UTC)).total_seconds()))
        start, end = end, end + interval
        while True:
            try:
                document = await build_report(store, node_prefix, start, end)
                log.info("statistics report sent to %s", await deliver(document, upper))
                break
            except Exception as exc:  # the store or the upper node failed: try again later
                log.warning("statistics report for %s not delivered, retrying: %s", start, exc)
                await asyncio.sleep(RETRY_SECONDS)
