"""Spreading UDP requests over the worker processes by request id, not by client.

Several worker processes share the Handle UDP port with SO_REUSEPORT.  By
default Linux picks the socket by a hash of the client's address and port, so
every datagram of one client socket goes to the same worker: a traceability
application or a recursive resolver that sends all its questions from one
socket keeps one worker busy and leaves the others idle, and a few client
sockets (8 in the benchmark driver) split 6:2 or 7:1 about a third of the
time.  A classic BPF program attached to the group with
SO_ATTACH_REUSEPORT_CBPF picks the socket instead: the kernel runs it on the
UDP payload, which starts with the Handle envelope (RFC 3651 section 2.2.1);
the program returns the request id (octets 8-11) modulo the number of workers.
Every datagram of one request carries the same request id, so a request sent
in several datagrams still reaches one worker and is reassembled there; a
datagram too short to hold a request id makes the load fail and the program
return 0 (the first socket, which answers it with an error or drops it).  An
index past the sockets present (a worker not yet started or restarting) makes
the kernel fall back to its hash, so nothing is lost while the group changes.

The program is three instructions and the standard library has no BPF
assembler, hence the hand-written encoding below (``struct sock_filter`` and
``struct sock_fprog`` of linux/filter.h).  Where the option does not exist
(not Linux), attaching fails and the kernel's hash stays: :func:`spread_by_request`
says so and the caller logs it.

A client's requests now reach every worker, so each worker's rate limiter is
given ``1/workers`` of the per-client budget (:meth:`RateLimiter.share`).
"""

from __future__ import annotations

import ctypes
import socket
import struct

#: linux/asm-generic/socket.h
SO_ATTACH_REUSEPORT_CBPF = 51

_BPF_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_BPF_ALU_MOD_K = 0x04 | 0x90 | 0x00  # BPF_ALU | BPF_MOD | BPF_K
_BPF_RET_A = 0x06 | 0x10  # BPF_RET | BPF_A
REQUEST_ID_OFFSET = 8


def request_id_program(workers: int) -> bytes:
    """The ``struct sock_filter`` array: ``A = payload[8:12]; A %= workers; return A``."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    instructions = (
        (_BPF_LD_W_ABS, 0, 0, REQUEST_ID_OFFSET),
        (_BPF_ALU_MOD_K, 0, 0, workers),
        (_BPF_RET_A, 0, 0, 0),
    )
    return b"".join(struct.pack("HBBI", *one) for one in instructions)


def spread_by_request(sock: socket.socket, workers: int) -> bool:
    """Make the SO_REUSEPORT group of ``sock`` send each request to worker
    ``request id % workers``; whether the kernel took the program."""
    program = request_id_program(workers)
    buffer = ctypes.create_string_buffer(program, len(program))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("HxxxxxxQ" if struct.calcsize("P") == 8 else "HxxI",
                        len(program) // 8, ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError:
        return False
    return True
