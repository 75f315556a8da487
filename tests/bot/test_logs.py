"""No secret reaches the console: real `-v` runs against local Slack and SMTP servers, all output
grepped for the configured secret values; the filter's patterns one by one."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.logs import MASK, RedactSecrets, redact
from bot.store import Store
from tests import pg
from tests.bot.test_digest import DAY, fixture_papers, stored
from tests.bot.test_email import PASSWORD, email_channel, smtp, smtp_server
from tests.conftest import ROOT, ConfigFile
from tests.fakes.slack import TOKEN, WEBHOOK_PATH, FakeSlack

__all__ = ["smtp", "smtp_server"]  # fixtures, used by name
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SIGNING_SECRET = "signing-8f742231b10e8888abcd"
APP_TOKEN = "xapp-1-A0-111-appsecretvalue"
REDDIT_SECRET = "reddit-client-secret-value"
DB_PASSWORD = "db-pass-word-77"


@pytest.fixture
def slack() -> FakeSlack:
    with FakeSlack() as fake:
        yield fake


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "-v", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verbose_runs_print_no_secret(
    config_file: ConfigFile, store: Store, slack: FakeSlack, smtp: tuple[object, int]
) -> None:
    stored(store, fixture_papers())
    channels = {
        "bot": {
            "type": "slack",
            "token": TOKEN,
            "channel": "#papers",
            "base_url": slack.base_url,
            "signing_secret": SIGNING_SECRET,
            "app_token": APP_TOKEN,
        },
        "hook": {"type": "slack", "webhook_url": slack.webhook_url, "retries": 1},
        "mail": email_channel(smtp[1]),
    }
    config = config_file(
        storage={"url": store.url},
        sources={"reddit": {"client_id": "reddit-id-123", "client_secret": REDDIT_SECRET}},
        niches=[{"name": "ssm", "keywords": ["state space model"], "channels": list(channels)}],
        channels=channels,
    )
    digest = run(config, "digest", "--date", DAY.isoformat())
    check = run(config, "check")
    status = run(config, "status")
    assert digest.returncode == 0, digest.stderr
    assert check.returncode == 0, check.stderr
    assert len(slack.messages) == 2  # the bot channel and the webhook both got the digest
    output = "".join(r.stdout + r.stderr for r in (digest, check, status))
    assert "DEBUG" in digest.stderr  # verbose logging really ran, third-party loggers included
    assert "slack_sdk" in digest.stderr
    secrets = [
        TOKEN,
        slack.webhook_url,
        WEBHOOK_PATH,
        PASSWORD,
        SIGNING_SECRET,
        APP_TOKEN,
        REDDIT_SECRET,
    ]
    leaked = [s for s in secrets if s in output]
    assert leaked == []
    assert MASK in digest.stderr  # the URL was logged, masked


def test_a_failing_command_masks_secrets_in_its_error_and_traceback(
    config_file: ConfigFile,
) -> None:
    """A password in the storage URL: the connection fails, and -v prints the traceback."""
    url = f"postgresql+psycopg://midlist:{DB_PASSWORD}@127.0.0.1:9/midlist"
    config = config_file(storage={"url": url}, niches=[{"name": "ssm", "keywords": ["x"]}])
    result = run(config, "queue", "list")
    assert result.returncode == 1
    assert DB_PASSWORD not in result.stdout + result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ")


@pytest.mark.parametrize(
    "line, secret",
    [
        ("posting with token xoxb-1234-5678-abcdefABCDEF", "xoxb-1234-5678-abcdefABCDEF"),
        ("user token xoxp-99-88-77-zz", "xoxp-99-88-77-zz"),
        ("socket mode xapp-1-A111-222-ffff", "xapp-1-A111-222-ffff"),
        (
            "POST https://hooks.slack.com/services/T0/B0/XXXXsecretXXXX ok",
            "T0/B0/XXXXsecretXXXX",
        ),
        ("connecting to postgresql://bot:hunter2pw@db:5432/m", "hunter2pw"),
        ("headers {'x-api-key': 'abcd1234efgh'}", "abcd1234efgh"),
        ("X-API-KEY: abcd1234efgh", "abcd1234efgh"),
        ("headers {'Authorization': 'Bearer xyzzy-plugh-42'}", "xyzzy-plugh-42"),
        ("body client_secret=shhh-42-shhh&grant_type=x", "shhh-42-shhh"),
    ],
)
def test_patterns_mask_secrets_nobody_configured(line: str, secret: str) -> None:
    redacted = RedactSecrets().redact(line)
    assert secret not in redacted
    assert MASK in redacted


def test_configured_secrets_are_masked_with_their_url_path_and_quoted_form() -> None:
    redactor = RedactSecrets()
    redactor.add(["http://127.0.0.1:8080/hook/abc/def123", "p@ss word!"])
    line = (
        'POST /hook/abc/def123 HTTP/1.1 -> http://127.0.0.1:8080/hook/abc/def123 | "p@ss word!" '
        "| p%40ss%20word%21"
    )
    assert redactor.redact(line) == f'POST {MASK} HTTP/1.1 -> {MASK} | "{MASK}" | {MASK}'


def test_short_configured_values_are_not_masked_everywhere() -> None:
    redactor = RedactSecrets()
    redactor.add(["a", "ab"])
    assert redactor.redact("a cab") == "a cab"


def test_filter_rewrites_args_exceptions_and_keeps_every_record() -> None:
    redactor = RedactSecrets()
    redactor.add(["very-secret-value"])
    logger = logging.getLogger("tests.redact")
    try:
        raise RuntimeError("failed with very-secret-value")
    except RuntimeError:
        record = logger.makeRecord(
            "tests.redact",
            logging.ERROR,
            __file__,
            1,
            "sending %s",
            ("very-secret-value",),
            sys.exc_info(),
        )
    assert redactor.filter(record) is True
    text = logging.Formatter().format(record)
    assert "very-secret-value" not in text
    assert f"sending {MASK}" in text
    assert "RuntimeError: failed with ***" in text


def test_a_database_password_the_url_pattern_misses_is_masked_once_configured(
    config_file: ConfigFile,
) -> None:
    """`/` and `:` are allowed raw in a SQLAlchemy URL's password; the URL pattern stops there,
    so the loaded config's password is masked as a configured secret."""
    password = "s3cr/et:pw-99"
    url = f"postgresql+psycopg://team:{password}@127.0.0.1:9/midlist"
    line = f"connecting to {url}"
    assert password in RedactSecrets().redact(line)  # the pattern alone misses it
    load_settings(config_file(storage={"url": url}))
    assert password not in redact(line) and MASK in redact(line)


def test_verbose_runs_on_postgresql_print_no_database_password(
    config_file: ConfigFile, pg_server: pg.PgServer
) -> None:
    """The storage URL carries a password (one the URL pattern alone would miss): no `-v` run
    shows it, SQLAlchemy's and psycopg's own loggers included."""
    name = pg_server.new_database()
    password = "db/pass:word-77"
    url = f"postgresql+psycopg://{pg.USER}:{password}@127.0.0.1:{pg_server.port}/{name}"
    try:
        store = Store(url)
        stored(store, fixture_papers())
        store.close()
        config = config_file(storage={"url": url})
        results = [
            run(config, *args)
            for args in (
                ["digest", "--date", DAY.isoformat()],
                ["query", "state space model"],
                ["status"],
                ["check", "--json"],
            )
        ]
        assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
        output = "".join(r.stdout + r.stderr for r in results)
        assert "INFO bot.rank" in output  # verbose logging really ran
        assert password not in output and "db%2Fpass" not in output
    finally:
        pg_server.drop_database(name)
