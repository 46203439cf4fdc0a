"""The client: Sandboxed(url, token) and its resources (sandboxes, files, tasks,
processes, snapshots)."""

from __future__ import annotations

import builtins
import http.client
import os
import time
import urllib.parse
from typing import Any, Callable, Iterator, Literal, Mapping, Optional, Sequence, Union, overload

from ._events import ExecStream, ProcessOutputStream, TaskEventStream
from ._transport import _TRANSPORT_ERRORS, Response, Transport
from .errors import SandboxedConnectionError, UnavailableError, WaitTimeoutError
from .types import (
    Directory,
    ExecResult,
    File,
    FileWritten,
    Process,
    ProcessOutput,
    PurgeResult,
    Sandbox,
    SandboxPage,
    Snapshot,
    Task,
    TaskEvent,
    Version,
    decode,
)

DEFAULT_URL = "http://127.0.0.1:9090"
# The server's exec timeout when the call names none (SANDBOXD_EXEC_DEFAULT_TIMEOUT_SECONDS).
_EXEC_DEFAULT_TIMEOUT_S = 300
# Extra time to wait for an answer beyond a server-side wait (exec, wait_for_app).
_ANSWER_MARGIN_S = 30.0
_WAIT_FOR_APP_TRUE_S = 30

Size = Union[str, int]  # "512m", "1g" or a number of bytes


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _body(**fields: Any) -> dict[str, Any]:
    """The JSON body of the fields that were given (None: left out)."""
    return {k: v for k, v in fields.items() if v is not None}


def _exec_body(
    cmd: Union[str, Sequence[str]],
    timeout_s: Optional[int],
    env: Optional[Mapping[str, str]],
    workdir: Optional[str],
    background: bool = False,
) -> dict[str, Any]:
    """An exec's body; a string cmd runs as `bash -lc cmd`."""
    argv = ["bash", "-lc", cmd] if isinstance(cmd, str) else list(cmd)
    return _body(
        cmd=argv, timeout_s=timeout_s, env=dict(env) if env is not None else None,
        workdir=workdir, background=True if background else None,
    )


