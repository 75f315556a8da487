"""A fake Slack Web API and incoming webhook on 127.0.0.1, strict where Slack is strict.

It checks the bearer token, enforces Block Kit limits (50 blocks, 3000-character sections,
150-character headers, a non-empty `text` fallback), answers errors in Slack's shapes
(`{"ok": false, "error": "..."}` for the Web API, a plain-text body with a 4xx status for
webhooks) and can be told to rate-limit (429 + Retry-After), fail with a 5xx, fail after N
posts, or accept a post and answer only after a delay (`slow_posts`, `answer_after`), as a
Slack under load does. Every accepted message is kept in `messages`, with its metadata, and
`conversations.history` / `conversations.replies` serve them back like Slack (metadata only
with `include_all_metadata`, newest first, thread replies only from `replies`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "xoxb-test-token"
WEBHOOK_PATH = "/services/T000/B000/not-a-real-secret"
CHANNELS = {"#papers": "C0PAPERS", "C0PAPERS": "C0PAPERS"}


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class FakeSlack:
    messages: list[Posted] = field(default_factory=list)
    requests: int = 0
    rate_limit_next: int = 0  # answer this many requests with 429 + Retry-After first
    retry_after: int | str = 1  # seconds, or an HTTP date
    server_errors_next: int = 0  # then this many with 503
    fail_after: int | None = None  # accept this many messages, then answer internal_error
    error: str | None = None  # answer every post with this Slack error code
    slow_posts: int = 0  # accept this many posts, answering each only after `answer_after`
    answer_after: float = 0.0
    on_accept: Any = (
        None  # called (in the server thread) after a post is accepted, before answering
    )
    history_reads: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{WEBHOOK_PATH}"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- what a request gets back ---------------------------------------------------------

    def answer(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        with self._lock:
            self.requests += 1
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return 429, {"Retry-After": str(self.retry_after)}, _api_error("ratelimited")
            if self.server_errors_next > 0:
                self.server_errors_next -= 1
                return 503, {}, "upstream unavailable"
            if path == WEBHOOK_PATH:
                return self._webhook(body)
            if path == "/api/chat.postMessage":
                return self._post_message(headers, body)
            if path in ("/api/conversations.history", "/api/conversations.replies"):
                return self._read_back(path, headers, body)
            return 404, {}, _api_error("unknown_method")

    def _read_back(
        self, path: str, headers: dict[str, str], query: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 200, {}, _api_error("invalid_auth")
        channel = CHANNELS.get(str(query.get("channel")))
        if channel is None:
            return 200, {}, _api_error("channel_not_found")
        self.history_reads += 1
        if path.endswith("replies"):
            ts = query.get("ts")
            found = [m for m in self.messages if m.ts == ts or m.thread_ts == ts]
        else:
            oldest = float(query.get("oldest") or 0)
            found = [m for m in self.messages if m.thread_ts is None and float(m.ts) > oldest]
            found.reverse()  # newest first
        with_meta = str(query.get("include_all_metadata")).lower() in ("1", "true")
        messages = [
            {
                "type": "message",
                "ts": m.ts,
                "text": m.text,
                **({"thread_ts": m.thread_ts} if m.thread_ts else {}),
                **({"metadata": m.metadata} if with_meta and m.metadata else {}),
            }
            for m in found
            if m.channel == channel
        ]
        return 200, {}, json.dumps({"ok": True, "messages": messages, "has_more": False})

    def _post_message(
        self, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 200, {}, _api_error("invalid_auth")
        if self.error:
            return 200, {}, _api_error(self.error)
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            return 200, {}, _api_error("internal_error")
        channel = CHANNELS.get(str(body.get("channel")))
        if channel is None:
            return 200, {}, _api_error("channel_not_found")
        problems = block_problems(body)
        if problems:
            return 200, {}, json.dumps({"ok": False, "error": "invalid_blocks", "errors": problems})
        thread_ts = body.get("thread_ts")
        if thread_ts and not any(m.ts == thread_ts and m.thread_ts is None for m in self.messages):
            return 200, {}, _api_error("thread_not_found")
        ts = f"{_now_ts():.0f}.{len(self.messages) + 1:06d}"
        metadata = body.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        self.messages.append(Posted(channel, ts, body["text"], body["blocks"], thread_ts, metadata))
        return (
            200,
            {},
            json.dumps(
                {"ok": True, "channel": channel, "ts": ts, "message": {"text": body["text"]}}
            ),
        )

    def after_answer(self, path: str, status: int, text: str) -> None:
        """What happens between Slack accepting a post and its answer reaching the client."""
        posted = path in ("/api/chat.postMessage", WEBHOOK_PATH)
        if not (posted and status == 200 and (text == "ok" or text.startswith('{"ok": true'))):
            return
        if self.on_accept is not None:
            self.on_accept()
        with self._lock:
            slow = self.slow_posts > 0
            self.slow_posts -= 1 if slow else 0
        if slow:
            time.sleep(self.answer_after)

    def _webhook(self, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        if self.error:
            return 400, {}, self.error
        problems = block_problems(body)
        if problems:
            return 400, {}, "invalid_blocks"
        self.messages.append(
            Posted("webhook", f"w{len(self.messages) + 1}", body["text"], body["blocks"])
        )
        return 200, {}, "ok"


def block_problems(body: dict[str, Any]) -> list[str]:
    """What Slack would refuse in a message body (or warn about: a missing text fallback)."""
    problems = []
    if not str(body.get("text") or "").strip():
        problems.append("no text fallback")
    blocks = body.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list) or not blocks:
        return problems + ["blocks must be a non-empty list"]
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks; at most 50")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("duplicate block_id")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "section":
            if len(block["text"]["text"]) > 3000:
                problems.append(f"blocks[{i}]: section text over 3000 characters")
        elif kind == "header":
            if block["text"]["type"] != "plain_text" or len(block["text"]["text"]) > 150:
                problems.append(f"blocks[{i}]: header must be plain_text of at most 150 characters")
        elif kind == "context":
            if len(block["elements"]) > 10 or any(len(e["text"]) > 3000 for e in block["elements"]):
                problems.append(f"blocks[{i}]: context too long")
        elif kind == "actions":
            elements = block["elements"]
            ids = [e["action_id"] for e in elements]
            if len(elements) > 25 or len(ids) != len(set(ids)):
                problems.append(
                    f"blocks[{i}]: actions need at most 25 elements with unique action_ids"
                )
            for e in elements:
                if len(e["text"]["text"]) > 75 or len(e.get("value", "")) > 2000:
                    problems.append(f"blocks[{i}]: button text or value too long")
        elif kind != "divider":
            problems.append(f"blocks[{i}]: unknown block type {kind!r}")
    return problems


def _now_ts() -> float:
    return time.time()


def _api_error(code: str) -> str:
    return json.dumps({"ok": False, "error": code})


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            if "json" in (self.headers.get("Content-Type") or ""):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            self._reply(self.path, body)

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            path, _, query = self.path.partition("?")
            self._reply(path, {k: v[0] for k, v in parse_qs(query).items()})

        def _reply(self, path: str, body: dict[str, Any]) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, text = fake.answer(path, headers, body)
            fake.after_answer(path, status, text)
            data = text.encode("utf-8")
            try:
                self._send(status, extra, text, data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a test of late answers)

        def _send(self, status: int, extra: dict[str, str], text: str, data: bytes) -> None:
            self.send_response(status)
            ctype = "application/json" if text.startswith("{") else "text/plain"
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler
