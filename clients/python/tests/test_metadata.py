"""Integration: metadata on create, the metadata filter, PATCH (metadata and env merge,
ports, limits pending until the next start), /v1/version, /v1/openapi.json, /readyz."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandboxed import InvalidArgumentError

pytestmark = pytest.mark.integration

SPEC = Path(__file__).resolve().parents[3] / "api" / "openapi.json"


def test_version_readiness_and_the_served_spec(client):
    v = client.version()
    assert v.api_version == "v1" and v.version.count(".") == 2
    assert client.ready() is True
    served = client.openapi()
    assert served == json.loads(SPEC.read_text())
    assert served["info"]["version"] == v.version


def test_metadata_is_stored_and_filters_the_list(client, boxes, tag):
    a = boxes.create(metadata={"owner": tag, "tier": "free"})
    b = boxes.create(metadata={"owner": tag, "tier": "pro"})
    c = boxes.create()
    assert a.metadata == {"owner": tag, "tier": "free"}
    assert c.metadata == {}
    assert client.sandboxes.get(b.id).metadata == {"owner": tag, "tier": "pro"}

    mine = [x.id for x in client.sandboxes.list(metadata={"owner": tag}, page_size=1)]
    assert mine == sorted([a.id, b.id])
    pro = client.sandboxes.list_page(metadata={"owner": tag, "tier": "pro"})
    assert [x.id for x in pro.sandboxes] == [b.id]
    assert pro.sandboxes[0].metadata["tier"] == "pro"
    assert client.sandboxes.list_page(metadata={"owner": tag, "tier": "gold"}).sandboxes == []


def test_bad_metadata_is_refused(client, boxes):
    for bad in ({"-starts-badly": "x"}, {"k": "v" * 257}, {f"k{i}": "v" for i in range(33)}):
        with pytest.raises(InvalidArgumentError):
            client.sandboxes.create(id=boxes.new_id(), metadata=bad)


def test_patch_merges_metadata_and_env_and_replaces_ports(client, boxes, tag):
    box = boxes.create(ports=[3000], env={"A": "1", "B": "2"}, metadata={"owner": tag, "note": "x"})
    after = client.sandboxes.update(
        box.id, metadata={"note": None, "tier": "pro"}, env={"A": None, "C": "3"}, ports=[3000, 4000],
        idle_policy="always_on",
    )
    assert after.metadata == {"owner": tag, "tier": "pro"}
    assert sorted(after.env_keys) == ["B", "C"]
    assert after.ports == [3000, 4000] and [p.port for p in after.previews] == [3000, 4000]
    assert after.idle_policy == "always_on"
    assert after.pending_restart == []
    assert client.sandboxes.exec(box.id, "echo ${A:-unset}$C").stdout == "unset3\n"
    listed = client.sandboxes.list_page(metadata={"owner": tag, "tier": "pro"}).sandboxes
    assert [x.id for x in listed] == [box.id]


def test_patched_limits_wait_for_the_next_start(client, boxes):
    box = boxes.create(memory="256m")
    patched = client.sandboxes.update(box.id, memory="512m", pids_limit=300)
    assert "memory" in patched.pending_restart and len(patched.pending_restart) == 2
    client.sandboxes.stop(box.id)
    started = client.sandboxes.start(box.id)
    assert started.pending_restart == []
    assert started.limits.memory_bytes == 512 * 1024 * 1024 and started.limits.pids == 300


def test_patch_refuses_disk_and_unknown_fields(client, boxes):
    sid = boxes.create().id
    for body in ({"disk": "1g"}, {"colour": "red"}):
        with pytest.raises(InvalidArgumentError):
            client.request("PATCH", f"/v1/sandboxes/{sid}", json=body)
