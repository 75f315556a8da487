"""The Slack endpoint over real HTTP: signatures checked, button clicks update the queue and get a reply."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from pytest_httpserver import HTTPServer
from slack_bolt import BoltRequest

from bot.config import SlackChannel, parse_settings
from bot.errors import ConfigError
from bot.serve import MAX_BODY_BYTES, build_app, http_server, slack_channel
from bot.store import Store
from tests.bot.test_queue import filled, write_config
from tests.conftest import ConfigFile, run_cli

__all__ = ["filled"]  # the fixture, used by name

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NICHES = ["robotics"]


IDLE_TIMEOUT = 1.0


@pytest.fixture
def endpoint(filled: Store) -> Iterator[str]:
    channel = SlackChannel(
        type="slack", webhook_url="http://127.0.0.1:9/hook", signing_secret=SECRET
    )
    app = build_app(channel, filled, NICHES)
    server = http_server(app, channel, "127.0.0.1", 0, idle_timeout=IDLE_TIMEOUT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events"
    server.shutdown()
    thread.join(5)
    assert not thread.is_alive()


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


def test_slack_channel_without_signing_secret_is_a_clear_error(config_file: ConfigFile) -> None:
    team = {"type": "slack", "webhook_url": "http://127.0.0.1:9/hook"}
    config = write_config(config_file, channels={"team": team})
    code, out = run_cli(config, "serve", "--port", "3999")
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
    app = build_app(channel, filled, NICHES)
    for action_id, n in (("midlist_save", 1), ("midlist_skip", 2)):
        body = click_body(response_url, action_id, "robotics|2405.00002")
        payload = json.loads(parse_qs(body)["payload"][0])
        response = app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
        assert response.status == 200
        assert len(replies(response_url, n)) == n
    assert filled.queue.states("robotics")["2405.00002"] == "skipped"


# ---- hostile clients: idle, slow, huge, malformed ------------------------------------------------


def _raw(endpoint: str) -> socket.socket:
    url = urlsplit(endpoint)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def test_idle_and_half_sent_connections_do_not_block_clicks(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    """Connections that send nothing, or stop in the middle of the headers, hold no worker."""
    idle = [_raw(endpoint) for _ in range(8)]
    half = _raw(endpoint)
    half.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n")
    try:
        body = click_body(response_url, "midlist_save", "robotics|2405.00002")
        assert post(endpoint, body, signed(body)) == 200
        assert len(replies(response_url)) == 1  # the reply follows the queue change
        assert filled.queue.states("robotics")["2405.00002"] == "saved"
    finally:
        for conn in [*idle, half]:
            conn.close()


def test_a_trickling_body_does_not_block_clicks(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    """A client sending its body a byte at a time holds no worker while it does."""
    slow = _raw(endpoint)
    slow.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.1):
            try:
                slow.sendall(b"x")
            except OSError:
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        for n, (action_id, state) in enumerate(
            (("midlist_save", "saved"), ("midlist_read", "read"))
        ):
            body = click_body(response_url, action_id, "robotics|2405.00001")
            assert post(endpoint, body, signed(body)) == 200
            assert len(replies(response_url, n + 1)) == n + 1  # the reply follows the change
            assert filled.queue.states("robotics")["2405.00001"] == state
    finally:
        stop.set()
        thread.join(5)
        slow.close()


def test_idle_connections_are_closed(endpoint: str) -> None:
    """An idle connection is dropped after the idle timeout (1 s here, 30 s in `midlist serve`)."""
    conn = _raw(endpoint)
    with conn:
        conn.settimeout(IDLE_TIMEOUT * 20)
        assert conn.recv(1) == b""  # the server closed it


def test_huge_body_is_refused_from_its_length_before_it_is_sent(endpoint: str) -> None:
    """A 200 MB body is refused on its Content-Length: the answer comes while the client has
    sent only the headers, so nothing of the body is read or buffered."""
    conn = _raw(endpoint)
    with conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 200000000\r\n\r\n"
        )
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_body_just_over_the_limit_is_refused_even_when_signed(endpoint: str) -> None:
    body = "payload=" + "x" * (MAX_BODY_BYTES - 7)
    assert post(endpoint, body, signed(body)) == 413


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot json",
        b"payload=" + b"%FF%FE" * 10,
        b"\xff\xfe\x00garbage",
        b"payload=" + json.dumps({"type": "block_actions", "actions": "nope"}).encode(),
        b"a=1&a=2&payload",
    ],
    ids=["bad-json", "bad-utf8-escaped", "binary", "wrong-shape", "no-payload"],
)
def test_malformed_unsigned_bodies_get_401_without_a_traceback(
    endpoint: str, filled: Store, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    response = requests.post(
        endpoint,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert (response.status_code, response.text) == (401, "invalid signature")
    assert "Traceback" not in caplog.text
    assert filled.queue.states("robotics") == {"2405.00001": "queued", "2405.00002": "queued"}


@pytest.mark.parametrize(
    "timestamp", ["not-a-number", "1e999", "99999999999999999999999999", "-5", ""]
)
def test_garbage_timestamps_are_401(endpoint: str, timestamp: str) -> None:
    body = "payload=%7B%7D"
    headers = {**signed(body), "X-Slack-Request-Timestamp": timestamp}
    assert post(endpoint, body, headers) == 401


def test_get_on_the_endpoint_is_refused(endpoint: str) -> None:
    assert requests.get(endpoint, timeout=10).status_code == 405


def test_click_for_an_unconfigured_niche_writes_nothing(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    body = click_body(response_url, "midlist_save", "elsewhere|2405.00001")
    assert post(endpoint, body, signed(body)) == 200
    [reply] = replies(response_url)
    assert reply["text"] == "The niche 'elsewhere' is not configured here; nothing was changed."
    assert filled.queue.states("elsewhere") == {}
    assert filled.queue.states("robotics")["2405.00001"] == "queued"


def test_click_reply_is_escaped_for_slack(
    endpoint: str, response_url: HTTPServer, filled: Store
) -> None:
    body = click_body(response_url, "midlist_save", "<!channel>|2405.00001")
    assert post(endpoint, body, signed(body)) == 200
    [reply] = replies(response_url)
    assert "<!channel>" not in str(reply["text"])
    assert "&lt;!channel&gt;" in str(reply["text"])


def test_serve_command_runs_as_a_process_and_stops_on_ctrl_c(
    config_file: ConfigFile, filled: Store
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    team = {"type": "slack", "webhook_url": "http://127.0.0.1:9/hook", "signing_secret": SECRET}
    config = write_config(config_file, channels={"team": team})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        for _ in range(300):
            try:
                status = post(url, "payload=%7B", {"Content-Type": "text/plain"})
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("midlist serve did not start listening")
        assert status == 401
        idle = _raw(url)  # an idle client must not keep the server from stopping
        proc.send_signal(signal.SIGINT)  # what Ctrl+C sends
        out, err = proc.communicate(timeout=30)
        idle.close()
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "Stopped."
    assert "Traceback" not in err
