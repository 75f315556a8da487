"""The Slack endpoint behind the digest's Save / Skip / Read buttons.

A click arrives as a signed interactivity request. Over HTTP (`http_server`) the request goes
through three gates before anything reads it as a click: waitress (a threaded server: a slow or
idle connection holds no worker, and is closed after `IDLE_TIMEOUT_SECONDS`) refuses a body
larger than `MAX_BODY_BYTES` from its Content-Length, before reading it; `SignedOnly` checks the
signature over the raw bytes against the signing secret (missing, wrong or older than five
minutes: 401) and refuses a signature already seen in that window (a replay); only then does
slack-bolt parse the body. A verified click for a configured niche and a stored paper updates
the reading queue and tells the clicker, privately, what changed. In Socket Mode
(`run_socket_mode`) we call Slack, for hosts that cannot take inbound traffic.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings, SlackChannel
from bot.errors import ConfigError, MidlistError
from bot.escape import mrkdwn
from bot.store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
ACTIONS = {"midlist_save": "saved", "midlist_skip": "skipped", "midlist_read": "read"}
_DONE = {"saved": "Saved", "skipped": "Skipped", "read": "Marked as read"}
_VERB = {"saved": "save", "skipped": "skip", "read": "read"}
# A block_actions payload carries the whole message it came from: a 50-block digest is a few
# hundred KB form-encoded. Anything bigger is not Slack.
MAX_BODY_BYTES = 1_000_000
IDLE_TIMEOUT_SECONDS = 30
THREADS = 4
REPLAY_WINDOW_SECONDS = 300.0


def slack_channel(settings: Settings, name: str | None = None) -> tuple[str, SlackChannel]:
    """The Slack channel whose app receives the clicks: the named one, or the only one with a signing secret."""
    slack = {n: c for n, c in settings.channels.items() if isinstance(c, SlackChannel)}
    if name is not None:
        if name not in slack:
            known = ", ".join(sorted(slack)) or "none are configured"
            raise ConfigError(f"no Slack channel named {name!r} (Slack channels: {known})")
        return name, slack[name]
    signed = {n: c for n, c in slack.items() if c.signing_secret}
    if len(signed) == 1:
        return next(iter(signed.items()))
    if not signed:
        raise ConfigError(
            "no Slack channel has signing_secret set; add `signing_secret: ${SLACK_SIGNING_SECRET}` "
            "to the Slack channel whose app has the buttons (Slack app settings > Basic Information)"
        )
    raise ConfigError(
        f"several Slack channels have a signing secret; pass --channel (one of {', '.join(signed)})"
    )


def build_app(channel: SlackChannel, store: Store, niches: Collection[str]) -> App:
    """A bolt App that turns button clicks for the configured `niches` into queue changes."""
    if channel.signing_secret is None:
        raise ConfigError(
            "the Slack channel has no signing_secret; Slack requests cannot be verified without it"
        )
    token = channel.token.get_secret_value() if channel.token else None
    client = WebClient(token=token, base_url=channel.base_url, timeout=int(channel.timeout_seconds))

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        # One workspace, one configured token (or none, for webhook channels: replies go through
        # response_url). bolt's default would call auth.test on start-up or on the first click.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    app = App(
        signing_secret=channel.signing_secret.get_secret_value(),
        client=client,
        authorize=authorize,
        request_verification_enabled=True,
    )
    for action_id, state in ACTIONS.items():
        app.action(action_id)(_on_click(store, state, frozenset(niches)))
    return app


class SignedOnly:
    """WSGI middleware: only POSTs to EVENTS_PATH with a valid, fresh, unseen Slack signature
    over the raw body reach the app; nothing is parsed before the signature checks out.

    Slack signs every request afresh (a second click is a new signature), so a signature seen
    again within the five-minute window can only be a replay.
    """

    def __init__(self, app: WSGIApplication, signing_secret: str):
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)
        self.window = REPLAY_WINDOW_SECONDS
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != EVENTS_PATH:
            return _plain(start_response, "404 Not Found", "not found")
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", "POST only")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length > MAX_BODY_BYTES:  # waitress refuses these first; this guards other servers
            return _plain(start_response, "413 Content Too Large", "body too large")
        if length <= 0:
            return _plain(start_response, "401 Unauthorized", "invalid signature")
        body = environ["wsgi.input"].read(length)
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not self._verified(body, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""), signature):
            log.warning("refused a Slack request without a valid signature")
            return _plain(start_response, "401 Unauthorized", "invalid signature")
        if self._replayed(signature):
            log.warning("refused a replayed Slack request")
            return _plain(start_response, "401 Unauthorized", "replayed request")
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def _verified(self, body: bytes, timestamp: str, signature: str) -> bool:
        if not (timestamp and signature):
            return False
        try:
            return self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
        except (ValueError, OverflowError):  # a timestamp that is not a number, a body not UTF-8
            return False

    def _replayed(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._seen = {s: t for s, t in self._seen.items() if now - t < self.window}
            if signature in self._seen:
                return True
            self._seen[signature] = now
        return False


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _on_click(store: Store, state: str, niches: frozenset[str]) -> Callable[..., None]:
    def handle(
        ack: Callable[[], None], action: dict[str, Any], body: dict[str, Any], respond: Any
    ) -> None:
        ack()  # within Slack's 3 seconds, before any database work
        user = (body.get("user") or {}).get("id", "?")
        niche, _, paper_id = str(action.get("value", "")).partition("|")
        if not niche or not paper_id:
            log.warning(
                "button %s from %s has a malformed value %r",
                action.get("action_id"),
                user,
                action.get("value"),
            )
            _tell(respond, "This button carries no paper; it may come from an older digest.")
            return
        if niche not in niches:
            log.warning("button from %s names niche %r, which is not configured", user, niche)
            _tell(respond, f"The niche {niche!r} is not configured here; nothing was changed.")
            return
        try:
            marked = store.queue.mark(niche, paper_id, state)
        except MidlistError as exc:
            log.warning("button %s from %s failed: %s", action.get("action_id"), user, exc)
            _tell(respond, f"Could not update the queue: {exc}")
            return
        except Exception:  # e.g. the database is locked or gone: the clicker must not hear nothing
            log.exception("button %s from %s failed", action.get("action_id"), user)
            _tell(
                respond,
                f"Could not update the queue; try again, or run `midlist queue {_VERB[state]} {paper_id}`.",
            )
            return
        paper = store.papers.get(marked.paper_id)
        title = paper.title if paper else marked.paper_id
        log.info("%s marked %s %s in %s", user, marked.paper_id, state, niche)
        _tell(respond, f"{_DONE[state]} “{title}” in your {niche} queue.")

    return handle


def _tell(respond: Any, text: str) -> None:
    """An ephemeral reply to the clicker through the request's response_url; escaped for mrkdwn."""
    escaped = mrkdwn(text)
    try:
        respond(text=escaped, response_type="ephemeral", replace_original=False)
    except (
        Exception
    ) as exc:  # the store already changed; a failed courtesy message must not hide that
        log.warning("could not acknowledge the click to the user: %s", exc)


