"""The connection's request reader: lines, sizes, buffered bytes and the read deadline.

cheroot reads the request line and headers through ``readline(256)`` and bodies through ``read``;
these check the reader gives the bytes a buffered reader would, over a real socket pair, with
the data arriving in pieces that split lines and bodies anywhere.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from rhoconnect_mock.connection import DeadlineReader, DeadlineSocketIO


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    server.settimeout(5)
    yield server, client
    server.close()
    client.close()


def _reader(sock: socket.socket, bufsize: int = 8192) -> DeadlineReader:
    return DeadlineReader(DeadlineSocketIO(sock, 5), bufsize)


def _send_in_pieces(sock: socket.socket, data: bytes, piece: int) -> threading.Thread:
    def send() -> None:
        for start in range(0, len(data), piece):
            sock.sendall(data[start : start + piece])
            time.sleep(0)  # let the reader take what came so far
        sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.parametrize("piece", [5, 997, 100000])
def test_lines_then_a_body_come_out_as_sent(pair: tuple[socket.socket, socket.socket], piece: int) -> None:
    server, client = pair
    body = bytes(range(256)) * 400  # larger than the buffer: read past it
    head = b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 102400\r\n\r\n"
    sender = _send_in_pieces(client, head + body + b"tail", piece)
    reader = _reader(server)
    assert reader.readline(256) == b"GET /x HTTP/1.1\r\n"
    assert reader.readline(256) == b"Host: a\r\n"
    assert reader.readline(256) == b"Content-Length: 102400\r\n"
    assert reader.readline(256) == b"\r\n"
    assert reader.read(len(body)) == body
    assert reader.read() == b"tail"
    assert reader.read(10) == b""
    assert reader.readline() == b""
    assert reader.bytes_read == len(head) + len(body) + 4
    sender.join()


def test_a_long_line_comes_in_pieces_of_the_size_asked(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    line = b"X" * 600 + b"\n"
    client.sendall(line + b"next\n")
    client.shutdown(socket.SHUT_WR)
    reader = _reader(server)
    assert [reader.readline(256) for _ in range(3)] == [b"X" * 256, b"X" * 256, b"X" * 88 + b"\n"]
    assert reader.readline() == b"next\n"


def test_has_data_tells_a_pipelined_request_is_buffered(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    client.sendall(b"first\r\nsecond\r\n")
    reader = _reader(server)
    assert not reader.has_data()
    assert reader.readline(256) == b"first\r\n"
    assert reader.has_data()
    assert reader.readline(256) == b"second\r\n"
    assert not reader.has_data()


def test_a_read_past_the_deadline_times_out(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    client.sendall(b"GET / HTTP/1.1\r\n")  # and nothing more
    raw = DeadlineSocketIO(server, 5)
    reader = DeadlineReader(raw, 8192)
    raw.deadline = time.monotonic() + 0.2
    assert reader.readline(256) == b"GET / HTTP/1.1\r\n"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="timed out"):
        reader.readline(256)
    assert time.monotonic() - started < 2
    assert server.gettimeout() == 5  # the socket's own timeout is back


def test_close_closes_the_reader_not_the_socket(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    reader = _reader(server)
    assert not reader.closed
    reader.close()
    assert reader.closed
    client.sendall(b"x")
    assert server.recv(1) == b"x"
