"""Logging for the command line and the daemon, with secrets redacted from every line.

Libraries log what they send: slack_sdk's debug log prints the webhook URL, urllib3 the
request path, SQLAlchemy the database URL. A filter on the root logger's handlers sees every
record that reaches the console, midlist's and third-party alike, and replaces:

- the configured secrets (every `SecretStr` in the loaded settings, and the path of each
  secret URL, which is what a request log shows),
- anything shaped like a Slack token (`xoxb-...`, `xapp-...`) or a Slack webhook URL,
- passwords in URLs (`scheme://user:password@host`), and the values of `x-api-key`,
  `Authorization`, `password`, `token` and `client_secret` headers or parameters.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url

MASK = "***"
_MIN_SECRET = 6  # shorter configured values would mask ordinary words
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(xox[abeoprs]|xapp)-[A-Za-z0-9-]+"), rf"\1-{MASK}"),
    (
        re.compile(r"(hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[^\s'\"<>)]+"),
        rf"\1{MASK}",
    ),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^@\s/'\"]+@", re.I), rf"\1{MASK}@"),
    (
        re.compile(
            r"((?:x-api-key|authorization|password|passwd|client_secret|secret|token)"
            r"['\"]?\s*[:=]\s*['\"]?(?:bearer\s+|basic\s+)?)[^\s'\",;&}]+",
            re.I,
        ),
        rf"\1{MASK}",
    ),
]


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (and traceback) with secrets masked; never drops one."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def add(self, values: Iterable[str]) -> None:
        """Also mask these exact strings (longest first, so a URL goes before its path)."""
        found = set(self._secrets)
        for value in values:
            for variant in _variants(value):
                if len(variant) >= _MIN_SECRET:
                    found.add(variant)
        self._secrets = sorted(found, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as logging does
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class OneLine(logging.Filter):
    """Drops a record's traceback: without -v a fault is one line, a library's warning too
    (urllib3 logs one with its exception when a server is cut off mid-headers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


REDACTOR = RedactSecrets()
ONE_LINE = OneLine()


def setup(verbose: bool) -> None:
    """Log to stderr (DEBUG with -v, else WARNING and no tracebacks), every line passing
    through REDACTOR."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
        if not verbose and ONE_LINE not in handler.filters:
            handler.addFilter(ONE_LINE)


def remember_secrets(settings: BaseModel) -> None:
    """Mask every SecretStr value in `settings` from now on."""
    REDACTOR.add(_secret_values(settings))


def remember_url_password(url: str) -> None:
    """Mask the password of the storage URL too: one holding `/` escapes the URL pattern."""
    try:
        password = make_url(url).password
    except Exception:  # not a URL: the config check says so
        return
    if password:
        REDACTOR.add([str(password)])


def redact(text: str) -> str:
    return REDACTOR.redact(text)


def _secret_values(value: Any) -> Iterable[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_values(item)


def _variants(value: str) -> Iterable[str]:
    """The value, its URL-quoted form, and for a URL its path and query (a request log line)."""
    yield value
    yield quote(value, safe="")
    try:
        parts = urlsplit(value)
    except ValueError:
        return
    if parts.scheme and parts.netloc:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(path.strip("/")) >= _MIN_SECRET:
            yield path
