"""Unit tests of the transport against a scripted local HTTP server: retries on 503
(Retry-After honoured, bounded), on connection failures (idempotent calls only), typed
errors, auth and keep-alive reuse."""

from __future__ import annotations

import json
import threading
import time

import pytest

from fakeserver import FakeServer, answer, hang_up, then_close
from sandboxed import (
    CapacityError,
    ConflictError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    SandboxedConnectionError,
    SandboxedError,
    Sandboxed,
    UnavailableError,
)
from sandboxed._transport import parse_retry_after

SANDBOX = json.dumps({"id": "a1", "status": "running"}).encode()
UNAVAILABLE = json.dumps(
    {"error": {"code": "unavailable", "message": "host memory is low", "request_id": "r503"}}
).encode()


def unavailable(retry_after: str = "1") -> object:
    return answer(503, UNAVAILABLE, {"Retry-After": retry_after})


def recording(client: Sandboxed) -> list[float]:
    """Replaces the client's pause between retries by a recorder of its lengths."""
    waits: list[float] = []
    client._t.sleep = waits.append  # type: ignore[method-assign]
    return waits


def test_a_503_is_retried_after_its_retry_after_and_then_succeeds():
    with FakeServer([unavailable("1"), answer(200, SANDBOX)]) as srv:
        client = Sandboxed(srv.url, "secret-token")
        started = time.monotonic()
        box = client.sandboxes.get("a1")
        elapsed = time.monotonic() - started
    assert box.id == "a1" and box.status == "running"
    assert [s.path for s in srv.seen] == ["/v1/sandboxes/a1"] * 2
    assert elapsed >= 0.95, "the retry did not wait for Retry-After: 1"


def test_a_503_on_a_post_is_retried_too_because_sandboxd_did_nothing():
    with FakeServer([unavailable("2"), unavailable("3"), answer(201, SANDBOX)]) as srv:
        client = Sandboxed(srv.url, "t")
        waits = recording(client)
        box = client.sandboxes.create(id="a1", ports=[3000])
    assert box.id == "a1"
    assert waits == [2.0, 3.0]
    assert [s.method for s in srv.seen] == ["POST"] * 3
    assert all(json.loads(s.body) == {"id": "a1", "ports": [3000]} for s in srv.seen)


def test_retries_are_bounded_and_the_last_503_is_raised_typed():
    with FakeServer([], default=unavailable("5")) as srv:
        client = Sandboxed(srv.url, "t", max_retries=2, max_retry_wait=0.5)
        waits = recording(client)
        with pytest.raises(UnavailableError) as err:
            client.sandboxes.get("a1")
    assert len(srv.seen) == 3
    assert waits == [0.5, 0.5], "Retry-After must be capped at max_retry_wait"
    e = err.value
    assert (e.status, e.code, e.message, e.request_id, e.retry_after) == (
        503, "unavailable", "host memory is low", "r503", 5.0)


def test_max_retries_zero_turns_retries_off():
    with FakeServer([], default=unavailable("1")) as srv:
        client = Sandboxed(srv.url, "t", max_retries=0)
        with pytest.raises(UnavailableError):
            client.sandboxes.get("a1")
    assert len(srv.seen) == 1


def test_a_get_whose_connection_fails_is_retried():
    with FakeServer([hang_up, answer(200, SANDBOX)]) as srv:
        client = Sandboxed(srv.url, "t")
        waits = recording(client)
        assert client.sandboxes.get("a1").id == "a1"
    assert len(srv.seen) == 2 and len(waits) == 1


def test_an_exec_whose_connection_fails_is_not_sent_twice():
    with FakeServer([hang_up], default=answer(200, b"{}")) as srv:
        client = Sandboxed(srv.url, "t")
        recording(client)
        with pytest.raises(SandboxedConnectionError) as err:
            client.sandboxes.exec("a1", ["true"])
    assert len(srv.seen) == 1
    assert err.value.status is None and err.value.code == "connection_error"


def test_a_refused_connection_raises_a_connection_error():
    with FakeServer([]) as srv:
        url = srv.url
    client = Sandboxed(url, "t", max_retries=1)
    recording(client)
    with pytest.raises(SandboxedConnectionError):
        client.sandboxes.get("a1")


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (400, "invalid_request", InvalidArgumentError),
        (404, "not_found", NotFoundError),
        (409, "conflict", ConflictError),
        (429, "capacity", CapacityError),
        (500, "internal", InternalError),
    ],
)
def test_error_answers_raise_their_typed_error(status, code, cls):
    body = json.dumps({"error": {"code": code, "message": "m", "request_id": "rid"}}).encode()
    with FakeServer([answer(status, body)]) as srv:
        with pytest.raises(cls) as err:
            Sandboxed(srv.url, "t").sandboxes.get("a1")
    assert (err.value.status, err.value.code, err.value.request_id) == (status, code, "rid")
    assert len(srv.seen) == 1


