"""The Slack endpoint behind the digest's Save / Skip / Read buttons.

A click arrives as a signed interactivity request; slack-bolt checks the signature against the
app's signing secret and refuses missing, wrong or stale (older than five minutes) ones, which
also stops a captured request from being replayed later. A verified click updates the reading
queue and tells the clicker, privately, what changed. Over plain HTTP (`run_http`) Slack calls
us; in Socket Mode (`run_socket_mode`) we call Slack, for hosts that cannot take inbound traffic.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings, SlackChannel
from bot.errors import ConfigError, MidlistError
from bot.store import Store

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
ACTIONS = {"midlist_save": "saved", "midlist_skip": "skipped", "midlist_read": "read"}
_DONE = {"saved": "Saved", "skipped": "Skipped", "read": "Marked as read"}
_VERB = {"saved": "save", "skipped": "skip", "read": "read"}


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


def build_app(channel: SlackChannel, store: Store) -> App:
    """A bolt App that verifies every request and turns button clicks into queue changes."""
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
    app.use(ReplayGuard())
    for action_id, state in ACTIONS.items():
        app.action(action_id)(_on_click(store, state))
    return app


class ReplayGuard:
    """Refuses a request whose signature was already seen within Slack's five-minute window.

    bolt rejects signatures older than five minutes; inside that window a captured request
    would still verify. Slack signs every request afresh (a second click is a new signature),
    so a repeat can only be a replay. Runs after bolt has verified the signature.
    """

    def __init__(self, window_seconds: float = 300.0):
        self.window = window_seconds
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(
        self, request: BoltRequest, next_: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if request.mode == "socket_mode":  # no signature: the WebSocket itself is authenticated
            return next_()
        signature = request.headers.get("x-slack-signature", [""])[0]
        now = time.monotonic()
        with self._lock:
            self._seen = {s: t for s, t in self._seen.items() if now - t < self.window}
            if signature in self._seen:
                log.warning("refused a replayed Slack request")
                return BoltResponse(status=401, body="replayed request")
            self._seen[signature] = now
        return next_()


def _on_click(store: Store, state: str) -> Callable[..., None]:
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
    escaped = html.escape(text, quote=False)
    try:
        respond(text=escaped, response_type="ephemeral", replace_original=False)
    except (
        Exception
    ) as exc:  # the store already changed; a failed courtesy message must not hide that
        log.warning("could not acknowledge the click to the user: %s", exc)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)


def http_server(app: App, host: str = "0.0.0.0", port: int = 3000) -> WSGIServer:
    """A WSGI server for the app at /slack/events; `serve_forever()` runs it, `shutdown()` stops it."""
    try:
        return make_server(
            host, port, SlackRequestHandler(app, EVENTS_PATH), handler_class=_QuietHandler
        )
    except OSError as exc:
        raise MidlistError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"
        ) from exc


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
