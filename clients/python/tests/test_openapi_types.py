"""The SDK against api/openapi.json, so neither can drift silently: every operation has
an SDK method taking its query parameters and body fields, and every property of the
component schemas the dataclasses mirror is a field of the dataclass (and no field is
made up)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from sandboxed import errors, types
from sandboxed import Sandboxed

SPEC_PATH = Path(__file__).resolve().parents[3] / "api" / "openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    assert SPEC_PATH.is_file(), f"{SPEC_PATH} is missing"
    return json.loads(SPEC_PATH.read_text())


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with $ref followed and allOf merged."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return resolve(spec, spec["components"]["schemas"][name])
    if "allOf" in schema:
        merged: dict[str, Any] = {"properties": {}, "required": []}
        for part in schema["allOf"]:
            r = resolve(spec, part)
            merged["properties"].update(r.get("properties", {}))
            merged["required"] += r.get("required", [])
        return merged
    return schema


def properties(spec: dict[str, Any], name: str) -> set[str]:
    return set(resolve(spec, {"$ref": f"#/components/schemas/{name}"}).get("properties", {}))


# dataclass -> the component schema it mirrors.
MIRRORS = {
    types.Sandbox: "Sandbox",
    types.Preview: "Preview",
    types.Limits: "Limits",
    types.AppState: "AppState",
    types.SandboxUsage: "SandboxUsage",
    types.IdleInfo: "IdleInfo",
    types.SandboxPage: "SandboxList",
    types.ExecResult: "ExecResult",
    types.PurgeResult: "Purge",
    types.FileEntry: "FileEntry",
    types.File: "FileContent",
    types.Directory: "DirListing",
    types.FileWritten: "FileWritten",
    types.Task: "Task",
    types.Process: "Process",
    types.ProcessOutput: "ProcessOutput",
    types.ExecExit: "ExecExitEvent",
    types.Snapshot: "Snapshot",
    types.Version: "Version",
}


@pytest.mark.parametrize("cls", list(MIRRORS), ids=lambda c: c.__name__)
def test_each_dataclass_has_exactly_its_schemas_properties(spec, cls):
    schema = properties(spec, MIRRORS[cls])
    assert schema, f"schema {MIRRORS[cls]} has no properties"
    fields = {f.name for f in dataclasses.fields(cls)} - {"raw"}
    assert schema - fields == set(), f"{cls.__name__} lacks {sorted(schema - fields)}"
    assert fields - schema == set(), f"{cls.__name__} has fields the API lacks: {sorted(fields - schema)}"


def test_the_event_types_are_the_streams(spec):
    op = spec["paths"]["/v1/sandboxes/{id}/tasks/{task_id}/events"]["get"]
    events = op["responses"]["200"]["content"]["text/event-stream"]["x-event-schemas"]
    assert tuple(events) == types.TASK_EVENT_TYPES


def test_the_exec_and_process_output_event_types_are_the_streams(spec):
    def events(path: str, method: str) -> set[str]:
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        return set(content["text/event-stream"]["x-event-schemas"])

    # A streamed exec's "error" event is raised, not yielded.
    assert events("/v1/sandboxes/{id}/exec", "post") == set(types.EXEC_EVENT_TYPES) | {"error"}
    assert events("/v1/sandboxes/{id}/processes/{pid}/output", "get") == set(types.EXEC_EVENT_TYPES)


def test_the_done_event_carries_task_fields(spec):
    task = {f.name for f in dataclasses.fields(types.Task)}
    assert properties(spec, "TaskEventDone") - task == set()


def test_every_error_code_has_its_typed_error(spec):
    codes = set(resolve(spec, {"$ref": "#/components/schemas/ErrorCode"})["enum"])
    assert codes == set(errors._BY_CODE)
    assert properties(spec, "Error") == {"error"}
    inner = set(resolve(spec, {"$ref": "#/components/schemas/Error"})["properties"]["error"]["properties"])
    assert inner == {"code", "message", "request_id"}
    e = errors.SandboxedError("m", code="c", request_id="r", status=400)
    assert all(hasattr(e, a) for a in inner)


# operationId -> (the SDK method, {spec name: SDK parameter name} where they differ).
def operations(c: Sandboxed) -> dict[str, tuple[Callable[..., Any], dict[str, str]]]:
    return {
        "getReadiness": (c.ready, {}),
        "getVersion": (c.version, {}),
        "getOpenApi": (c.openapi, {}),
        "createSandbox": (c.sandboxes.create, {}),
        "listSandboxes": (c.sandboxes.list_page, {}),
        "getSandbox": (c.sandboxes.get, {}),
        "patchSandbox": (c.sandboxes.update, {}),
        "deleteSandbox": (c.sandboxes.delete, {}),
        "execSandbox": (c.sandboxes.exec, {}),
        "keepaliveSandbox": (c.sandboxes.keepalive, {}),
        "stopSandbox": (c.sandboxes.stop, {}),
        "startSandbox": (c.sandboxes.start, {}),
        "getSandboxLogs": (c.sandboxes.logs, {}),
        "readFile": (c.files.get, {"raw": "-"}),  # raw=true: files.read_bytes
        "writeFile": (c.files.write, {}),
        "deleteFile": (c.files.delete, {}),
        "createTask": (c.tasks.create, {}),
        "listTasks": (c.tasks.list, {}),
        "getTask": (c.tasks.get, {}),
        "cancelTask": (c.tasks.cancel, {}),
        "listProcesses": (c.processes.list, {}),
        "getProcess": (c.processes.get, {}),
        "signalProcess": (c.processes.kill, {}),
        "getProcessOutput": (c.processes.output, {"follow": "-"}),  # follow: processes.follow
        "streamTaskEvents": (c.tasks.events, {"since": "after", "Last-Event-ID": "after"}),
        "purgeSandbox": (c.sandboxes.purge, {}),
        "createSnapshot": (c.snapshots.create, {}),
        "listSandboxSnapshots": (c.snapshots.list_for_sandbox, {}),
        "forkSandbox": (c.sandboxes.fork, {"id": "new_id"}),
        "restoreSandbox": (c.sandboxes.restore, {}),
        "listSnapshots": (c.snapshots.list, {}),
        "getSnapshot": (c.snapshots.get, {}),
        "deleteSnapshot": (c.snapshots.delete, {}),
    }


# Operations the SDK leaves out on purpose: liveness and Prometheus text are for probes
# and scrapers; the terminal (a WebSocket, and its tickets for browsers) is for people, in
# the web console, whose static files are for browsers.
NOT_IN_SDK = {"getHealth", "getMetrics", "openTerminal", "createTerminalTicket", "getConsole",
              "getConsoleAsset"}
# Body fields the SDK leaves out on purpose: keepalive's `until` is the original API's
# spelling of `seconds`; a file's JSON body (content, encoding) is replaced by the raw
# upload, which takes path and append from the query.
LEFT_OUT = {("keepaliveSandbox", "until"), ("writeFile", "content"), ("writeFile", "encoding")}


def spec_operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ops = {}
    for path_item in spec["paths"].values():
        for method, op in path_item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ops[op["operationId"]] = op
    return ops


def test_every_operation_has_an_sdk_method(spec):
    ops = set(spec_operations(spec)) - NOT_IN_SDK
    assert ops == set(operations(Sandboxed("http://127.0.0.1:9")))


def test_sdk_methods_take_every_query_parameter_and_body_field(spec):
    c = Sandboxed("http://127.0.0.1:9")
    missing = []
    for op_id, op in spec_operations(spec).items():
        if op_id in NOT_IN_SDK:
            continue
        method, renames = operations(c)[op_id]
        params = set(inspect.signature(method).parameters)
        names = [p["name"] for p in (resolve(spec, p) for p in op.get("parameters", []))
                 if p.get("in") in ("query", "header")]
        for content in (op.get("requestBody") or {}).get("content", {}).values():
            names += list(resolve(spec, content.get("schema", {})).get("properties", {}))
        for name in names:
            want = renames.get(name, "metadata" if name.startswith("metadata") else name)
            if want != "-" and want not in params and (op_id, name) not in LEFT_OUT:
                missing.append(f"{op_id}: {name}")
    assert missing == []

