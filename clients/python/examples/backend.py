"""A backend for an AI app builder, on the standard library and the sandboxed SDK.

POST /build {"user": "...", "prompt": "..."} gives the user their own sandbox (created
from the "vite" starter template on first use, reused after), runs a coding agent on
the prompt in it, streams the agent's events back as NDJSON lines while it works, and
ends with a line carrying the preview URL of the user's app.

    SANDBOXD_URL=http://127.0.0.1:9090 SANDBOXD_TOKEN=... ANTHROPIC_API_KEY=sk-ant-... \
        python3 backend.py 8000
    curl -N -H 'Content-Type: application/json' -d '{"user":"ada","prompt":"Make a todo app"}' \
        http://127.0.0.1:8000/build
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Optional

from sandboxed import ConflictError, NotFoundError, Sandboxed, SandboxedError

APP_PORT = 3000
client = Sandboxed()  # SANDBOXD_URL, SANDBOXD_TOKEN


def sandbox_id_for(user: str) -> str:
    """One sandbox per user, under an id derived from the user (ids: [a-z0-9]{1,32}), so
    two requests of the same user never create two sandboxes."""
    return "u" + hashlib.sha256(user.encode()).hexdigest()[:31]


def sandbox_for(user: str) -> str:
    sid = sandbox_id_for(user)
    try:
        client.sandboxes.get(sid)
    except NotFoundError:
        try:
            client.snapshots.create_sandbox(
                "vite", id=sid, ports=[APP_PORT], memory="1g", metadata={"user": user},
                wait_for_app=True,
            )
        except ConflictError:
            pass  # the same user's other request created it first
    return sid


def build(user: str, prompt: str, agent_env: Mapping[str, str],
          send: Callable[[dict[str, Any]], None]) -> Optional[str]:
    """Runs the agent on `prompt` in the user's sandbox, sending each event to `send`;
    answers the preview URL once the app listens (None when the task failed)."""
    sid = sandbox_for(user)
    send({"sandbox": sid})
    task = client.tasks.run(
        sid, agent="claude", prompt=prompt, env=agent_env, timeout_s=900,
        on_event=lambda ev: send({"id": ev.id, "event": ev.type, "data": ev.data}),
    )
    if task.status != "succeeded":
        send({"error": task.error or task.failure_reason, "status": task.status})
        return None
    box = client.sandboxes.wait_for_app(sid, timeout=60)
    url = box.preview_url(APP_PORT)
    send({"preview_url": url, "app": box.app.state if box.app else None,
          "files_changed": task.files_changed})
    return url


def agent_env() -> dict[str, str]:
    """The model key (and endpoint) from the backend's own environment: keys go in the
    task's env, never in the prompt."""
    names = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    return {k: os.environ[k] for k in names if os.environ.get(k)}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != "/build":
            self.send_error(404)
            return
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            user, prompt = str(req["user"]), str(req["prompt"])
        except (ValueError, KeyError, TypeError):
            self.send_error(400, "body: {\"user\": ..., \"prompt\": ...}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes

        def send(line: dict[str, Any]) -> None:
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()

        try:
            build(user, prompt, agent_env(), send)
        except SandboxedError as e:
            send({"error": e.message, "code": e.code, "request_id": e.request_id})

    def log_message(self, *args: Any) -> None:
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
