"""A misbehaving HTTP upstream on loopback, in a thread: real sockets, one behaviour per path.

    /json?body=...    answers the raw bytes given (percent-decoded) as application/json
    /raw?head=...&body=...
                      answers the body after the header lines given (percent-decoded, each
                      ending in CRLF), as they are: no Content-Type unless the head has one
    /drip             declares 40 bytes and sends one every 0.2 s
    /endless          a chunked body that never ends (64 KiB chunks)
    /declared-huge    declares 100 MiB and sends nothing
    /hang             reads the request and never answers
    /cookie           a JSON answer that sets a cookie

It records, per request, the path, the request head, the bytes of body it sent, and when the
client closed the connection (``closed`` events), so tests can check what happened on the
upstream's side by ordering, not by timing.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit


@dataclass
class Seen:
    path: str
    head: bytes
    sent: int = 0
    closed: threading.Event = field(default_factory=threading.Event)


class Upstream:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.arrived = threading.Condition()
        self.url = ""

    def wait_for_request(self, count: int = 1, timeout: float = 20) -> Seen:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.seen) >= count, timeout):
                raise AssertionError(f"the upstream saw {len(self.seen)} requests, not {count}")
            return self.seen[count - 1]


def _handler(upstream: Upstream) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            sock.settimeout(60)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                head += chunk
            target = head.split(b" ", 2)[1].decode()
            parts = urlsplit(target)
            seen = Seen(parts.path, head)
            with upstream.arrived:
                upstream.seen.append(seen)
                upstream.arrived.notify_all()
            try:
                self.answer(sock, parts.path, parts.query, seen)
                if parts.path != "/hang":
                    sock.shutdown(socket.SHUT_WR)  # one answer per connection
            except OSError:
                pass
            finally:
                self.wait_closed(sock, seen)

        def wait_closed(self, sock: socket.socket, seen: Seen) -> None:
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass
            seen.closed.set()

        def answer(self, sock: socket.socket, path: str, query: str, seen: Seen) -> None:
            if path == "/json":
                raw = parse_qs(query)["body"][0]
                body = unquote_to_bytes(raw)
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                seen.sent = len(body)
            elif path == "/raw":
                # Split by hand: parse_qs would decode the bytes as UTF-8 first.
                fields = dict(item.split("=", 1) for item in query.split("&"))
                head = unquote_to_bytes(fields["head"])
                body = unquote_to_bytes(fields["body"])
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\n%scontent-length: %d\r\n\r\n%s"
                    % (head, len(body), body)
                )
                seen.sent = len(body)
            elif path == "/cookie":
                body = b'{"ok": true}'
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n"
                    b"set-cookie: session=cookie-value-4f2a\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
            elif path == "/drip":
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/plain\r\n"
                    b"content-length: 40\r\n\r\n"
                )
                for _ in range(40):
                    sock.sendall(b"x")  # fails once the client has gone
                    seen.sent += 1
                    time.sleep(0.2)
            elif path == "/endless":
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                chunk = b" " * 65536
                framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                while seen.sent < 1024 * 1024 * 1024:  # a bound for the test itself: 1 GiB
                    sock.sendall(framed)
                    seen.sent += len(chunk)
            elif path == "/malformed":
                # A header name with a control character: aiohttp refuses the answer with a
                # ClientResponseError whose message quotes the URL, query included.
                sock.sendall(b"HTTP/1.1 200 OK\r\nconnection: close\r\nbad\x01name: x\r\n\r\n")
            elif path == "/declared-huge":
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % (100 * 1024 * 1024)
                )
            # /hang, and the others once answered: wait for the client to close (handle does).

    return Handler


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    upstream = Upstream()
    server = _Server(("127.0.0.1", 0), _handler(upstream))
    upstream.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