def test_an_error_without_sandboxd_body_is_typed_by_status_with_the_header_request_id():
    with FakeServer([answer(502, b"Bad Gateway", content_type="text/plain")]) as srv:
        with pytest.raises(SandboxedError) as err:
            Sandboxed(srv.url, "t").sandboxes.get("a1")
    assert type(err.value) is InternalError
    assert err.value.status == 502 and err.value.message == "Bad Gateway"
    assert err.value.request_id == "req-502"


def test_requests_carry_the_token_json_and_encoded_query():
    page = json.dumps({"sandboxes": [], "next_after": None}).encode()
    with FakeServer([answer(200, page), answer(200, b'{"path":"a b/c&d","bytes_written":3}')]) as srv:
        client = Sandboxed(srv.url + "/prefix/", "tok-123")
        client.sandboxes.list_page(status="running", metadata={"user": "u 1"}, limit=5)
        client.files.write("a1", "a b/c&d", "h\u00e9")
    first, second = srv.seen
    assert first.headers["Authorization"] == "Bearer tok-123"
    assert first.path == "/prefix/v1/sandboxes?status=running&limit=5&metadata.user=u%201"
    assert second.method == "PUT"
    assert second.path == "/prefix/v1/sandboxes/a1/files?path=a%20b%2Fc%26d"
    assert second.headers["Content-Type"] == "application/octet-stream"
    assert second.body == "h\u00e9".encode()


def test_env_variables_give_the_default_url_and_token(monkeypatch):
    with FakeServer([answer(200, SANDBOX)]) as srv:
        monkeypatch.setenv("SANDBOXD_URL", srv.url)
        monkeypatch.setenv("SANDBOXD_TOKEN", "from-env")
        Sandboxed().sandboxes.get("a1")
    assert srv.seen[0].headers["Authorization"] == "Bearer from-env"


def test_one_thread_reuses_its_connection_and_threads_do_not_share_one():
    with FakeServer([], default=answer(200, SANDBOX)) as srv:
        client = Sandboxed(srv.url, "t")
        for _ in range(4):
            client.sandboxes.get("a1")
        ports_main = {s.client_port for s in srv.seen}
        other: list[int] = []

        def in_thread() -> None:
            client.sandboxes.get("a1")
            other.append(srv.seen[-1].client_port)

        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
        client.close()
    assert len(srv.seen) == 5
    assert len(ports_main) == 1, "a thread's requests must share one kept-alive connection"
    assert other[0] not in ports_main


def test_a_connection_the_server_closed_while_idle_is_replaced_for_a_post():
    close = answer(200, SANDBOX, {"Connection": "close"})
    with FakeServer([close, answer(200, SANDBOX)]) as srv:
        client = Sandboxed(srv.url, "t")
        client.sandboxes.get("a1")
        client.sandboxes.stop("a1")
    assert [s.method for s in srv.seen] == ["GET", "POST"]
    assert srv.seen[0].client_port != srv.seen[1].client_port


def test_a_kept_alive_connection_the_server_closed_silently_is_not_used_for_an_exec():
    closed = threading.Event()
    result = json.dumps({"stdout": "", "stderr": "", "exit_code": 0}).encode()
    with FakeServer([then_close(answer(200, SANDBOX), closed), answer(200, result)]) as srv:
        client = Sandboxed(srv.url, "t")
        client.sandboxes.get("a1")
        assert closed.wait(5)
        assert client.sandboxes.exec("a1", ["true"]).exit_code == 0
    assert [s.method for s in srv.seen] == ["GET", "POST"]


def test_retry_after_parses_seconds_and_http_dates():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == 10.0


def test_ready_is_false_when_sandboxd_is_not_ready_or_down():
    with FakeServer([answer(200, b"ready\n", content_type="text/plain"), unavailable("5")]) as srv:
        client = Sandboxed(srv.url, "t")
        assert client.ready() is True
        assert client.ready() is False
        url = srv.url
    assert len(srv.seen) == 2, "ready() must not retry"
    assert Sandboxed(url, "t").ready() is False
