"""Integration: sandbox lifecycle, exec, logs, listing and typed errors against a real
sandboxd with real containers."""

from __future__ import annotations

import re

import pytest

from sandboxed import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    Sandboxed,
    UnauthorizedError,
    WaitTimeoutError,
)

pytestmark = pytest.mark.integration


def test_lifecycle_create_get_keepalive_stop_start_delete(client, boxes):
    sid = boxes.new_id()
    box = boxes.create(
        id=sid, ports=[3000], env={"GREETING": "hi-sdk"}, idle_policy="always_on",
        memory="512m", cpus=0.5, pids_limit=256, nofile=4096,
    )
    assert box.id == sid and box.status == "running"
    assert box.ports == [3000] and box.env_keys == ["GREETING"]
    assert box.idle_policy == "always_on"
    assert box.limits.memory_bytes == 512 * 1024 * 1024 and box.limits.cpus == 0.5
    assert box.limits.pids == 256 and box.limits.nofile == 4096
    assert f"s-{sid}-3000." in (box.preview_url(3000) or "")
    assert box.created_at and box.container_id

    got = client.sandboxes.get(sid)
    assert got.id == sid and got.app is not None and got.idle is not None
    assert got.usage is not None

    held = client.sandboxes.keepalive(sid, 600)
    assert held.keepalive_until is not None and held.last_active_source == "keepalive"

    stopped = client.sandboxes.stop(sid)
    assert stopped.status == "stopped" and stopped.stop_reason == "api"
    assert client.sandboxes.stop(sid).status == "stopped"  # idempotent
    assert client.sandboxes.get(sid).status == "stopped"
    assert client.sandboxes.start(sid).status == "running"
    assert client.sandboxes.exec(sid, "echo $GREETING").stdout == "hi-sdk\n"

    assert isinstance(client.sandboxes.logs(sid, tail=1024), str)

    client.sandboxes.delete(sid)
    with pytest.raises(NotFoundError):
        client.sandboxes.get(sid)
    client.sandboxes.delete(sid)  # idempotent
    assert client.sandboxes.purge(sid).purged is True


def test_creating_an_existing_id_is_a_conflict(client, boxes):
    box = boxes.create()
    with pytest.raises(ConflictError) as err:
        client.sandboxes.create(id=box.id)
    assert err.value.status == 409 and err.value.code == "conflict"


def test_exec_reports_exit_code_stdout_stderr_and_timeout(client, boxes):
    sid = boxes.create().id
    r = client.sandboxes.exec(sid, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out, r.ok) == (7, "out\n", "err\n", False, False)
    assert r.duration_ms >= 0

    ok = client.sandboxes.exec(sid, ["pwd"], env={"X": "1"})
    assert ok.ok and ok.stdout == "/home/sandbox/workspace/app\n"
    assert client.sandboxes.exec(sid, ["pwd"], workdir="/tmp").stdout == "/tmp\n"
    assert client.sandboxes.exec(sid, "echo $X", env={"X": "fromenv"}).stdout == "fromenv\n"

    slow = client.sandboxes.exec(sid, ["sleep", "30"], timeout_s=1)
    assert slow.timed_out and not slow.ok


def test_an_unknown_sandbox_is_a_typed_404_with_code_and_request_id(client, tag):
    with pytest.raises(NotFoundError) as err:
        client.sandboxes.get(f"{tag}missing")
    e = err.value
    assert e.status == 404 and e.code == "not_found"
    assert f"{tag}missing" in e.message
    assert e.request_id and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", e.request_id)
    assert e.request_id in str(e)


def test_an_unknown_body_field_is_a_400_naming_it(client, tag):
    with pytest.raises(InvalidArgumentError) as err:
        client.request("POST", "/v1/sandboxes", json={"id": f"{tag}x", "colour": "red"})
    assert err.value.status == 400 and err.value.code == "invalid_request"
    assert "colour: unknown field" in err.value.message
    with pytest.raises(NotFoundError):
        client.sandboxes.get(f"{tag}x")  # nothing was created


def test_a_bad_option_is_a_400(client, boxes):
    with pytest.raises(InvalidArgumentError) as err:
        client.sandboxes.create(id=boxes.new_id(), idle_policy="never")
    assert "idle_policy" in err.value.message


def test_a_wrong_token_is_unauthorized(client):
    bad = Sandboxed(client.url, "not-the-token-at-all")
    with pytest.raises(UnauthorizedError) as err:
        bad.sandboxes.list_page()
    assert err.value.status == 401 and err.value.code == "unauthorized"


def test_iter_walks_every_page_in_id_order(client, boxes):
    mine = sorted(boxes.create().id for _ in range(3))
    every = [b.id for b in client.sandboxes.list(page_size=1)]
    assert every == sorted(every) and len(every) == len(set(every))
    assert [i for i in every if i in mine] == mine
    first = client.sandboxes.list_page(limit=1)
    assert len(first.sandboxes) == 1 and first.next_after == first.sandboxes[0].id
    assert all(b.status == "running" for b in client.sandboxes.list(status="running"))


def test_wait_for_app_answers_once_the_app_listens(client, boxes):
    sid = boxes.create(ports=[3000]).id
    client.files.write(
        sid, "workspace/app/server.js",
        'require("http").createServer((q, s) => s.end("hi\\n")).listen(process.env.PORT)\n',
    )
    client.files.write(sid, "workspace/app/sandbox.json", '{"command": "node server.js", "port": 3000}\n')
    box = client.sandboxes.wait_for_app(sid, timeout=60)
    assert box.app is not None and box.app.state == "listening" and box.app.port == 3000
    fetch = 'fetch("http://127.0.0.1:3000/").then(r => r.text()).then(t => process.stdout.write(t))'
    assert client.sandboxes.exec(sid, ["node", "-e", fetch]).stdout == "hi\n"

    client.sandboxes.stop(sid)
    started = client.sandboxes.start(sid, wait_for_app=60)
    assert started.app is not None and started.app.state == "listening"


def test_wait_for_app_times_out_typed_when_nothing_listens(client, boxes):
    sid = boxes.create().id
    with pytest.raises(WaitTimeoutError) as err:
        client.sandboxes.wait_for_app(sid, timeout=1.5)
    assert sid in err.value.message and err.value.code == "wait_timeout"