class ClickServer:
    """waitress serving the app at EVENTS_PATH behind `SignedOnly`; `serve_forever()` blocks,
    `shutdown()` (from another thread) stops it."""

    def __init__(
        self,
        app: App,
        signing_secret: str,
        host: str,
        port: int,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ):
        from waitress.server import create_server  # only `serve` needs it

        wsgi = SignedOnly(SlackRequestHandler(app, EVENTS_PATH), signing_secret)
        try:
            self._server = create_server(
                wsgi,
                host=host,
                port=port,
                threads=THREADS,
                channel_timeout=idle_timeout,
                cleanup_interval=idle_timeout,  # how often idle connections are looked for
                max_request_body_size=MAX_BODY_BYTES + 1,
                ident="midlist",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise MidlistError(
                f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"
            ) from exc
        self.server_port = int(self._server.effective_port)

    def serve_forever(self) -> None:
        self._server.run()

    def shutdown(self) -> None:
        from waitress import wasyncore

        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        self._server.task_dispatcher.shutdown()


def http_server(
    app: App,
    channel: SlackChannel,
    host: str = "0.0.0.0",
    port: int = 3000,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
) -> ClickServer:
    """The HTTP endpoint for `app`, verifying requests with the channel's signing secret."""
    if channel.signing_secret is None:
        raise ConfigError("the Slack channel has no signing_secret; requests cannot be verified")
    secret = channel.signing_secret.get_secret_value()
    return ClickServer(app, secret, host, port, idle_timeout)


def run_socket_mode(app: App, channel: SlackChannel) -> None:
    """Connect out to Slack over a WebSocket; blocks until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if channel.app_token is None:
        raise ConfigError(
            "Socket Mode needs the Slack channel's app_token (an xapp- token with connections:write); "
            "set `app_token: ${SLACK_APP_TOKEN}`"
        )
    try:
        SocketModeHandler(app, channel.app_token.get_secret_value()).start()
    except SlackApiError as exc:
        raise MidlistError(
            f"Slack refused the Socket Mode connection ({exc.response.get('error', exc)}); check app_token "
            "and that Socket Mode is enabled in the Slack app"
        ) from exc
