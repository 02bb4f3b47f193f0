#!/usr/bin/env python3
"""A scripted OpenAI-compatible model server, for end-to-end tests of agent turns.

    python testbed/e2e/stub_model.py --port 8000 --model stub-model --tool namespaces_list

It plays the vLLM endpoint Llama Stack is configured with. On a conversation
that has no tool result yet it asks for `--tool` (when the request offers it),
or, when the user's message reads `call TOOL {"json": "arguments"}`, for that
tool with those arguments; once a tool result is present it answers with a
sentence quoting it; `stream slowly for N seconds` gets an answer streamed one word a
second. Serves
/v1/models and /v1/chat/completions (plain or streamed). Loopback only;
standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import ssl
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


# "stream slowly for 70 seconds": an answer streamed one word a second, for a way in's timeouts (at most 300).
SLOW = re.compile(r"\s*stream slowly for (\d{1,3}) seconds\s*")


def _last_user(messages: list[dict[str, Any]]) -> str:
    return next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")


def _slow_seconds(messages: list[dict[str, Any]]) -> int:
    match = SLOW.fullmatch(_last_user(messages))
    return min(int(match.group(1)), 300) if match else 0


def scripted_call(messages: list[dict[str, Any]], tool: str) -> tuple[str, str]:
    """(tool, JSON arguments): what the last user message scripts, else `tool` without arguments."""
    said = _last_user(messages)
    match = re.fullmatch(r"\s*call (\w+)\s*(\{.*\})?\s*", said, re.DOTALL)
    if match:
        return match.group(1), match.group(2) or "{}"
    return tool, "{}"


def reply(request: dict[str, Any], tool: str) -> dict[str, Any]:
    """The assistant message this script gives for a chat request."""
    messages = request.get("messages") or []
    results = [m for m in messages if m.get("role") == "tool"]
    offered = {t.get("function", {}).get("name") for t in request.get("tools") or []}
    tool, arguments = scripted_call(messages, tool)
    if SLOW.fullmatch(_last_user(messages)):  # a long answer: streamed word by word (Handler)
        return {"role": "assistant", "content": " ".join(f"word{i}" for i in range(_slow_seconds(messages)))}
    if not results and tool in offered:
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": arguments}}]}
    content = _text(results[-1].get("content")) if results else "no tool was offered"
    return {"role": "assistant", "content": f"The {tool} tool answered: {content[:200]}"}


class Handler(BaseHTTPRequestHandler):
    model = "stub-model"
    tool = "namespaces_list"

    def log_message(self, *_: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": self.model, "object": "model",
                                                         "created": 0, "owned_by": "stub"}]})
        else:
            self._json(404, {"error": {"message": f"no {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no {self.path}"}})
            return
        # One line per completion, for a test to see which endpoint answered, with which key (its digest).
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
        print(f"completion model={request.get('model')} key-sha256={hashlib.sha256(bearer.encode()).hexdigest()[:16]}",
              flush=True)
        message = reply(request, self.tool)
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": request.get("model", self.model)}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        if not request.get("stream"):
            self._json(200, {**base, "object": "chat.completion", "usage": usage,
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
            return
        delta = dict(message)
        if delta.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(delta["tool_calls"])]
        slow = _slow_seconds(request.get("messages") or [])
        # A slow answer: one word a second (the first at once), so the stream lasts `slow` seconds.
        deltas = [{"role": "assistant", "content": f"{w} "} for w in delta["content"].split()] if slow else [delta]
        chunks = [{**base, "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        chunks.append({**base, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, chunk in enumerate(chunks):
            if slow and i > 0:
                time.sleep(1)
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="stub-model")
    parser.add_argument("--tool", default="namespaces_list")
    parser.add_argument("--bind", default="127.0.0.1", help="0.0.0.0 in a pod (its address is the pod's own)")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM) ...")
    parser.add_argument("--tls-key", help="... and this key")
    args = parser.parse_args()
    Handler.model, Handler.tool = args.model, args.tool
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
