"""A task's event stream (SSE) that resumes after a dropped connection.

The stream replays every stored event after the last id seen, then the live ones, and
ends after the terminal "done" event. A connection that drops, times out or ends early
(sandboxd restarting) is reopened with Last-Event-ID: the last id seen, so no event is
lost or repeated. Only whole events (ended by a blank line) are delivered.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, Optional

from .errors import SandboxedConnectionError, WaitTimeoutError
from .types import TaskEvent

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


class TaskEventStream:
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
        self._gen: Generator[TaskEvent, None, None] = self._run()

    def __iter__(self) -> "TaskEventStream":
        return self

    def __next__(self) -> TaskEvent:
        return next(self._gen)

    def __enter__(self) -> "TaskEventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._gen.close()
        self._close_conn()

    def _close_conn(self) -> None:
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
