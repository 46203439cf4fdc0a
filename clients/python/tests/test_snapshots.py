"""Integration: snapshots (create, list, get, delete), restore, fork and create from a
snapshot."""

from __future__ import annotations

import os

import pytest

from sandboxed import ConflictError, NotFoundError

pytestmark = pytest.mark.integration

FILE = "workspace/app/state.txt"


def test_snapshot_restore_fork_and_create_from_it(client, boxes, tag):
    src = boxes.create(ports=[3000], env={"K": "v"}).id
    client.files.write(src, FILE, "v1\n")
    name = f"{tag}-v1"
    boxes.snapshots.append(name)
    snap = client.snapshots.create(src, name=name)
    assert snap.name == name and snap.sandbox_id == src and snap.template is False
    assert snap.files >= 1 and snap.bytes > 0 and snap.created_at
    with pytest.raises(ConflictError):
        client.snapshots.create(src, name=name)

    assert client.snapshots.get(name) == snap
    assert client.snapshots.get(snap.id) == snap
    assert [s.id for s in client.snapshots.list(sandbox_id=src)] == [snap.id]
    assert client.snapshots.list_for_sandbox(src) == [snap]
    assert snap.id in [s.id for s in client.snapshots.list()]

    client.files.write(src, FILE, "v2\n")
    restored = client.sandboxes.restore(src, name)
    assert restored.id == src and restored.status == "running"
    assert client.files.read_text(src, FILE) == "v1\n"

    client.files.write(src, FILE, "v3\n")
    fork_id = boxes.new_id()
    fork = client.sandboxes.fork(src, new_id=fork_id)
    assert fork.id == fork_id and fork.ports == [3000] and fork.env_keys == ["K"]
    assert client.files.read_text(fork_id, FILE) == "v3\n"
    assert client.files.read_text(src, FILE) == "v3\n"

    copy = client.snapshots.create_sandbox(snap.id, id=boxes.new_id(), ports=[3001])
    assert copy.ports == [3001] and copy.env_keys == []
    assert client.files.read_text(copy.id, FILE) == "v1\n"

    client.snapshots.delete(name)
    with pytest.raises(NotFoundError):
        client.snapshots.get(snap.id)
    with pytest.raises(NotFoundError):
        client.snapshots.delete(name)
    with pytest.raises(NotFoundError):
        client.sandboxes.create(id=boxes.new_id(), snapshot=name)
    with pytest.raises(NotFoundError):
        client.snapshots.list_for_sandbox(boxes.new_id())


@pytest.mark.skipif(not os.environ.get("SANDBOXED_TEST_TEMPLATES_DIR"),
                    reason="no starter templates imported")
def test_templates_are_listed_as_snapshots(client):
    templates = [s for s in client.snapshots.list() if s.template]
    assert templates and all(s.sandbox_id is None for s in templates)
    assert "vite" in {s.name for s in templates}
