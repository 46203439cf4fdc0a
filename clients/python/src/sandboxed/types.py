"""The API's objects as dataclasses, decoded from its JSON.

Each class lists the fields of one object of the API (api/openapi.json's component
schemas; tests/test_openapi_types.py keeps the two in step). Decoding is lenient towards
newer servers: a field the class does not know is ignored (it stays in `raw`), a field the
server leaves out gets its default. Timestamps are RFC 3339 strings (or None), as sent.
"""

from __future__ import annotations

import dataclasses
import sys
import types as _pytypes
import typing
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar, Union

T = TypeVar("T")


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Preview:
    port: int = 0
    url: str = ""


@dataclass(frozen=True)
class Limits:
    memory_bytes: Optional[int] = None
    pids: Optional[int] = None
    nofile: Optional[int] = None
    disk_bytes: Optional[int] = None
    cpus: Optional[float] = None


@dataclass(frozen=True)
class AppState:
    """The dev server as the sandbox's supervisor last reported it.

    state: "none" | "starting" | "listening" | "crashed".
    last_exit: {"code": N}, {"signal": N} or None.
    """

    state: str = "none"
    port: Optional[int] = None
    restarts: int = 0
    started_at: Optional[str] = None
    last_exit: Optional[dict[str, int]] = None
    last_exit_at: Optional[str] = None
    reason: Optional[str] = None
    updated_at: Optional[str] = None
    log_tail: str = ""


@dataclass(frozen=True)
class SandboxUsage:
    disk_used_bytes: Optional[int] = None
    memory_bytes: Optional[int] = None
    cpu_seconds: Optional[float] = None


@dataclass(frozen=True)
class IdleInfo:
    threshold_s: Optional[int] = None
    freezes_at: Optional[str] = None
    stops_at: Optional[str] = None
    reason: str = ""


@dataclass(frozen=True)
class Sandbox:
    """A sandbox. `app`, `usage` and `idle` are set on single-sandbox answers only
    (None in list pages). `error_message` is set only in status "error"."""

    id: str = ""
    status: str = ""
    image: str = ""
    container_name: str = ""
    container_id: Optional[str] = None
    ports: list[int] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)
    env_keys: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    pending_restart: list[str] = field(default_factory=list)
    idle_policy: str = ""
    limits: Limits = field(default_factory=Limits)
    egress: str = ""
    runtime: str = ""
    uid: Optional[int] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    started_at: Optional[str] = None
    stopped_at: Optional[str] = None
    last_active_at: Optional[str] = None
    last_active_source: Optional[str] = None
    keepalive_until: Optional[str] = None
    stop_reason: Optional[str] = None
    error_message: Optional[str] = None
    app: Optional[AppState] = None
    usage: Optional[SandboxUsage] = None
    idle: Optional[IdleInfo] = None
    raw: dict[str, Any] = _raw()

    def preview_url(self, port: Optional[int] = None) -> Optional[str]:
        """The preview URL of `port` (default: the first port), None when not listed."""
        for p in self.previews:
            if port is None or p.port == port:
                return p.url
        return None


@dataclass(frozen=True)
class SandboxPage:
    """One page of GET /v1/sandboxes; `next_after` is the cursor of the next page
    (None on the last one)."""

    sandboxes: list[Sandbox] = field(default_factory=list)
    next_after: Optional[str] = None


@dataclass(frozen=True)
class ExecResult:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = -1
    duration_ms: int = 0
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """The command exited 0 within its timeout."""
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class ExecExit:
    """How a streamed exec's command ended (its "exit" event)."""

    exit_code: int = -1
    timed_out: bool = False
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        """The command exited 0 within its timeout."""
        return self.exit_code == 0 and not self.timed_out


# The event types the SDK yields from a streamed exec and a followed process output;
# "exit" is always last. (A streamed exec's "error" event is raised, not yielded.)
EXEC_EVENT_TYPES = ("stdout", "stderr", "exit")


@dataclass(frozen=True)
class ExecEvent:
    """One event of a streamed exec: "stdout" or "stderr" with its `text`, or "exit"
    (always last) with `exit`."""

    type: str
    text: str = ""
    exit: Optional[ExecExit] = None


