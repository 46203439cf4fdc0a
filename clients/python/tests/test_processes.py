"""Unit tests of streamed exec, background exec and the process calls against a scripted
local server: what is sent, how events and answers are read, how a stream ends (exit,
an engine error, a cut connection, closed early by the caller)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from fakeserver import FakeServer, answer
from sandboxed import (
    ConflictError,
    ExecExit,
    NotFoundError,
    Process,
    Sandboxed,
    SandboxedConnectionError,
    UnavailableError,
)

EXEC = "/v1/sandboxes/s1/exec"
PROCS = "/v1/sandboxes/s1/processes"
PROCESS = {
    "id": "p1", "sandbox_id": "s1", "cmd": ["npm", "run", "dev"],
    "workdir": "/home/sandbox/workspace/app", "pid": 42, "state": "running",
    "exit_code": None, "signal": None, "timed_out": False, "timeout_s": None,
    "started_at": "2026-01-01T00:00:00.000Z", "ended_at": None,
    "output_url": "/v1/sandboxes/s1/processes/p1/output",
}
ENDED = dict(PROCESS, state="exited", signal=15, ended_at="2026-01-01T00:00:09.000Z")


def event(kind: str, data: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def sse(*chunks: bytes, hold: threading.Event | None = None):
    """Answers an event stream of `chunks`, then closes it (after `hold` is set, if given)."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("X-Request-Id", "req-sse")
        h.send_header("Connection", "close")
        h.end_headers()
        for c in chunks:
            h.wfile.write(c)
            h.wfile.flush()
        if hold is not None:
            hold.wait(10)
        h.close_connection = True

    return act


