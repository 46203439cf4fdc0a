"""Integration: the README's backend example (examples/backend.py), end to end: its
HTTP handler creates the user's sandbox from the vite template, runs the agent against
the mock model, streams events and ends with a preview URL that the edge serves."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import threading
import urllib.parse
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("SANDBOXED_TEST_TEMPLATES_DIR"),
                       reason="needs the vite starter template"),
]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "backend.py"


@pytest.fixture
def backend(client, tag, monkeypatch):
    spec = importlib.util.spec_from_file_location("backend_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", os.environ["SANDBOXED_TEST_MODEL_URL"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-mock")
    server = ThreadingHTTPServer(("127.0.0.1", 0), module.Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    user = f"{tag}@example.com"
    try:
        yield module, server.server_address[1], user
    finally:
        server.shutdown()
        server.server_close()
        client.sandboxes.purge(module.sandbox_id_for(user))
        module.client.close()


def post_build(port: int, user: str, prompt: str) -> list[dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/build", json.dumps({"user": user, "prompt": prompt}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    lines = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    conn.close()
    return lines


def test_the_backend_example_builds_and_returns_a_live_preview(client, backend):
    module, port, user = backend
    lines = post_build(port, user, "Create hello.txt")
    sid = module.sandbox_id_for(user)
    assert lines[0] == {"sandbox": sid}
    events = [line for line in lines if "event" in line]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["event"] == "done" and events[-1]["data"]["status"] == "succeeded"
    final = lines[-1]
    assert final["app"] == "listening" and final["files_changed"] == ["hello.txt"]
    assert client.sandboxes.get(sid).metadata == {"user": user}

    # The preview URL is served by sandboxd's edge (reached on loopback in tests).
    url = urllib.parse.urlsplit(final["preview_url"])
    assert url.hostname.startswith(f"s-{sid}-3000.")
    host, edge_port = os.environ["SANDBOXED_TEST_PREVIEW"].rsplit(":", 1)
    edge = http.client.HTTPConnection(host, int(edge_port), timeout=60)
    edge.request("GET", "/", headers={"Host": f"s-{sid}-3000.preview.localhost"})
    page = edge.getresponse()
    assert page.status == 200 and b"<html" in page.read().lower()
    edge.close()

    # The same user's next build reuses the sandbox.
    again = post_build(port, user, "Create hello.txt")
    assert again[0] == {"sandbox": sid} and "preview_url" in again[-1]
    assert [b.id for b in client.sandboxes.list(metadata={"user": user})] == [sid]