def _open_stream(
    t: Transport, what: str, path: str, **options: Any
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Transport.open_stream, a failed connection raised as SandboxedConnectionError."""
    try:
        return t.open_stream(path, **options)
    except _TRANSPORT_ERRORS as e:
        raise SandboxedConnectionError(
            f"{what}: {type(e).__name__}: {e}", code="connection_error"
        ) from e


class Sandboxed:
    """A client of sandboxd's REST API.

    url: the API's base URL (default: $SANDBOXD_URL, else http://127.0.0.1:9090); a path
      prefix is kept (a reverse proxy's /sandboxd, say).
    token: the bearer secret (default: $SANDBOXD_TOKEN).
    timeout: seconds to wait for an answer (calls that wait server-side add their wait).
    max_retries: how often a 503 (any method) or a connection failure (idempotent calls
      only) is retried; 0 turns retries off.
    max_retry_wait: the longest pause before a retry, whatever Retry-After says.

    Safe to share between threads: each thread keeps its own keep-alive connection.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 300.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
    ) -> None:
        url = url or os.environ.get("SANDBOXD_URL") or DEFAULT_URL
        token = token if token is not None else os.environ.get("SANDBOXD_TOKEN")
        self._t = Transport(
            url, token or None, timeout=timeout, max_retries=max_retries,
            max_retry_wait=max_retry_wait,
        )
        self.sandboxes = Sandboxes(self._t)
        self.files = Files(self._t)
        self.tasks = Tasks(self._t)
        self.processes = Processes(self._t)
        self.snapshots = Snapshots(self._t)

    @property
    def url(self) -> str:
        return self._t.url

    def version(self) -> Version:
        """GET /v1/version: the server's version and API version."""
        return decode(Version, self._t.request("GET", "/v1/version").json())

    def openapi(self) -> dict[str, Any]:
        """GET /v1/openapi.json: the API's OpenAPI document."""
        doc: dict[str, Any] = self._t.request("GET", "/v1/openapi.json").json()
        return doc

    def ready(self) -> bool:
        """GET /readyz, not retried: True when sandboxd, SQLite and dockerd answer; False
        when sandboxd says it is not ready or does not answer."""
        try:
            self._t.request("GET", "/readyz", retries=0)
        except (UnavailableError, SandboxedConnectionError):
            return False
        return True

    def request(self, method: str, path: str, **options: Any) -> Response:
        """A raw API call (path from the root, e.g. "/v1/sandboxes"), with the client's
        auth, retries and typed errors; answers the 2xx `Response` (status, headers,
        body, .json()). `options` (keyword only): query (a mapping; None values left
        out), json (a body sent as JSON), body (raw bytes) with content_type, timeout
        (seconds), headers, retries (instead of max_retries), idempotent (whether a lost
        connection may be retried; default: for GET only)."""
        return self._t.request(method, path, **options)

    def close(self) -> None:
        """Closes the kept-alive connections of every thread."""
        self._t.close()

    def __enter__(self) -> "Sandboxed":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Sandboxes:
    """/v1/sandboxes: lifecycle, exec, logs, fork and restore."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def _sandbox(self, r: Response) -> Sandbox:
        return decode(Sandbox, r.json())

    def create(
        self,
        *,
        id: Optional[str] = None,
        ports: Optional[Sequence[int]] = None,
        env: Optional[Mapping[str, str]] = None,
        metadata: Optional[Mapping[str, str]] = None,
        idle_policy: Optional[str] = None,
        memory: Optional[Size] = None,
        cpus: Optional[Union[float, str]] = None,
        disk: Optional[Size] = None,
        egress: Optional[str] = None,
        runtime: Optional[str] = None,
        pids_limit: Optional[int] = None,
        nofile: Optional[int] = None,
        snapshot: Optional[str] = None,
        wait_for_app: Optional[Union[bool, int]] = None,
    ) -> Sandbox:
        """POST /v1/sandboxes (201). Not retried on a lost connection (a repeat gets 409).

        idle_policy: "sleep" | "always_on"; egress: "public" | "none";
        runtime: "runc" | "gvisor"; snapshot: a snapshot's or template's id or name to
        start from; wait_for_app: True (30 s) or 1-300 seconds to wait for the app.
        """
        body = _body(
            id=id, ports=list(ports) if ports is not None else None,
            env=dict(env) if env is not None else None,
            metadata=dict(metadata) if metadata is not None else None,
            idle_policy=idle_policy, memory=memory, cpus=cpus, disk=disk, egress=egress,
            runtime=runtime, pids_limit=pids_limit, nofile=nofile, snapshot=snapshot,
            wait_for_app=wait_for_app,
        )
        wait = _WAIT_FOR_APP_TRUE_S if wait_for_app is True else int(wait_for_app or 0)
        r = self._t.request("POST", "/v1/sandboxes", json=body, timeout=self._t.timeout + wait)
        return self._sandbox(r)

    def get(self, id: str) -> Sandbox:
        """GET /v1/sandboxes/{id}, with `app`, `usage` and `idle`."""
        return self._sandbox(self._t.request("GET", f"/v1/sandboxes/{_q(id)}"))

    def list_page(
        self,
        *,
        status: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
    ) -> SandboxPage:
        """One page of GET /v1/sandboxes, ordered by id. `metadata` keeps the sandboxes
        whose metadata has every given key with exactly that value. `after` is the
        previous page's `next_after`."""
        query: dict[str, Any] = {"status": status, "limit": limit, "after": after}
        for k, v in (metadata or {}).items():
            query[f"metadata.{k}"] = v
        r = self._t.request("GET", "/v1/sandboxes", query=query)
        return decode(SandboxPage, r.json())

    def list(
        self,
        *,
        status: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        page_size: Optional[int] = None,
    ) -> Iterator[Sandbox]:
        """Every sandbox that matches (filters as for list_page), fetched page after page
        as the iteration goes (list items have no app, usage or idle)."""
        after: Optional[str] = None
        while True:
            page = self.list_page(status=status, metadata=metadata, limit=page_size, after=after)
            yield from page.sandboxes
            if not page.next_after or not page.sandboxes:
                return
            after = page.next_after

    def update(
        self,
        id: str,
        *,
        metadata: Optional[Mapping[str, Optional[str]]] = None,
        env: Optional[Mapping[str, Optional[str]]] = None,
        ports: Optional[Sequence[int]] = None,
        idle_policy: Optional[str] = None,
        memory: Optional[Size] = None,
        cpus: Optional[Union[float, str]] = None,
        pids_limit: Optional[int] = None,
        nofile: Optional[int] = None,
    ) -> Sandbox:
        """PATCH /v1/sandboxes/{id}. metadata and env merge: a key set to a string sets
        it, a key set to None removes it. ports replaces the list. Limits (memory, cpus,
        pids_limit, nofile) take effect at the next start: the answer's
        `pending_restart` lists them until then."""
        body = _body(
            metadata=dict(metadata) if metadata is not None else None,
            env=dict(env) if env is not None else None,
            ports=list(ports) if ports is not None else None,
            idle_policy=idle_policy, memory=memory, cpus=cpus, pids_limit=pids_limit,
            nofile=nofile,
        )
        return self._sandbox(self._t.request("PATCH", f"/v1/sandboxes/{_q(id)}", json=body))

    def stop(self, id: str) -> Sandbox:
        """POST .../stop: 200 stopped. Idempotent."""
        return self._sandbox(
            self._t.request("POST", f"/v1/sandboxes/{_q(id)}/stop", idempotent=True)
        )

    def start(self, id: str, *, wait_for_app: Optional[int] = None) -> Sandbox:
        """POST .../start: 200 running. With wait_for_app (0-300 s) the answer comes once
        the app listens, crashed or has nothing to run. Idempotent."""
        return self._sandbox(
            self._t.request(
                "POST", f"/v1/sandboxes/{_q(id)}/start", query={"wait_for_app": wait_for_app},
                idempotent=True, timeout=self._t.timeout + (wait_for_app or 0),
            )
        )

    def keepalive(self, id: str, seconds: Optional[int] = None) -> Sandbox:
        """POST .../keepalive: records activity and holds off the idle reaper for up to
        `seconds` (capped by the server). Does not start a stopped sandbox."""
        return self._sandbox(
            self._t.request(
                "POST", f"/v1/sandboxes/{_q(id)}/keepalive", json=_body(seconds=seconds),
                idempotent=True,
            )
        )

    def delete(self, id: str) -> None:
        """DELETE /v1/sandboxes/{id}: container and row gone, workspace kept (creating
        the id again re-attaches it). Idempotent."""
        self._t.request("DELETE", f"/v1/sandboxes/{_q(id)}", idempotent=True)

    def purge(self, id: str) -> PurgeResult:
        """POST .../purge: container, row, workspace, tasks and snapshots gone.
        Idempotent."""
        r = self._t.request("POST", f"/v1/sandboxes/{_q(id)}/purge", idempotent=True)
        return decode(PurgeResult, r.json())

    def logs(self, id: str, *, tail: Optional[int] = None) -> str:
        """GET .../logs: the end of the dev server's log (`tail` bytes, default 64 KiB)."""
        r = self._t.request("GET", f"/v1/sandboxes/{_q(id)}/logs", query={"tail": tail})
        return r.body.decode("utf-8", "replace")

    @overload
    def exec(
        self,
        id: str,
        cmd: Union[str, Sequence[str]],
        *,
        timeout_s: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        background: Literal[False] = False,
    ) -> ExecResult: ...

    @overload
    def exec(
        self,
        id: str,
        cmd: Union[str, Sequence[str]],
        *,
        timeout_s: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        background: Literal[True],
    ) -> Process: ...

    @overload
    def exec(
        self,
        id: str,
        cmd: Union[str, Sequence[str]],
        *,
        timeout_s: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        background: bool,
    ) -> Union[ExecResult, Process]: ...

    def exec(
        self,
        id: str,
        cmd: Union[str, Sequence[str]],
        *,
        timeout_s: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        background: bool = False,
    ) -> Union[ExecResult, Process]:
        """POST .../exec: runs `cmd` (an argv list; a string runs as `bash -lc cmd`) as
        the sandbox user in ~/workspace/app (or `workdir`). A non-zero exit is no error:
        check `exit_code` / `ok`. With background=True it answers at once with the
        running Process (see `processes`); timeout_s is then an optional deadline. Never
        retried on a lost connection (it would run again)."""
        body = _exec_body(cmd, timeout_s, env, workdir, background)
        path = f"/v1/sandboxes/{_q(id)}/exec"
        if background:
            return decode(Process, self._t.request("POST", path, json=body).json())
        wait = (timeout_s or _EXEC_DEFAULT_TIMEOUT_S) + _ANSWER_MARGIN_S
        r = self._t.request("POST", path, json=body, timeout=max(self._t.timeout, wait))
        return decode(ExecResult, r.json())

    def exec_stream(
        self,
        id: str,
        cmd: Union[str, Sequence[str]],
        *,
        timeout_s: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        workdir: Optional[str] = None,
        read_timeout: float = 60.0,
    ) -> ExecStream:
        """POST .../exec with Accept: text/event-stream: runs `cmd` as exec() does and
        answers at once an ExecStream, an iterator of ExecEvent: "stdout" and "stderr"
        pieces as the command writes them, then "exit" (`stream.exit`: exit_code,
        timed_out, duration_ms). Closing the stream early (or leaving its `with` block)
        ends the command. Errors before the start raise here; an engine failure mid-way
        raises from the iteration, as does a dropped connection (the stream cannot be
        resumed). Never retried on a lost connection."""
        what = f"exec in sandbox {id}"
        conn, resp = _open_stream(
            self._t, what, f"/v1/sandboxes/{_q(id)}/exec", method="POST",
            json=_exec_body(cmd, timeout_s, env, workdir), timeout=read_timeout,
        )
        return ExecStream(conn, resp, what)

    def fork(self, id: str, *, new_id: Optional[str] = None) -> Sandbox:
        """POST .../fork (201): a new sandbox with this one's settings, env and a copy of
        its files. Not retried on a lost connection."""
        r = self._t.request("POST", f"/v1/sandboxes/{_q(id)}/fork", json=_body(id=new_id))
        return self._sandbox(r)

    def restore(self, id: str, snapshot: str) -> Sandbox:
        """POST .../restore: the workspace becomes a copy of `snapshot` (id or name); a
        running app is restarted. Idempotent."""
        r = self._t.request(
            "POST", f"/v1/sandboxes/{_q(id)}/restore", json={"snapshot": snapshot},
            idempotent=True,
        )
        return self._sandbox(r)

    def wait_for_app(
        self, id: str, *, timeout: float = 60.0, poll_interval: float = 0.5
    ) -> Sandbox:
        """Polls the sandbox until its app listens or crashed (its `app.state` says
        which; a crashed app's `log_tail` says why), and answers it then. Raises
        WaitTimeoutError (with the app's state and log tail) at the deadline. Starts
        nothing (start(id, wait_for_app=N) starts and waits server-side)."""
        deadline = time.monotonic() + timeout
        while True:
            box = self.get(id)
            if box.app is not None and box.app.state in ("listening", "crashed"):
                return box
            left = deadline - time.monotonic()
            if left <= 0:
                app = box.app
                state = "unknown" if app is None else app.state + (
                    f" ({app.reason})" if app.reason else "")
                tail = app.log_tail[-1000:] if app else ""
                raise WaitTimeoutError(
                    f"sandbox {id}: app not listening after {timeout:g} s: status "
                    f"{box.status}, app {state}; log tail:\n{tail}",
                    code="wait_timeout",
                )
            time.sleep(min(poll_interval, left))


class Files:
    """/v1/sandboxes/{id}/files: paths are relative to the sandbox user's home
    (/home/sandbox); the app lives in workspace/app. Works whether the sandbox runs or
    not."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def _path(self, id: str) -> str:
        return f"/v1/sandboxes/{_q(id)}/files"

    def get(self, id: str, path: str = "") -> Union[File, Directory]:
        """GET (JSON): a File (content as text, or base64 for non-UTF-8 bytes) or a
        Directory (entries)."""
        obj = self._t.request("GET", self._path(id), query={"path": path}).json()
        return decode(Directory if obj.get("type") == "dir" else File, obj)

    def read_bytes(self, id: str, path: str) -> bytes:
        """The file's bytes (raw=true)."""
        r = self._t.request("GET", self._path(id), query={"path": path, "raw": True})
        return r.body

    def read_text(self, id: str, path: str, encoding: str = "utf-8") -> str:
        return self.read_bytes(id, path).decode(encoding)

    def write(
        self, id: str, path: str, data: Union[str, bytes], *, append: bool = False
    ) -> FileWritten:
        """PUT raw bytes (application/octet-stream; text is sent as UTF-8). Creates
        missing directories; replaces the file atomically, or appends. A replace is
        retried on a lost connection, an append is not."""
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        r = self._t.request(
            "PUT", self._path(id), query={"path": path, "append": append or None},
            body=payload, content_type="application/octet-stream", idempotent=not append,
        )
        return decode(FileWritten, r.json())

    def list(self, id: str, path: str = "") -> Directory:
        """The directory at `path` (default: the home); NotADirectoryError for a file."""
        node = self.get(id, path)
        if not isinstance(node, Directory):
            raise NotADirectoryError(f"sandbox {id}: {path!r} is a file")
        return node

    def delete(self, id: str, path: str) -> None:
        """Removes a file, a symlink or an empty directory (409 ConflictError for a
        non-empty one)."""
        self._t.request("DELETE", self._path(id), query={"path": path}, idempotent=True)


class Tasks:
    """/v1/sandboxes/{id}/tasks: agent runs (one at a time per sandbox)."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def _path(self, sandbox_id: str, task_id: str = "") -> str:
        base = f"/v1/sandboxes/{_q(sandbox_id)}/tasks"
        return f"{base}/{_q(task_id)}" if task_id else base

    def create(
        self,
        sandbox_id: str,
        *,
        prompt: str,
        agent: str,
        model: Optional[str] = None,
        timeout_s: Optional[int] = None,
        env: Optional[Mapping[str, str]] = None,
        checkpoint: Optional[bool] = None,
    ) -> Task:
        """POST (202): starts `agent` ("opencode" | "claude") on `prompt`. Model keys go
        in `env` (never in the prompt). checkpoint=True snapshots the workspace first
        (the task's checkpoint_id). ConflictError while another task runs."""
        body = _body(
            prompt=prompt, agent=agent, model=model, timeout_s=timeout_s,
            env=dict(env) if env is not None else None, checkpoint=checkpoint,
        )
        return decode(Task, self._t.request("POST", self._path(sandbox_id), json=body).json())

    def get(self, sandbox_id: str, task_id: str) -> Task:
        return decode(Task, self._t.request("GET", self._path(sandbox_id, task_id)).json())

    def list(self, sandbox_id: str) -> list[Task]:
        """The sandbox's tasks, newest first (at most 100)."""
        obj = self._t.request("GET", self._path(sandbox_id)).json()
        return [decode(Task, t) for t in obj.get("tasks", [])]

    def cancel(self, sandbox_id: str, task_id: str) -> Task:
        """POST .../cancel: the task ends "cancelled" (its stream ends with done)."""
        r = self._t.request(
            "POST", self._path(sandbox_id, task_id) + "/cancel", idempotent=True
        )
        return decode(Task, r.json())

    def events(
        self,
        sandbox_id: str,
        task_id: str,
        *,
        after: int = 0,
        read_timeout: float = 60.0,
        max_reconnects: int = 5,
        timeout: Optional[float] = None,
    ) -> TaskEventStream:
        """The task's events after id `after`, stored then live, ending after "done".
        A dropped connection is resumed from the last id seen (up to `max_reconnects`
        failed attempts in a row). `timeout`: raise WaitTimeoutError if "done" has not
        come that many seconds from now."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        return TaskEventStream(
            self._t, self._path(sandbox_id, task_id), task_id, after=after,
            read_timeout=read_timeout, max_reconnects=max_reconnects, deadline=deadline,
        )

    def wait(
        self,
        sandbox_id: str,
        task_id: str,
        *,
        on_event: Optional[Callable[[TaskEvent], None]] = None,
        timeout: Optional[float] = None,
    ) -> Task:
        """Follows the task's events (each to `on_event`) until it ends; answers the
        finished task."""
        with self.events(sandbox_id, task_id, timeout=timeout) as stream:
            for ev in stream:
                if on_event is not None:
                    on_event(ev)
        return self.get(sandbox_id, task_id)

    def run(
        self,
        sandbox_id: str,
        *,
        on_event: Optional[Callable[[TaskEvent], None]] = None,
        timeout: Optional[float] = None,
        **create: Any,
    ) -> Task:
        """create() then wait(): answers the finished task (check its `status`).
        `create` takes create()'s options (prompt and agent are required)."""
        task = self.create(sandbox_id, **create)
        return self.wait(sandbox_id, task.id, on_event=on_event, timeout=timeout)


class Processes:
    """/v1/sandboxes/{id}/processes: background processes, started by
    sandboxes.exec(..., background=True). They run on until they end, are killed, reach
    their deadline or their sandbox stops; a sandbox keeps its 100 newest ended ones."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def _path(self, sandbox_id: str, process_id: str = "") -> str:
        base = f"/v1/sandboxes/{_q(sandbox_id)}/processes"
        return f"{base}/{_q(process_id)}" if process_id else base

    def list(self, sandbox_id: str) -> list[Process]:
        """The sandbox's processes: the running ones first, then the ended ones, newest
        first within each."""
        obj = self._t.request("GET", self._path(sandbox_id)).json()
        return [decode(Process, p) for p in obj.get("processes", [])]

    def get(self, sandbox_id: str, process_id: str) -> Process:
        """By its `id` (not its pid in the sandbox)."""
        return decode(Process, self._t.request("GET", self._path(sandbox_id, process_id)).json())

    def kill(self, sandbox_id: str, process_id: str, signal: str = "TERM") -> Process:
        """DELETE: sends `signal` ("TERM" | "INT" | "HUP" | "KILL"; TERM becomes KILL
        after 5 s) and answers once the process ended, or after 3 s (it may still say
        running). ConflictError once it has ended; not retried on a lost connection."""
        r = self._t.request("DELETE", self._path(sandbox_id, process_id),
                            query={"signal": signal})
        return decode(Process, r.json())

    def output(
        self, sandbox_id: str, process_id: str, *, tail: Optional[int] = None
    ) -> ProcessOutput:
        """The last `tail` bytes (default 64 KiB, at most 1 MiB) of its stdout and of
        its stderr; readable after it ended and while the sandbox is stopped."""
        r = self._t.request("GET", self._path(sandbox_id, process_id) + "/output",
                            query={"tail": tail})
        return decode(ProcessOutput, r.json())

    def follow(
        self,
        sandbox_id: str,
        process_id: str,
        *,
        tail: Optional[int] = None,
        read_timeout: float = 60.0,
    ) -> ProcessOutputStream:
        """Its output as it comes: a ProcessOutputStream of ProcessOutputEvent, "stdout"
        and "stderr" pieces (the last `tail` bytes first; tail=0: only new output), then
        "exit" with the ended Process (`stream.process`). Closing the stream leaves the
        process running. A dropped connection raises SandboxedConnectionError."""
        what = f"process {process_id} of sandbox {sandbox_id}"
        conn, resp = _open_stream(
            self._t, what, self._path(sandbox_id, process_id) + "/output",
            query={"follow": True, "tail": tail}, timeout=read_timeout,
        )
        return ProcessOutputStream(conn, resp, what)


class Snapshots:
    """/v1/snapshots and a sandbox's snapshots. Fork and restore are on `sandboxes`."""

    def __init__(self, t: Transport) -> None:
        self._t = t

    def create(self, sandbox_id: str, *, name: Optional[str] = None) -> Snapshot:
        """POST /v1/sandboxes/{id}/snapshots (201): a copy of the workspace. Not retried
        on a lost connection."""
        r = self._t.request(
            "POST", f"/v1/sandboxes/{_q(sandbox_id)}/snapshots", json=_body(name=name)
        )
        return decode(Snapshot, r.json())

    def list(self, *, sandbox_id: Optional[str] = None) -> list[Snapshot]:
        """GET /v1/snapshots: every snapshot and template, oldest first; or only
        `sandbox_id`'s (also after that sandbox was deleted)."""
        r = self._t.request("GET", "/v1/snapshots", query={"sandbox_id": sandbox_id})
        return [decode(Snapshot, s) for s in r.json().get("snapshots", [])]

    def list_for_sandbox(self, sandbox_id: str) -> builtins.list[Snapshot]:
        """GET /v1/sandboxes/{id}/snapshots: an existing sandbox's snapshots, oldest
        first (NotFoundError for an unknown or deleted sandbox)."""
        r = self._t.request("GET", f"/v1/sandboxes/{_q(sandbox_id)}/snapshots")
        return [decode(Snapshot, s) for s in r.json().get("snapshots", [])]

    def get(self, snapshot: str) -> Snapshot:
        """By id or name."""
        return decode(Snapshot, self._t.request("GET", f"/v1/snapshots/{_q(snapshot)}").json())

    def delete(self, snapshot: str) -> None:
        """By id or name; NotFoundError when there is none (a repeat too)."""
        self._t.request("DELETE", f"/v1/snapshots/{_q(snapshot)}")

    def create_sandbox(self, snapshot: str, **create: Any) -> Sandbox:
        """A new sandbox whose workspace starts as a copy of `snapshot` (a snapshot's or
        template's id or name); `create` takes sandboxes.create()'s options."""
        return Sandboxes(self._t).create(snapshot=snapshot, **create)
