"""HTTP transport: one keep-alive connection per thread, error mapping and retries.

Retries: a 503 (sandboxd did nothing) is retried for every method, after its Retry-After
(capped at max_retry_wait; exponential backoff when absent), at most max_retries times.
A failed connection (refused, reset, no answer) is retried likewise for idempotent
requests only (GET, and the calls the API documents as safe to repeat): a POST that may
have reached sandboxd is never sent twice.
"""

from __future__ import annotations

import email.utils
import http.client
import json as jsonlib
import select
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NoReturn, Optional, Union

from . import __version__
from .errors import SandboxedConnectionError, error_class

# sandboxd's HTTP server closes a keep-alive connection idle for 5 s: a connection idle
# for longer than this is not reused.
_KEEPALIVE_IDLE_S = 4.0
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None

    @property
    def request_id(self) -> Optional[str]:
        return self.headers.get("X-Request-Id")


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Retry-After in seconds (delta-seconds or an HTTP date), None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def raise_for_answer(
    status: int, headers: Union[Mapping[str, str], http.client.HTTPMessage], body: bytes
) -> NoReturn:
    """Raises the typed error of a non-2xx answer."""
    code = message = request_id = None
    try:
        err = jsonlib.loads(body).get("error") if body else None
        if isinstance(err, dict):
            code, message, request_id = err.get("code"), err.get("message"), err.get("request_id")
    except (ValueError, AttributeError):
        pass
    if message is None:
        text = body.decode("utf-8", "replace").strip()
        message = text[:500] or http.client.responses.get(status, "error")
    cls = error_class(status, code)
    raise cls(
        message,
        status=status,
        code=code,
        request_id=request_id or headers.get("X-Request-Id"),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


class _Conn:
    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.http = conn
        self.last_used = 0.0  # 0: never used

    def reusable(self) -> bool:
        """Used before, idle briefly, and not closed by the server meanwhile (a closed
        socket reads as ready: EOF)."""
        if self.last_used == 0.0 or self.http.sock is None:
            return False
        if time.monotonic() - self.last_used > _KEEPALIVE_IDLE_S:
            return False
        try:
            readable, _, _ = select.select([self.http.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


class Transport:
    def __init__(
        self,
        url: str,
        token: Optional[str],
        *,
        timeout: float,
        max_retries: int,
        max_retry_wait: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"sandboxd URL must be http(s)://host[:port][/prefix], got {url!r}")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.sleep = sleep
        self._local = threading.local()
        self._all: list[_Conn] = []
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------

    def new_connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _conn(self) -> _Conn:
        c: Optional[_Conn] = getattr(self._local, "conn", None)
        if c is None:
            c = _Conn(self.new_connection(self.timeout))
            self._local.conn = c
            with self._lock:
                self._all.append(c)
        elif c.last_used and not c.reusable():
            c.http.close()
            c.last_used = 0.0
        return c

    def _drop(self, c: _Conn) -> None:
        c.http.close()
        c.last_used = 0.0

    def close(self) -> None:
        """Closes every connection this transport opened (in any thread)."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            self._drop(c)
        self._local = threading.local()

    # -- requests ----------------------------------------------------------------------

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        h = {"User-Agent": f"sandboxed-python/{__version__}", "Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if extra:
            h.update(extra)
        return h

    def target(self, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
        target = self.prefix + path
        if query:
            pairs = [(k, _query_value(v)) for k, v in query.items() if v is not None]
            if pairs:
                target += "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        return target

    def backoff(self, attempt: int, retry_after: Optional[float]) -> float:
        wait = retry_after if retry_after is not None else 0.5 * (2**attempt)
        return float(max(0.0, min(wait, self.max_retry_wait)))

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        json: Any = None,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        idempotent: Optional[bool] = None,
        timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        retries: Optional[int] = None,
    ) -> Response:
        """Sends one API request (with retries) and returns the 2xx answer, or raises the
        typed error. `idempotent` defaults to True for GET only; `retries` overrides
        max_retries."""
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            content_type = "application/json"
        h = self.headers(headers)
        if body is not None:
            h["Content-Type"] = content_type or "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            body = b""
        if idempotent is None:
            idempotent = method == "GET"
        target = self.target(path, query)
        max_retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                resp = self._send_once(method, target, body, h, timeout, idempotent)
            except _TRANSPORT_ERRORS as e:
                if idempotent and attempt < max_retries:
                    self.sleep(self.backoff(attempt, None))
                    attempt += 1
                    continue
                raise SandboxedConnectionError(
                    f"{method} {target}: {type(e).__name__}: {e}", code="connection_error"
                ) from e
            if 200 <= resp.status < 300:
                return resp
            if resp.status == 503 and attempt < max_retries:
                self.sleep(self.backoff(attempt, parse_retry_after(resp.headers.get("Retry-After"))))
                attempt += 1
                continue
            raise_for_answer(resp.status, resp.headers, resp.body)

    def _send_once(
        self,
        method: str,
        target: str,
        body: Optional[bytes],
        headers: Mapping[str, str],
        timeout: Optional[float],
        idempotent: bool,
    ) -> Response:
        c = self._conn()
        reused = c.last_used != 0.0
        try:
            return self._exchange(c, method, target, body, headers, timeout)
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            # The server closed a kept-alive connection as we reused it: once more on a
            # fresh one when repeating cannot do harm.
            if not (reused and idempotent):
                raise
        return self._exchange(self._conn(), method, target, body, headers, timeout)

    def _exchange(
        self,
        c: _Conn,
        method: str,
        target: str,
        body: Optional[bytes],
        headers: Mapping[str, str],
        timeout: Optional[float],
    ) -> Response:
        want = self.timeout if timeout is None else timeout
        c.http.timeout = want
        try:
            if c.http.sock is not None:
                c.http.sock.settimeout(want)
            c.http.request(method, target, body=body, headers=dict(headers))
            r = c.http.getresponse()
            data = r.read()
        except BaseException:
            self._drop(c)
            raise
        if r.will_close:
            self._drop(c)
        else:
            c.last_used = time.monotonic()
        return Response(r.status, r.headers, data)

    # -- streams -----------------------------------------------------------------------

    def open_stream(
        self,
        path: str,
        *,
        method: str = "GET",
        query: Optional[Mapping[str, Any]] = None,
        json: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """A request (GET, or a POST of `json`) whose event-stream answer is read as it
        comes, on its own connection (the caller closes it). 503s are retried as for
        request(); other errors raise typed; a failed connection raises as it is."""
        target = self.target(path, query)
        h = self.headers(headers)
        h["Accept"] = "text/event-stream"
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            h["Content-Type"] = "application/json"
        attempt = 0
        while True:
            conn = self.new_connection(timeout)
            try:
                conn.request(method, target, body=body, headers=h)
                resp = conn.getresponse()
            except BaseException:
                conn.close()
                raise
            if 200 <= resp.status < 300:
                return conn, resp
            body = resp.read()
            conn.close()
            if resp.status == 503 and attempt < self.max_retries:
                self.sleep(self.backoff(attempt, parse_retry_after(resp.headers.get("Retry-After"))))
                attempt += 1
                continue
            raise_for_answer(resp.status, resp.headers, body)


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


