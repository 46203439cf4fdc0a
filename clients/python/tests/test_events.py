"""Unit tests of the task event stream against a scripted SSE server: resume with
Last-Event-ID after a drop (no event lost or repeated), stop after "done", the end of a
finished task's stream, bounded reconnects and the deadline."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from fakeserver import FakeServer, answer
from sandboxed import Sandboxed, SandboxedConnectionError, WaitTimeoutError
from sandboxed._events import parse_sse

EVENTS = "/v1/sandboxes/s1/tasks/t1/events"


def frame(i: int, kind: str = "message", data: object = None) -> bytes:
    payload = json.dumps(data if data is not None else {"n": i})
    return f"id: {i}\nevent: {kind}\ndata: {payload}\n\n".encode()


def sse(*chunks: bytes, stall: threading.Event | None = None):
    """Answers an event stream of `chunks`, then closes it (or first waits for `stall`)."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        for c in chunks:
            h.wfile.write(c)
            h.wfile.flush()
        if stall is not None:
            stall.wait(10)
        h.close_connection = True

    return act


def task(status: str):
    return answer(200, json.dumps({"id": "t1", "sandbox_id": "s1", "status": status}).encode())


def recording(client: Sandboxed) -> list[float]:
    waits: list[float] = []
    client._t.sleep = waits.append  # type: ignore[method-assign]
    return waits


def test_a_dropped_stream_resumes_after_the_last_whole_event_and_stops_after_done():
    cut = b"id: 3\nevent: message\ndata: {\"n\""  # event 3 cut off by the drop
    script = [
        sse(frame(1, "status"), frame(2), cut),
        sse(frame(3), b": keepalive\n\n", frame(4, "tool"), frame(5, "done", {"status": "succeeded"}),
            frame(6)),
    ]
    with FakeServer(script) as srv:
        client = Sandboxed(srv.url, "t")
        stream = client.tasks.events("s1", "t1")
        got = list(stream)
    assert [(e.id, e.type) for e in got] == [
        (1, "status"), (2, "message"), (3, "message"), (4, "tool"), (5, "done")]
    assert got[2].data == {"n": 3}
    assert got[-1].data == {"status": "succeeded"}
    assert stream.reconnects == 1 and stream.last_event_id == 5
    assert [s.path for s in srv.seen] == [EVENTS, EVENTS]
    assert "Last-Event-ID" not in srv.seen[0].headers
    assert srv.seen[1].headers["Last-Event-ID"] == "2"
    assert srv.seen[0].headers["Authorization"] == "Bearer t"


def test_a_stream_resumed_after_done_ends_at_once_when_the_task_is_finished():
    with FakeServer([sse(), task("succeeded")]) as srv:
        got = list(Sandboxed(srv.url, "t").tasks.events("s1", "t1", after=9))
    assert got == []
    assert srv.seen[0].headers["Last-Event-ID"] == "9"
    assert srv.seen[1].path == "/v1/sandboxes/s1/tasks/t1"


def test_a_stream_that_keeps_ending_early_gives_up_after_max_reconnects():
    with FakeServer([], default=None) as srv:
        srv.script = [sse(), task("running")] * 3
        client = Sandboxed(srv.url, "t")
        waits = recording(client)
        with pytest.raises(SandboxedConnectionError) as err:
            list(client.tasks.events("s1", "t1", max_reconnects=2))
    assert err.value.code == "stream_error"
    assert len(waits) == 2
    assert [s.path for s in srv.seen].count(EVENTS) == 3


def test_the_deadline_ends_a_stalled_stream_with_wait_timeout():
    stall = threading.Event()
    try:
        with FakeServer([sse(frame(1), stall=stall)]) as srv:
            got = []
            with pytest.raises(WaitTimeoutError):
                for ev in Sandboxed(srv.url, "t").tasks.events("s1", "t1", timeout=0.5):
                    got.append(ev.id)
            stall.set()
    finally:
        stall.set()
    assert got == [1]


def test_parse_sse_joins_data_lines_and_skips_comments():
    text = (b": hello\r\nid: 7\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n"
            b"id:8\nevent:error\ndata:plain\n\nid: 9\nevent: message\n")
    events = list(parse_sse(io.BytesIO(text).readline))
    assert [(e.id, e.type, e.data) for e in events] == [
        (7, "message", {"a": 1}), (8, "error", "plain")]
