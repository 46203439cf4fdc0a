"""Event streams (SSE): a task's, which resumes after a dropped connection, and the
output of a streamed exec or of a followed background process, which cannot be resumed.

A task's stream replays every stored event after the last id seen, then the live ones,
and ends after the terminal "done" event. A connection that drops, times out or ends
early (sandboxd restarting) is reopened with Last-Event-ID: the last id seen, so no event
is lost or repeated. Only whole events (ended by a blank line) are delivered.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Generic, Iterator, Optional, TypeVar

from .errors import SandboxedConnectionError, WaitTimeoutError, error_class
from .types import ExecEvent, ExecExit, Process, ProcessOutputEvent, TaskEvent, decode

if TYPE_CHECKING:
    from ._transport import Transport

_DROPS = (OSError, http.client.HTTPException)


def parse_sse(readline: Callable[[], bytes], on_line: Callable[[], None] = lambda: None) -> Iterator[TaskEvent]:
    """Events from an SSE byte stream read line by line, until EOF. Comments
    (": keepalive") are skipped; an event cut off by EOF is dropped. `on_line` runs
    after every line read (deadline checks)."""
    ev_id: Optional[int] = None
    ev_type = ""
    data: list[str] = []
    while True:
        raw = readline()
        if not raw:
            return
        on_line()
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if data or ev_type:
                yield TaskEvent(id=ev_id if ev_id is not None else 0, type=ev_type or "message",
                                data=_data("\n".join(data)))
            ev_type, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "id" and value.isdigit():
            ev_id = int(value)
        elif name == "event":
            ev_type = value
        elif name == "data":
            data.append(value)


def _data(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


T = TypeVar("T")
S = TypeVar("S", bound="_Stream[Any]")


class _Stream(Generic[T]):
    """The iterator and context-manager protocol every stream shares: events come from
    `_gen` (a subclass's `_run()`), and close() stops it and closes the connection."""

    _gen: Generator[T, None, None]

    def __iter__(self: S) -> S:
        return self

    def __next__(self) -> T:
        return next(self._gen)

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._gen.close()
        self._close_conn()

    def _close_conn(self) -> None:
        raise NotImplementedError


class TaskEventStream(_Stream[TaskEvent]):
    """Iterator over a task's events; stops after the "done" event (or at once when
    resumed after it). Use as a context manager, or call close(), to stop early.

    last_event_id: the id of the last event delivered (resume from it with
    tasks.events(..., after=stream.last_event_id)).
    """

    def __init__(
        self,
        transport: "Transport",
        task_path: str,
        task_id: str,
        *,
        after: int,
        read_timeout: float,
        max_reconnects: int,
        deadline: Optional[float],
    ) -> None:
        """Made by tasks.events() (which documents the options): `task_path` is the
        task's API path, `deadline` a time.monotonic() value or None."""
        self._t = transport
        self._task_path = task_path
        self._task_id = task_id
        self._read_timeout = read_timeout
        self._max_reconnects = max_reconnects
        self._deadline = deadline
        self.last_event_id = after
        self.reconnects = 0  # connections reopened after a drop
        self._conn: Optional[http.client.HTTPConnection] = None
        self._resp: Optional[http.client.HTTPResponse] = None
        self._gen = self._run()

    def _close_conn(self) -> None:
        # The response too: one read to its end (no length) holds the socket itself.
        if self._resp is not None:
            self._resp.close()
        if self._conn is not None:
            self._conn.close()
        self._conn = self._resp = None

    def _check_deadline(self) -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise WaitTimeoutError(
                f"task {self._task_id}: no terminal event before the deadline "
                f"(last event id {self.last_event_id})",
                code="wait_timeout",
            )

    def _timeout(self) -> float:
        if self._deadline is None:
            return self._read_timeout
        return max(0.05, min(self._read_timeout, self._deadline - time.monotonic()))

    def _run(self) -> Generator[TaskEvent, None, None]:
        failures = 0  # consecutive attempts that delivered nothing
        while True:
            self._check_deadline()
            headers = {"Last-Event-ID": str(self.last_event_id)} if self.last_event_id else None
            got = 0
            ended = False
            try:
                self._conn, self._resp = self._t.open_stream(
                    self._task_path + "/events", headers=headers, timeout=self._timeout()
                )
                for ev in parse_sse(self._resp.readline, self._check_deadline):
                    if ev.id <= self.last_event_id:
                        continue  # never twice, whatever the server sends
                    self.last_event_id = ev.id
                    got += 1
                    failures = 0
                    yield ev
                    if ev.is_terminal:
                        return
                ended = True
            except WaitTimeoutError:
                raise
            except _DROPS as e:
                drop: Optional[BaseException] = e
            else:
                drop = None
            finally:
                self._close_conn()
            if ended and got == 0 and self._task_finished():
                return  # resumed at or after the end of a finished task
            self._check_deadline()
            if got == 0:
                failures += 1
                if failures > self._max_reconnects:
                    raise SandboxedConnectionError(
                        f"task {self._task_id}: event stream failed {failures} times in a row"
                        f" (last event id {self.last_event_id}): {drop or 'ended early'}",
                        code="stream_error",
                    ) from drop
                self._t.sleep(self._t.backoff(failures - 1, None))
            self.reconnects += 1

    def _task_finished(self) -> bool:
        r = self._t.request("GET", self._task_path)
        status = (r.json() or {}).get("status")
        return status is not None and status != "running"


E = TypeVar("E", ExecEvent, ProcessOutputEvent)


class _OutputStream(_Stream[E]):
    """Iterator over the events of one open event-stream answer that cannot be resumed,
    ending after "exit". The connection is open from the start (the call that made the
    stream raised any error answer); close() or leaving a `with` block closes it.
    Raises SandboxedConnectionError (code "stream_error") when the connection breaks,
    stalls for the read timeout, or ends before "exit"."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, what: str
    ) -> None:
        self._conn: Optional[http.client.HTTPConnection] = conn
        self._resp = resp
        self._what = what
        self.request_id: Optional[str] = resp.headers.get("X-Request-Id")
        self._gen = self._run()

    def _close_conn(self) -> None:
        # The response too: one read to its end (no length) holds the socket itself.
        self._resp.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _event(self, ev: TaskEvent) -> Optional[E]:
        """The SDK's event for a parsed one, None to skip it; may raise."""
        raise NotImplementedError

    def _run(self) -> Generator[E, None, None]:
        try:
            for raw in parse_sse(self._resp.readline):
                ev = self._event(raw)
                if ev is None:
                    continue
                yield ev
                if ev.type == "exit":
                    return
        except _DROPS as e:
            raise SandboxedConnectionError(
                f"{self._what}: the event stream broke: {type(e).__name__}: {e}",
                code="stream_error", request_id=self.request_id,
            ) from e
        finally:
            self._close_conn()
        raise SandboxedConnectionError(
            f"{self._what}: the event stream ended before its exit event",
            code="stream_error", request_id=self.request_id,
        )


def _text(data: Any) -> str:
    """The text of a stdout/stderr event's data ({"data": text})."""
    return str(data.get("data", "")) if isinstance(data, dict) else str(data)


class ExecStream(_OutputStream[ExecEvent]):
    """A streamed exec (sandboxes.exec_stream): an iterator of ExecEvent, "stdout" and
    "stderr" pieces as the command writes, then "exit". The command runs while the stream
    is open: closing it early ends the command. `exit` is the ExecExit once "exit" came.
    An "error" event (the engine failed mid-way; how the command ended is unknown) raises
    its typed error (e.g. UnavailableError)."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, what: str
    ) -> None:
        super().__init__(conn, resp, what)
        self.exit: Optional[ExecExit] = None

    def _event(self, ev: TaskEvent) -> Optional[ExecEvent]:
        if ev.type in ("stdout", "stderr"):
            return ExecEvent(type=ev.type, text=_text(ev.data))
        if ev.type == "exit":
            self.exit = decode(ExecExit, ev.data)
            return ExecEvent(type="exit", exit=self.exit)
        if ev.type == "error":
            err = ev.data.get("error") if isinstance(ev.data, dict) else None
            err = err if isinstance(err, dict) else {}
            code = err.get("code")
            raise error_class(0, code)(
                f"{self._what}: {err.get('message') or ev.data}", code=code,
                request_id=self.request_id,
            )
        return None  # a type this SDK does not know


class ProcessOutputStream(_OutputStream[ProcessOutputEvent]):
    """A background process's output as it comes (processes.follow): an iterator of
    ProcessOutputEvent, "stdout" and "stderr" pieces (the tail first), then "exit" once
    the process has ended. `process` is the ended Process once "exit" came. Closing the
    stream leaves the process running."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, what: str
    ) -> None:
        super().__init__(conn, resp, what)
        self.process: Optional[Process] = None

    def _event(self, ev: TaskEvent) -> Optional[ProcessOutputEvent]:
        if ev.type in ("stdout", "stderr"):
            return ProcessOutputEvent(type=ev.type, text=_text(ev.data))
        if ev.type == "exit" and isinstance(ev.data, dict):
            self.process = decode(Process, ev.data)
            return ProcessOutputEvent(type="exit", process=self.process)
        return None
