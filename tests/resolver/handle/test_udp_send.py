"""Sending an answer's datagrams in one call: the receiver gets the same datagrams, in
order; whatever cannot be segmented, or fails, goes through the transport as before."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from registry.config import load_config
from resolver.handle.server import _UdpServer
from resolver.handle.udp_send import MAX_BYTES, MAX_SEGMENTS, DatagramSender, segment_size
from resolver.node import start_node


class RecordingTransport:
    """What the sender needs of a datagram transport; records what it is handed."""

    def __init__(self, buffered: int = 0) -> None:
        self.sent: list[tuple[bytes, tuple[str | int, ...]]] = []
        self.buffered = buffered

    def sendto(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.sent.append((data, addr))

    def get_write_buffer_size(self) -> int:
        return self.buffered


class FailingSocket:
    """A datagram socket whose ``sendmsg`` raises ``error`` (and counts the calls)."""

    type = socket.SOCK_DGRAM

    def __init__(self, error: OSError) -> None:
        self.error = error
        self.calls = 0

    def sendmsg(self, *args: Any) -> int:
        self.calls += 1
        raise self.error


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A sending and a receiving UDP socket on IPv4 loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        sender.bind(("127.0.0.1", 0))
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        yield sender, receiver


def answer(sizes: Sequence[int]) -> list[bytes]:
    """Datagrams of ``sizes``, each different (its number in every octet)."""
    return [bytes([n]) * size for n, size in enumerate(sizes)]


def sender_on(sock: socket.socket | FailingSocket, transport: RecordingTransport
              ) -> DatagramSender:
    return DatagramSender(transport, cast(socket.socket, sock))


def received(receiver: socket.socket, count: int) -> list[bytes]:
    return [receiver.recv(65536) for _ in range(count)]


def test_equal_datagrams_go_in_one_call_and_arrive_one_by_one(
        pair: tuple[socket.socket, socket.socket]) -> None:
    sock, receiver = pair
    transport = RecordingTransport()
    datagrams = answer([512, 512, 512, 172])
    sender_on(sock, transport).send(datagrams, receiver.getsockname())
    assert received(receiver, 4) == datagrams
    assert transport.sent == []  # not one went through the transport


def test_a_last_datagram_of_full_size_is_segmented_too(
        pair: tuple[socket.socket, socket.socket]) -> None:
    sock, receiver = pair
    transport = RecordingTransport()
    datagrams = answer([512, 512])
    sender_on(sock, transport).send(datagrams, receiver.getsockname())
    assert received(receiver, 2) == datagrams and transport.sent == []


def test_ipv6_answers_are_segmented() -> None:
    if not socket.has_ipv6:
        pytest.fail("no IPv6 in this Python")
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as receiver:
        sock.bind(("::1", 0))
        receiver.bind(("::1", 0))
        receiver.settimeout(5)
        transport = RecordingTransport()
        datagrams = answer([512, 512, 40])
        sender_on(sock, transport).send(datagrams, receiver.getsockname())
        assert received(receiver, 3) == datagrams and transport.sent == []


@pytest.mark.parametrize("sizes", [
    [300],  # one datagram: nothing to gain
    [512, 300, 512],  # unequal sizes: the kernel cuts at one size
    [300, 512],  # a last datagram longer than the others
    [100] * (MAX_SEGMENTS + 1),  # more than the kernel takes in one call
], ids=["one", "unequal", "longer last", "too many"])
def test_what_cannot_be_segmented_goes_through_the_transport(
        pair: tuple[socket.socket, socket.socket], sizes: list[int]) -> None:
    sock, receiver = pair
    transport = RecordingTransport()
    datagrams = answer(sizes)
    addr = receiver.getsockname()
    sender = sender_on(sock, transport)
    sender.send(datagrams, addr)
    assert transport.sent == [(d, addr) for d in datagrams]
    assert sender.segmenting
    receiver.settimeout(0.05)
    with pytest.raises(TimeoutError):  # nothing was sent on the socket directly
        receiver.recv(65536)


def test_datagrams_the_transport_holds_go_first(
        pair: tuple[socket.socket, socket.socket]) -> None:
    sock, receiver = pair
    transport = RecordingTransport(buffered=512)
    datagrams = answer([512, 512, 10])
    sender_on(sock, transport).send(datagrams, receiver.getsockname())
    assert [d for d, _ in transport.sent] == datagrams  # queued behind the held ones


def test_a_full_socket_buffer_hands_the_datagrams_to_the_transport() -> None:
    sock = FailingSocket(BlockingIOError(errno.EAGAIN, "full"))
    transport = RecordingTransport()
    sender = sender_on(sock, transport)
    datagrams = answer([512, 512, 10])
    sender.send(datagrams, ("127.0.0.1", 9))
    assert [d for d, _ in transport.sent] == datagrams
    assert sender.segmenting  # a passing condition: the next answer tries again
    sender.send(datagrams, ("127.0.0.1", 9))
    assert sock.calls == 2


@pytest.mark.parametrize("code", [errno.EIO, errno.EINVAL, errno.ENOPROTOOPT])
def test_a_kernel_that_refuses_to_segment_is_not_asked_again(code: int) -> None:
    sock = FailingSocket(OSError(code, "refused"))
    transport = RecordingTransport()
    sender = sender_on(sock, transport)
    datagrams = answer([512, 512, 10])
    sender.send(datagrams, ("127.0.0.1", 9))
    sender.send(datagrams, ("127.0.0.1", 9))
    assert [d for d, _ in transport.sent] == datagrams * 2  # both answers sent
    assert not sender.segmenting and sock.calls == 1


def test_other_send_errors_are_left_to_the_transport() -> None:
    sock = FailingSocket(OSError(errno.EHOSTUNREACH, "no route"))
    transport = RecordingTransport()
    sender = sender_on(sock, transport)
    datagrams = answer([512, 512, 10])
    sender.send(datagrams, ("192.0.2.1", 9))
    assert [d for d, _ in transport.sent] == datagrams  # it reports the error as before
    assert sender.segmenting


def test_without_a_socket_every_datagram_goes_through_the_transport() -> None:
    transport = RecordingTransport()
    sender = DatagramSender(transport, None)
    datagrams = answer([512, 512, 10])
    sender.send(datagrams, ("127.0.0.1", 9))
    assert not sender.segmenting and [d for d, _ in transport.sent] == datagrams


@pytest.mark.parametrize("setting", [True, False])
async def test_the_node_setting_turns_segmentation_on_and_off(
        tmp_path: Path, setting: bool) -> None:
    config = load_config(environ={"IDNODE_UDP_SEGMENTATION": str(setting).lower()},
                         overrides={"data_dir": tmp_path, "handle_port": 0, "http_port": 0,
                                    "dns_port": 0, "listen_hosts": ("127.0.0.1",)})
    running = await start_node(config)
    try:
        for transport in running.handle_server.udp:
            listener = cast(_UdpServer, transport.get_protocol())
            assert listener.sender.segmenting is setting
            assert (listener.sender.sock is not None) is setting
    finally:
        await running.close()


def test_which_datagrams_may_be_segmented() -> None:
    assert segment_size([512, 512, 512, 172]) == 512
    assert segment_size([512, 512]) == 512
    assert segment_size([100] * MAX_SEGMENTS) == 100
    assert segment_size([512]) == 0  # one datagram
    assert segment_size([512, 300, 512]) == 0
    assert segment_size([300, 512]) == 0
    assert segment_size([100] * (MAX_SEGMENTS + 1)) == 0
    big = MAX_BYTES // 2 + 1
    assert segment_size([big, big]) == 0


def test_a_buffer_laid_end_to_end_goes_in_one_call(
        pair: tuple[socket.socket, socket.socket]) -> None:
    sock, receiver = pair
    transport = RecordingTransport()
    datagrams = answer([512, 512, 30])
    assert sender_on(sock, transport).send_segmented(
        b"".join(datagrams), 512, receiver.getsockname())
    assert received(receiver, 3) == datagrams and transport.sent == []
    held = RecordingTransport(buffered=1)  # the transport's datagrams must go first
    assert not sender_on(sock, held).send_segmented(b"".join(datagrams), 512,
                                                    receiver.getsockname())
    assert held.sent == []  # the caller sends them through send()
