"""A scripted local HTTP server for the transport's unit tests: each request takes the
next action from a script; every request is recorded."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


Action = Callable[[BaseHTTPRequestHandler], None]


def answer(status: int, body: bytes = b"{}", headers: Optional[dict[str, str]] = None,
           content_type: str = "application/json") -> Action:
    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("X-Request-Id", f"req-{status}")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return act


def then_close(act: Action, closed: threading.Event) -> Action:
    """`act`, then the server closes the connection (as sandboxd does with one idle for
    5 s) without having said so; `closed` is set once it is closed."""

    def run(h: BaseHTTPRequestHandler) -> None:
        act(h)
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)
        closed.set()

    return run


def hang_up(h: BaseHTTPRequestHandler) -> None:
    """Closes the connection without answering."""
    h.close_connection = True
    h.connection.shutdown(socket.SHUT_RDWR)


class FakeServer:
    def __init__(self, script: list[Action], default: Optional[Action] = None) -> None:
        self.script = list(script)
        self.default = default
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_one(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer.lock:
                    outer.seen.append(Seen(self.command, self.path, dict(self.headers), body,
                                           self.client_address[1]))
                    act = outer.script.pop(0) if outer.script else outer.default
                if act is None:
                    raise AssertionError(f"unexpected request {self.command} {self.path}")
                act(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
