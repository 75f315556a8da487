"""The Slack endpoint over real HTTP: signatures checked, button clicks update the queue and get a reply."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from pytest_httpserver import HTTPServer
from slack_bolt import BoltRequest

from bot.config import SlackChannel, parse_settings
from bot.errors import ConfigError
from bot.serve import build_app, http_server, slack_channel
from bot.store import Store
from tests.bot.test_queue import filled, invoke, write_config

__all__ = ["filled"]  # the fixture, used by name

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def endpoint(filled: Store) -> Iterator[str]:
    channel = SlackChannel(
        type="slack", webhook_url="http://127.0.0.1:9/hook", signing_secret=SECRET
    )
    server = http_server(build_app(channel, filled), "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events"
    server.shutdown()
    server.server_close()
    thread.join(5)


def click_body(httpserver: HTTPServer, action_id: str, value: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "lab"},
        "user": {"id": "U1", "username": "ada", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.3",
        "channel": {"id": "C1", "name": "papers"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1"},
        "response_url": httpserver.url_for("/respond"),
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "paper-1",
                "text": {"type": "plain_text", "text": "Save"},
                "value": value,
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def signed(body: str, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    ts = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def post(url: str, body: str, headers: dict[str, str]) -> int:
    return requests.post(url, data=body.encode(), headers=headers, timeout=10).status_code


def replies(httpserver: HTTPServer, n: int = 1) -> list[dict[str, object]]:
    """The ephemeral replies the app posted to response_url (it answers after the ack)."""
    deadline = time.monotonic() + 10
    while len(httpserver.log) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return [json.loads(req.get_data()) for req, _ in httpserver.log]


@pytest.fixture
def response_url(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/respond", method="POST").respond_with_data("ok")
    return httpserver


@pytest.mark.parametrize(
    "action_id, state, said",
    [
        ("midlist_save", "saved", "Saved"),
        ("midlist_skip", "skipped", "Skipped"),
        ("midlist_read", "read", "Marked as read"),
    ],
)
def test_signed_click_updates_store_and_replies(
    endpoint: str, response_url: HTTPServer, filled: Store, action_id: str, state: str, said: str
) -> None:
    body = click_body(response_url, action_id, "robotics|2405.00002")
    assert post(endpoint, body, signed(body)) == 200
    [reply] = replies(response_url)
    assert reply == {
        "text": f"{said} “Legged Locomotion in the Wild” in your robotics queue.",
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert filled.queue.states("robotics")["2405.00002"] == state


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, secret="not-the-secret"), id="wrong-secret"),
        pytest.param(
            lambda body: {**signed(body), "X-Slack-Signature": "v0=" + "0" * 64}, id="tampered"
        ),
        pytest.param(lambda body: signed(body, age=6 * 60), id="stale"),
        pytest.param(
            lambda body: {"Content-Type": "application/x-www-form-urlencoded"}, id="missing"
        ),
        pytest.param(
            lambda body: {
                k: v for k, v in signed(body).items() if k != "X-Slack-Request-Timestamp"
            },
            id="no-timestamp",
        ),
    ],
)
def test_unverified_requests_are_rejected_and_change_nothing(
    endpoint: str, response_url: HTTPServer, filled: Store, headers
) -> None:
    body = click_body(response_url, "midlist_save", "robotics|2405.00002")
    assert post(endpoint, body, headers(body)) == 401
    assert filled.queue.states("robotics")["2405.00002"] == "queued"
    assert response_url.log == []


def test_replayed_request_with_old_timestamp_is_rejected(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    """A request captured ten minutes ago, signature intact, is refused."""
    body = click_body(response_url, "midlist_skip", "robotics|2405.00001")
    captured = signed(body, age=10 * 60)
    assert post(endpoint, body, captured) == 401
    assert filled.queue.states("robotics")["2405.00001"] == "queued"


def test_replayed_request_within_the_window_is_rejected(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    """The same signed request sent again, seconds later, is refused; the first one counted."""
    body = click_body(response_url, "midlist_skip", "robotics|2405.00001")
    headers = signed(body)
    assert post(endpoint, body, headers) == 200
    assert len(replies(response_url)) == 1
    filled.queue.mark("robotics", "2405.00001", "saved")  # the user changes their mind
    assert post(endpoint, body, headers) == 401
    assert filled.queue.states("robotics")["2405.00001"] == "saved"
    assert len(response_url.log) == 1


def test_signature_over_a_different_body_is_rejected(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    body = click_body(response_url, "midlist_save", "robotics|2405.00001")
    other = click_body(response_url, "midlist_skip", "robotics|2405.00001")
    assert post(endpoint, other, signed(body)) == 401
    assert filled.queue.states("robotics")["2405.00001"] == "queued"


@pytest.mark.parametrize(
    "value, text",
    [
        ("robotics|2101.99999", "Could not update the queue: no paper '2101.99999' in the store"),
        ("no-separator", "This button carries no paper; it may come from an older digest."),
    ],
)
def test_bad_button_value_gets_a_clear_reply(
    endpoint: str, response_url: HTTPServer, filled: Store, value: str, text: str
) -> None:
    body = click_body(response_url, "midlist_save", value)
    assert post(endpoint, body, signed(body)) == 200
    [reply] = replies(response_url)
    assert str(reply["text"]).startswith(text)
    assert filled.queue.states("robotics") == {"2405.00001": "queued", "2405.00002": "queued"}


def test_store_failure_still_gets_a_reply(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    filled.engine.dispose()
    (Path(filled.url.removeprefix("sqlite:///"))).unlink()
    Path(filled.url.removeprefix("sqlite:///")).mkdir()  # the database file is now a directory
    body = click_body(response_url, "midlist_read", "robotics|2405.00001")
    assert post(endpoint, body, signed(body)) == 200
    [reply] = replies(response_url)
    assert (
        reply["text"]
        == "Could not update the queue; try again, or run `midlist queue read 2405.00001`."
    )


def test_other_paths_are_not_found(endpoint: str) -> None:
    assert requests.get(endpoint.replace("/slack/events", "/"), timeout=10).status_code == 404


def _settings(**channels: dict[str, object]):  # type: ignore[no-untyped-def]
    return parse_settings({"channels": channels})


def test_slack_channel_picks_the_one_with_a_signing_secret() -> None:
    settings = _settings(
        team={"type": "slack", "webhook_url": "http://x", "signing_secret": "s"},
        other={"type": "slack", "webhook_url": "http://y"},
        mail={"type": "console"},
    )
    assert slack_channel(settings)[0] == "team"
    assert slack_channel(settings, "other")[0] == "other"
    with pytest.raises(
        ConfigError, match=r"no Slack channel named 'mail' \(Slack channels: other, team\)"
    ):
        slack_channel(settings, "mail")


def test_slack_channel_without_signing_secret_is_a_clear_error(tmp_path: Path) -> None:
    extra = "channels:\n  team:\n    type: slack\n    webhook_url: http://127.0.0.1:9/hook\n"
    code, out = invoke(write_config(tmp_path, extra=extra), "serve", "--port", "3999")
    assert code == 1
    assert "no Slack channel has signing_secret set" in " ".join(out.split())


def test_socket_mode_clicks_are_not_taken_for_replays(
    response_url: HTTPServer, filled: Store
) -> None:
    """Socket Mode requests carry no signature (the WebSocket is authenticated), so two clicks in
    a row are two clicks, not a replay."""
    channel = SlackChannel(
        type="slack", webhook_url="http://127.0.0.1:9/hook", signing_secret=SECRET
    )
    app = build_app(channel, filled)
    for action_id, n in (("midlist_save", 1), ("midlist_skip", 2)):
        body = click_body(response_url, action_id, "robotics|2405.00002")
        payload = json.loads(parse_qs(body)["payload"][0])
        response = app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
        assert response.status == 200
        assert len(replies(response_url, n)) == n
    assert filled.queue.states("robotics")["2405.00002"] == "skipped"