def keepalives_until_gone(first: bytes, gone: threading.Event):
    """Answers a stream that sends `first`, then a keepalive every 20 ms until the client
    has closed the connection (a write fails), when it sets `gone`, as sandboxd notices a
    client that went away."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(first)
        h.wfile.flush()
        try:
            for _ in range(500):
                threading.Event().wait(0.02)
                h.wfile.write(b": keepalive\n\n")
                h.wfile.flush()
        except OSError:
            gone.set()
        h.close_connection = True

    return act


def json_answer(status: int, obj: object):
    return answer(status, json.dumps(obj).encode())


def test_exec_in_the_background_sends_background_and_answers_the_process():
    with FakeServer([json_answer(202, PROCESS)]) as srv:
        p = Sandboxed(srv.url, "t").sandboxes.exec("s1", "npm run dev", background=True,
                                                   timeout_s=600)
    assert isinstance(p, Process) and p.running and p.pid == 42 and p.cmd == ["npm", "run", "dev"]
    assert srv.seen[0].method == "POST" and srv.seen[0].path == EXEC
    assert json.loads(srv.seen[0].body) == {
        "cmd": ["bash", "-lc", "npm run dev"], "timeout_s": 600, "background": True}


def test_exec_without_background_sends_no_background_field():
    result = {"stdout": "hi\n", "stderr": "", "exit_code": 0, "duration_ms": 3,
              "timed_out": False, "truncated": False}
    with FakeServer([json_answer(200, result)]) as srv:
        r = Sandboxed(srv.url, "t").sandboxes.exec("s1", ["echo", "hi"])
    assert r.ok and r.stdout == "hi\n"
    assert json.loads(srv.seen[0].body) == {"cmd": ["echo", "hi"]}


def test_exec_stream_yields_output_as_it_comes_then_the_exit():
    script = [sse(event("stdout", {"data": "hel"}), b": keepalive\n\n",
                  event("stdout", {"data": "lo\n"}), event("stderr", {"data": "warn\n"}),
                  event("exit", {"exit_code": 3, "timed_out": False, "duration_ms": 12}),
                  event("stdout", {"data": "never read"}))]
    with FakeServer(script) as srv:
        with Sandboxed(srv.url, "t").sandboxes.exec_stream(
                "s1", ["sh", "-c", "x"], env={"K": "v"}, timeout_s=5) as stream:
            got = list(stream)
    assert [(e.type, e.text) for e in got] == [
        ("stdout", "hel"), ("stdout", "lo\n"), ("stderr", "warn\n"), ("exit", "")]
    assert got[-1].exit == stream.exit == ExecExit(exit_code=3, timed_out=False, duration_ms=12)
    assert not stream.exit.ok
    seen = srv.seen[0]
    assert seen.method == "POST" and seen.path == EXEC
    assert seen.headers["Accept"] == "text/event-stream"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Authorization"] == "Bearer t"
    assert json.loads(seen.body) == {"cmd": ["sh", "-c", "x"], "timeout_s": 5, "env": {"K": "v"}}


def test_an_error_event_raises_its_typed_error_after_the_output_before_it():
    script = [sse(event("stdout", {"data": "partial"}),
                  event("error", {"error": {"code": "unavailable", "message": "dockerd left"}}))]
    with FakeServer(script) as srv:
        stream = Sandboxed(srv.url, "t").sandboxes.exec_stream("s1", ["x"])
        got = []
        with pytest.raises(UnavailableError) as err:
            for ev in stream:
                got.append(ev.text)
    assert got == ["partial"]
    assert err.value.code == "unavailable" and "dockerd left" in err.value.message
    assert err.value.request_id == "req-sse"
    assert stream.exit is None


def test_a_stream_cut_before_its_exit_raises_stream_error():
    cut = b"event: stdout\ndata: {\"data\": \"a\"}\n\nevent: exit\ndata: {\"exit_co"
    with FakeServer([sse(cut)]) as srv:
        stream = Sandboxed(srv.url, "t").sandboxes.exec_stream("s1", ["x"])
        with pytest.raises(SandboxedConnectionError) as err:
            list(stream)
    assert err.value.code == "stream_error"
    assert stream.exit is None


def test_an_error_answer_raises_from_the_exec_stream_call_itself():
    missing = {"error": {"code": "not_found", "message": "sandbox s1 not found",
                         "request_id": "r1"}}
    with FakeServer([json_answer(404, missing)]) as srv:
        with pytest.raises(NotFoundError):
            Sandboxed(srv.url, "t").sandboxes.exec_stream("s1", ["x"])
    assert len(srv.seen) == 1


def test_closing_an_exec_stream_early_closes_its_connection():
    gone = threading.Event()
    with FakeServer([keepalives_until_gone(event("stdout", {"data": "tick\n"}), gone)]) as srv:
        stream = Sandboxed(srv.url, "t").sandboxes.exec_stream("s1", ["sleep", "600"])
        assert next(stream).text == "tick\n"
        stream.close()
        assert gone.wait(10), "the server did not see the connection closed"


def test_process_calls_use_their_routes_and_decode_processes():
    script = [json_answer(200, {"processes": [PROCESS, ENDED]}), json_answer(200, PROCESS),
              json_answer(200, ENDED), json_answer(200, {"stdout": "ning\n", "stderr": ""})]
    with FakeServer(script) as srv:
        procs = Sandboxed(srv.url, "t").processes
        listed = procs.list("s1")
        got = procs.get("s1", "p1")
        killed = procs.kill("s1", "p1", "KILL")
        out = procs.output("s1", "p1", tail=5)
    assert [p.state for p in listed] == ["running", "exited"]
    assert got == listed[0] and got.output_url.endswith("/p1/output")
    assert not killed.running and killed.signal == 15 and killed.exit_code is None
    assert (out.stdout, out.stderr) == ("ning\n", "")
    assert [(s.method, s.path) for s in srv.seen] == [
        ("GET", PROCS), ("GET", PROCS + "/p1"), ("DELETE", PROCS + "/p1?signal=KILL"),
        ("GET", PROCS + "/p1/output?tail=5")]


def test_killing_an_ended_process_is_a_conflict():
    ended = {"error": {"code": "conflict", "message": "process p1 has ended (exited)",
                       "request_id": "r"}}
    with FakeServer([json_answer(409, ended)]) as srv:
        with pytest.raises(ConflictError):
            Sandboxed(srv.url, "t").processes.kill("s1", "p1")
    assert srv.seen[0].path == PROCS + "/p1?signal=TERM"


def test_follow_yields_the_output_then_the_ended_process_and_stops():
    script = [sse(event("stdout", {"data": "listening\n"}), event("stderr", {"data": "bye\n"}),
                  event("exit", ENDED), event("stdout", {"data": "never read"}))]
    with FakeServer(script) as srv:
        stream = Sandboxed(srv.url, "t").processes.follow("s1", "p1", tail=0)
        got = list(stream)
    assert [(e.type, e.text) for e in got] == [
        ("stdout", "listening\n"), ("stderr", "bye\n"), ("exit", "")]
    assert got[-1].process == stream.process
    assert stream.process is not None and stream.process.state == "exited"
    assert srv.seen[0].path == PROCS + "/p1/output?follow=true&tail=0"
    assert srv.seen[0].headers["Accept"] == "text/event-stream"