@dataclass(frozen=True)
class Process:
    """A background process (sandboxes.exec(..., background=True)).

    state: "running", then "exited" (by itself, by a signal or at its deadline: see
    exit_code, signal, timed_out), "stopped" (with its sandbox's stop) or "lost" (it
    could not be started). pid is its pid in the sandbox; `id` names it in the API.
    """

    id: str = ""
    sandbox_id: str = ""
    cmd: list[str] = field(default_factory=list)
    workdir: str = ""
    pid: Optional[int] = None
    state: str = ""
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    timed_out: bool = False
    timeout_s: Optional[int] = None
    started_at: Optional[str] = None
    ended_at: Optional[str] = None
    output_url: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ProcessOutput:
    """The end of a background process's output (env values masked as ***)."""

    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class ProcessOutputEvent:
    """One event of a followed process output: "stdout" or "stderr" with its `text`, or
    "exit" (always last) with the ended `process`."""

    type: str
    text: str = ""
    process: Optional[Process] = None


@dataclass(frozen=True)
class PurgeResult:
    purged: bool = False
    freed_bytes: int = 0


@dataclass(frozen=True)
class FileEntry:
    """One directory entry; type is "file" | "dir" | "symlink" | "other"."""

    name: str = ""
    type: str = ""
    size: int = 0
    modified_at: Optional[str] = None


@dataclass(frozen=True)
class Directory:
    path: str = ""
    type: str = "dir"
    modified_at: Optional[str] = None
    entries: list[FileEntry] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True)
class File:
    """A file as the JSON read returns it: `content` is text when encoding is "utf8",
    base64 when "base64". `data` gives the bytes either way."""

    path: str = ""
    type: str = "file"
    size: int = 0
    modified_at: Optional[str] = None
    encoding: str = "utf8"
    content: str = ""

    @property
    def data(self) -> bytes:
        import base64

        if self.encoding == "base64":
            return base64.b64decode(self.content)
        return self.content.encode("utf-8")


@dataclass(frozen=True)
class FileWritten:
    path: str = ""
    bytes_written: int = 0
    appended: bool = False


@dataclass(frozen=True)
class Task:
    """An agent task. status: "running" | "succeeded" | "failed" | "cancelled".
    `usage` holds token totals (input_tokens, output_tokens, ..., cost_usd)."""

    id: str = ""
    sandbox_id: str = ""
    agent: str = ""
    model: str = ""
    status: str = ""
    failure_reason: Optional[str] = None
    error: Optional[str] = None
    final_message: str = ""
    files_changed: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    exit_code: Optional[int] = None
    env_keys: list[str] = field(default_factory=list)
    checkpoint_id: Optional[str] = None
    timeout_s: Optional[int] = None
    cancel_requested: bool = False
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    duration_ms: Optional[int] = None
    events_url: str = ""

    @property
    def finished(self) -> bool:
        return self.status != "running"


# The event types of a task's stream; "done" is always last.
TASK_EVENT_TYPES = ("status", "message", "tool", "usage", "error", "done")


@dataclass(frozen=True)
class TaskEvent:
    """One event of a task's stream. type: one of TASK_EVENT_TYPES; `data` is its JSON
    payload (for "done": the task's result)."""

    id: int
    type: str
    data: Any

    @property
    def is_terminal(self) -> bool:
        return self.type == "done"


@dataclass(frozen=True)
class Snapshot:
    """A snapshot of a workspace, or a starter template (template=True, sandbox_id None)."""

    id: str = ""
    name: Optional[str] = None
    sandbox_id: Optional[str] = None
    template: bool = False
    created_at: Optional[str] = None
    bytes: int = 0
    files: int = 0


@dataclass(frozen=True)
class Version:
    version: str = ""
    api_version: str = ""


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, _pytypes.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(tp)
        return [_convert(item, v) for v in value]
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return decode(tp, value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def decode(cls: type[T], obj: Any) -> T:
    """`obj` (a decoded JSON object) as a `cls`: known fields converted, nested objects
    decoded, unknown ones ignored (kept in `raw` where the class has it)."""
    if not isinstance(obj, dict):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(obj).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        _HINTS[cls] = hints
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name == "raw":
            kwargs["raw"] = obj
        elif f.name in obj:
            kwargs[f.name] = _convert(hints[f.name], obj[f.name])
    return cls(**kwargs)
