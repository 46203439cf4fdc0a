#!/usr/bin/env python3
"""A scripted model server for the agent end-to-end tests (Python standard library only).

It speaks the two APIs the agent CLIs use:
  POST /v1/chat/completions         OpenAI-compatible, streamed or not   (OpenCode)
  POST /v1/messages                 Anthropic Messages, streamed or not  (Claude Code)
  POST /v1/messages/count_tokens    a token-count stub
  GET  /v1/models                   a model list stub
Script: while the conversation has no tool result yet and the request offers a
file-writing tool, the answer is one tool call writing MOCK_FILE (relative to the
agent's working directory) with MOCK_CONTENT; after that it is the text "MOCK DONE".
MOCK_SAY_FIRST, when set, is said as text before that tool call (in the same answer);
MOCK_SAY_LAST, when set, replaces "MOCK DONE". The agents print the two as separate
output lines (the redaction tests split a secret across them). A prompt containing "SLOW:<seconds>" delays the first answer by that long (for the
cancel, timeout and crash tests). Each request is appended to MOCK_LOG (JSON lines), with
whether it contained MOCK_MARKER (so a test sees that the agent passed its prompt on).

Usage: MOCK_FILE=hello.txt MOCK_CONTENT=hi python3 mock_llm.py PORT HOST
It binds HOST:PORT only (tests bind their own network's gateway address).
"""
import json
import os
import re
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILE = os.environ.get("MOCK_FILE", "hello.txt")
CONTENT = os.environ.get("MOCK_CONTENT", "hello from mock\n")
LOG = os.environ.get("MOCK_LOG")
SAY_FIRST = os.environ.get("MOCK_SAY_FIRST", "")
SAY_LAST = os.environ.get("MOCK_SAY_LAST", "MOCK DONE")
MARKER = os.environ.get("MOCK_MARKER")
USAGE_OPENAI = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
USAGE_ANTHROPIC = {"input_tokens": 11, "output_tokens": 7,
                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def record(entry):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")


def text_of(content):
    """All text in a message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(text_of(c.get("text") or c.get("content") or "")
                         for c in content if isinstance(c, dict))
    return ""


def working_dir(text):
    for key in ("Working directory: ", "working directory: ", "Primary working directory: "):
        at = text.find(key)
        if at >= 0:
            return text[at + len(key):].split("\n")[0].strip().strip("<>")
    return None


def target(text):
    if os.path.isabs(FILE):
        return FILE
    return os.path.join(working_dir(text) or ".", FILE)


def maybe_slow(all_text, has_result):
    m = re.search(r"SLOW:(\d+)", all_text)
    if m and not has_result:
        time.sleep(int(m.group(1)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_GET(self):
        record({"method": "GET", "path": self.path})
        if self.path.rstrip("/").endswith("/models"):
            return self.reply_json(200, {"object": "list", "data": [
                {"id": "mock-model", "object": "model", "type": "model",
                 "display_name": "mock", "created_at": "2025-01-01T00:00:00Z"}]})
        self.reply_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        tools = [t.get("name") or (t.get("function") or {}).get("name")
                 for t in body.get("tools") or []]
        record({"method": "POST", "path": path, "model": body.get("model"),
                "stream": body.get("stream"), "tools": tools,
                "marker_seen": bool(MARKER) and MARKER in json.dumps(body)})
        if path.endswith("/chat/completions"):
            return self.openai(body, tools)
        if path.endswith("/messages/count_tokens"):
            return self.reply_json(200, {"input_tokens": 11})
        if path.endswith("/messages"):
            return self.anthropic(body, tools)
        self.reply_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def openai(self, body, tools):
        messages = body.get("messages") or []
        has_result = any(m.get("role") == "tool" for m in messages)
        all_text = "\n".join(text_of(m.get("content")) for m in messages)
        maybe_slow(all_text, has_result)
        call = None
        if not has_result and "write" in tools:
            call = ("write", {"filePath": target(all_text), "content": CONTENT})
        elif not has_result and "bash" in tools:
            call = ("bash", {"command": "printf %s " + json.dumps(CONTENT) + " > " + FILE,
                             "description": "write the file"})
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]
        now = int(time.time())
        model = body.get("model", "mock-model")
        if not body.get("stream"):
            message = {"role": "assistant",
                       "content": (SAY_FIRST or None) if call else SAY_LAST}
            if call:
                message["tool_calls"] = [{"id": "call_1", "type": "function", "function": {
                    "name": call[0], "arguments": json.dumps(call[1])}}]
            return self.reply_json(200, {
                "id": cid, "object": "chat.completion", "created": now, "model": model,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if call else "stop"}],
                "usage": USAGE_OPENAI})
        self.start_stream()

        def send(delta, finish=None, usage=None):
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": now, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                chunk["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        send({"role": "assistant", "content": ""})
        if call and SAY_FIRST:
            send({"content": SAY_FIRST})
        if call:
            send({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                  "function": {"name": call[0], "arguments": ""}}]})
            send({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps(call[1])}}]})
            send({}, "tool_calls", USAGE_OPENAI)
        else:
            send({"content": SAY_LAST})
            send({}, "stop", USAGE_OPENAI)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def anthropic(self, body, tools):
        messages = body.get("messages") or []
        has_result = any(isinstance(m.get("content"), list) and
                         any(isinstance(c, dict) and c.get("type") == "tool_result"
                             for c in m["content"]) for m in messages)
        system = body.get("system")
        all_text = text_of(system) + "\n" + "\n".join(text_of(m.get("content")) for m in messages)
        maybe_slow(all_text, has_result)
        if not has_result and "Write" in tools:
            blocks = [{"type": "text", "text": SAY_FIRST}] if SAY_FIRST else []
            blocks.append({"type": "tool_use", "id": "toolu_mock1", "name": "Write",
                           "input": {"file_path": target(all_text), "content": CONTENT}})
        else:
            blocks = [{"type": "text", "text": SAY_LAST}]
        stop = "tool_use" if blocks[-1]["type"] == "tool_use" else "end_turn"
        mid = "msg_" + uuid.uuid4().hex[:20]
        model = body.get("model", "mock-model")
        if not body.get("stream"):
            return self.reply_json(200, {
                "id": mid, "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop, "stop_sequence": None,
                "usage": USAGE_ANTHROPIC})
        self.start_stream()

        def event(name, data):
            self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())
            self.wfile.flush()
        event("message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": dict(USAGE_ANTHROPIC, output_tokens=1)}})
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                event("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "text", "text": ""}})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "text_delta", "text": block["text"]}})
            else:
                event("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "tool_use", "id": block["id"],
                                                                "name": block["name"], "input": {}}})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "input_json_delta",
                                                        "partial_json": json.dumps(block["input"])}})
            event("content_block_stop", {"type": "content_block_stop", "index": i})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": 7}})
        event("message_stop", {"type": "message_stop"})


if __name__ == "__main__":
    server = ThreadingHTTPServer((sys.argv[2], int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("mock model server on %s:%s" % (sys.argv[2], sys.argv[1]), flush=True)
    server.serve_forever()
