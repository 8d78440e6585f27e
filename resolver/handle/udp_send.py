"""Sending an answer's UDP datagrams in one system call (UDP generic segmentation).

A Handle answer over UDP is usually several datagrams: every one carries at
most 492 octets of the message after its 20-octet envelope
(:data:`protocol.constants.MAX_UDP_DATA_SIZE`), so a typical record of a few
values goes out as three to five of them.  Sent one by one
(``transport.sendto`` per datagram) each costs a system call and the kernel's
whole send path; on the hot path (an answer kept as datagrams,
:mod:`resolver.handle.hot_path`) those sends were most of what a request cost.

Linux (4.18 and later) sends them in one call instead: ``sendmsg`` of the
datagrams laid end to end, with a ``UDP_SEGMENT`` control message giving the
datagram size, hands the kernel one buffer that it cuts into datagrams of that
size (the last one may be shorter).  The client receives exactly the same
datagrams as before, one by one; only the server's cost changes (measured on
the benchmark's four-datagram answer, a bare reply loop: 10.3 -> 8.7 us of CPU
a request; see docs/architecture.md).  A Handle answer fits: all its datagrams
but the last have the same size.  Anything else (one datagram, unequal sizes,
more than :data:`MAX_SEGMENTS` datagrams or :data:`MAX_BYTES` octets) goes the
ordinary way.

The standard library has ``sendmsg`` but no name for ``UDP_SEGMENT``, and
asyncio's datagram transports have no way to pass control messages, hence
this hand-written sender: it writes on the listener's socket directly, and
hands the datagrams to the transport as before when it cannot: when the
transport still holds datagrams it could not send (they go out first, in
order), when the socket's buffer is full (the transport queues them), and
when the kernel refuses the segmentation itself (no ``UDP_SEGMENT``, or a
route whose device cannot checksum it: ``EIO``), after which this sender
stops trying (:attr:`DatagramSender.segmenting`).  Other send errors (an
unreachable address) are the transport's to report, as before.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)

#: linux/udp.h: the socket option / control message type of UDP GSO
UDP_SEGMENT = 103
#: at most this many datagrams in one segmented send (UDP_MAX_SEGMENTS on older kernels)
MAX_SEGMENTS = 64
#: at most this many octets in one segmented send (one IP packet's payload, with room)
MAX_BYTES = 60_000
#: the errors that mean the kernel or the route cannot segment (not a passing condition)
REFUSALS = frozenset({errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP})
_SEGMENT_SIZE = struct.Struct("=H")


class DatagramTransport(Protocol):
    """What the sender uses of a datagram transport (asyncio's and uvloop's have it;
    typeshed's ``asyncio.DatagramTransport`` lacks the buffer size)."""

    def sendto(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """Send ``data`` to ``addr`` now, or queue it."""

    def get_write_buffer_size(self) -> int:
        """Octets queued, not sent yet."""


class DatagramSender:
    """Sends datagrams to an address through ``transport``, several of equal size in
    one segmented ``sendmsg`` on ``sock`` (the transport's socket) when it can; with
    ``sock`` None, always through the transport."""

    __slots__ = ("_sizes", "segmenting", "sock", "transport")

    def __init__(self, transport: DatagramTransport, sock: socket.socket | None) -> None:
        self.transport = transport
        self.sock = sock
        #: whether sends are still offered to the kernel in one call
        self.segmenting = sock is not None and sock.type == socket.SOCK_DGRAM
        #: control messages by datagram size (answers come in a handful of sizes)
        self._sizes: dict[int, list[tuple[int, int, bytes]]] = {}

    def send(self, datagrams: Sequence[bytes], addr: tuple[str | int, ...]) -> None:
        """Send ``datagrams`` (in order) to ``addr``."""
        if len(datagrams) > 1 and self.segmenting:
            size = segment_size([len(datagram) for datagram in datagrams])
            if size and self.send_segmented(b"".join(datagrams), size, addr):
                return
        transport = self.transport
        for datagram in datagrams:
            transport.sendto(datagram, addr)

    def send_segmented(self, buffer: bytes, size: int, addr: tuple[str | int, ...]) -> bool:
        """Send ``buffer``, datagrams of ``size`` octets laid end to end (the last may be
        shorter; :func:`segment_size` says when they may be sent so), to ``addr`` in one
        call; whether it was sent (if not, the caller sends the datagrams through
        :meth:`send`).  For answers kept already laid end to end
        (:meth:`resolver.handle.hot_path.KeptDatagrams.replay_joined`)."""
        if not self.segmenting or self.transport.get_write_buffer_size():
            return False  # the transport's datagrams go first, in order
        control = self._sizes.get(size)
        if control is None:
            control = self._sizes[size] = [
                (socket.SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(size))]
        assert self.sock is not None
        try:
            self.sock.sendmsg([buffer], control, 0, addr)
        except BlockingIOError:
            return False  # the socket's buffer is full: the transport queues them
        except OSError as exc:
            if exc.errno in REFUSALS:
                self.segmenting = False
                log.info("UDP answers go one datagram a call: the kernel refused to "
                         "segment them (%r)", exc)
            return False
        return True


def segment_size(sizes: Sequence[int]) -> int:
    """The size at which datagrams of ``sizes`` may be sent in one segmented call (all
    but the last of it, the last no longer, at most :data:`MAX_SEGMENTS` of them and
    :data:`MAX_BYTES` in all); 0 when they may not (one datagram, unequal sizes)."""
    if not 1 < len(sizes) <= MAX_SEGMENTS:
        return 0
    size = sizes[0]
    if sizes[-1] > size or sum(sizes) > MAX_BYTES:
        return 0
    for other in sizes[1:-1]:
        if other != size:
            return 0
    return size
