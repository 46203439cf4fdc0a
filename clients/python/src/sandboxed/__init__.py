"""Python SDK for sandboxd, the self-hosted sandbox engine (standard library only).

    from sandboxed import Sandboxed
    client = Sandboxed()                      # $SANDBOXD_URL, $SANDBOXD_TOKEN
    box = client.sandboxes.create(ports=[3000])
    print(client.sandboxes.exec(box.id, ["node", "--version"]).stdout)
"""

__version__ = "0.1.0"

from ._client import Files, Processes, Sandboxed, Sandboxes, Snapshots, Tasks  # noqa: E402
from ._events import ExecStream, ProcessOutputStream, TaskEventStream  # noqa: E402
from ._transport import Response  # noqa: E402
from .errors import (  # noqa: E402
    CapacityError,
    ConflictError,
    ForbiddenError,
    GatewayTimeoutError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    SandboxedConnectionError,
    SandboxedError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedMediaTypeError,
    WaitTimeoutError,
)
from .types import (  # noqa: E402
    AppState,
    Directory,
    EXEC_EVENT_TYPES,
    ExecEvent,
    ExecExit,
    ExecResult,
    File,
    FileEntry,
    FileWritten,
    IdleInfo,
    Limits,
    Preview,
    Process,
    ProcessOutput,
    ProcessOutputEvent,
    PurgeResult,
    Sandbox,
    SandboxPage,
    SandboxUsage,
    Snapshot,
    Task,
    TASK_EVENT_TYPES,
    TaskEvent,
    Version,
)

__all__ = [
    "Sandboxed", "Sandboxes", "Files", "Tasks", "Processes", "Snapshots", "TaskEventStream",
    "ExecStream", "ProcessOutputStream", "Response",
    "SandboxedError", "InvalidArgumentError", "UnauthorizedError", "ForbiddenError",
    "NotFoundError", "ConflictError", "TooLargeError", "UnsupportedMediaTypeError",
    "CapacityError", "InternalError", "UnavailableError", "GatewayTimeoutError",
    "SandboxedConnectionError", "WaitTimeoutError",
    "Sandbox", "SandboxPage", "Preview", "Limits", "AppState", "SandboxUsage", "IdleInfo",
    "ExecResult", "PurgeResult", "File", "Directory", "FileEntry", "FileWritten", "Task",
    "TaskEvent", "TASK_EVENT_TYPES", "ExecEvent", "ExecExit", "EXEC_EVENT_TYPES", "Process",
    "ProcessOutput", "ProcessOutputEvent", "Snapshot", "Version", "__version__",
]
