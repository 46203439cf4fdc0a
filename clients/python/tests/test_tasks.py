"""Integration: agent tasks with the real Claude Code CLI against the harness's mock
model (SANDBOXED_TEST_MODEL_URL): events to done, resume after a dropped connection,
cancel."""

from __future__ import annotations

import os
import socket

import pytest

from sandboxed import ConflictError, NotFoundError, TaskEvent

pytestmark = pytest.mark.integration


def claude(prompt: str) -> dict:
    return {
        "agent": "claude",
        "model": "claude-sonnet-4-5",
        "prompt": prompt,
        "env": {"ANTHROPIC_BASE_URL": os.environ["SANDBOXED_TEST_MODEL_URL"],
                "ANTHROPIC_API_KEY": "sk-mock"},
    }


def check_sequence(events: list[TaskEvent]) -> None:
    """Ids 1..n in order, one terminal "done", last."""
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count("done") == 1 and events[-1].type == "done"


@pytest.fixture(scope="module")
def model_url() -> str:
    url = os.environ.get("SANDBOXED_TEST_MODEL_URL")
    if not url:
        pytest.fail("SANDBOXED_TEST_MODEL_URL is not set (run under build/sandboxd_with_daemon)")
    return url


def test_a_task_runs_to_done_and_its_result_is_readable(client, boxes, model_url):
    sid = boxes.create(memory="1g").id
    seen: list[TaskEvent] = []
    task = client.tasks.run(sid, **claude("Create hello.txt"), on_event=seen.append, timeout=300)

    check_sequence(seen)
    assert seen[0].type == "status" and seen[0].data["phase"] == "starting"
    assert any(e.type == "tool" and e.data.get("name") == "Write"
               and e.data.get("status") == "completed" for e in seen)
    assert seen[-1].data["status"] == "succeeded" and seen[-1].data["id"] == task.id

    assert task.status == "succeeded" and task.finished and task.failure_reason is None
    assert task.files_changed == ["hello.txt"] and task.final_message == "MOCK DONE"
    assert task.usage.get("output_tokens", 0) > 0
    assert sorted(task.env_keys) == ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"]
    assert client.files.read_text(sid, "workspace/app/hello.txt") == "hello from mock\n"

    assert client.tasks.get(sid, task.id) == task
    assert [t.id for t in client.tasks.list(sid)] == [task.id]
    # A finished task's stream replays everything, and resumed after done ends at once.
    replay = list(client.tasks.events(sid, task.id))
    assert [(e.id, e.type, e.data) for e in replay] == [(e.id, e.type, e.data) for e in seen]
    assert list(client.tasks.events(sid, task.id, after=seen[-1].id)) == []
    with pytest.raises(NotFoundError):
        client.tasks.get(sid, "01nosuchtask0000000000000")


def test_events_resume_after_a_dropped_connection_without_loss_or_repeat(client, boxes, model_url):
    sid = boxes.create(memory="1g").id
    # The mock model holds its first answer 4 s: the stream is live when it drops.
    task = client.tasks.create(sid, **claude("SLOW:4 Create hello.txt"))
    assert task.status == "running" and task.events_url.endswith(f"/tasks/{task.id}/events")

    stream = client.tasks.events(sid, task.id, timeout=300)
    got = [next(stream)]
    assert stream._conn is not None and stream._conn.sock is not None
    stream._conn.sock.shutdown(socket.SHUT_RDWR)  # the connection drops mid-stream
    got.extend(stream)
    assert stream.reconnects >= 1
    check_sequence(got)
    assert got[-1].data["status"] == "succeeded"

    # Stopping a stream by hand and resuming from its last id gives exactly the rest.
    with client.tasks.events(sid, task.id) as first:
        head = [next(first), next(first)]
    rest = list(client.tasks.events(sid, task.id, after=first.last_event_id))
    assert [(e.id, e.type) for e in head + rest] == [(e.id, e.type) for e in got]


def test_cancel_ends_a_running_task_and_a_second_task_is_a_conflict(client, boxes, model_url):
    sid = boxes.create(memory="1g").id
    task = client.tasks.create(sid, **claude("SLOW:300 Create hello.txt"))
    with pytest.raises(ConflictError):
        client.tasks.create(sid, **claude("another"))
    cancelled = client.tasks.cancel(sid, task.id)
    assert cancelled.cancel_requested
    done = client.tasks.wait(sid, task.id, timeout=120)
    assert done.status == "cancelled" and done.failure_reason == "cancelled"
