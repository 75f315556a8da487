"""One polite HTTP layer for every collector: deadlines, size caps, pacing, retries, error mapping.

- **Deadline.** `timeout_seconds` is wall-clock for the whole request, body included
  (`sources.deadline`): a server trickling one byte every half second is cut off.
- **Size cap.** A body is read up to `max_bytes` (decompressed); past that the request fails,
  or is cut where the caller can use a prefix. A Content-Length above the cap fails before
  anything is read, so a 1.5 GB answer never sits in memory.
- **Pacing.** Requests from one client start at least `delay_seconds` after the last answer.
- **Retries** (tenacity): 429 (Retry-After in seconds or as an HTTP date), 5xx, connection
  errors and timeouts, with exponential backoff. A Retry-After beyond `max_retry_after` fails
  at once: the next scheduled run is the retry, not a sleep of hours.
- **Errors.** Library exceptions become `sources.errors` through one table, `ERRORS`.
- **Time is injected** (`Clock`), so tests never sleep for real. The deadline watchdog alone
  runs on real time: it guards a real socket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import tenacity

from sources.deadline import DEFAULT_MAX_BYTES, DeadlineSession
from sources.errors import FetchError, SourceError

log = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = "midlist/0.1 (research paper discovery bot)"
MAX_RETRY_AFTER = 600.0  # seconds; a longer wait fails this run instead of hanging it


# ---- time ------------------------------------------------------------------------------------


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK = SystemClock()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # nan, inf: unreadable
        return None
    return max(0.0, seconds)


# ---- settings --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """How politely and how patiently one collector talks to one service."""

    timeout_seconds: float = 30.0  # wall clock per request, body included
    delay_seconds: float = 0.0  # between the end of one answer and the next request
    retries: int = 2  # after the first attempt
    backoff_seconds: float = 2.0  # first wait; doubles with each retry
    max_backoff_seconds: float = 120.0
    max_retry_after: float = MAX_RETRY_AFTER
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str = USER_AGENT

    @classmethod
    def of(cls, spec: SpecLimits, **more: Any) -> Policy:
        """The policy a collector's spec asks for (its timeout, retries, cap and user agent)."""
        return cls(
            timeout_seconds=spec.timeout_seconds,
            retries=spec.retries,
            max_bytes=spec.max_bytes,
            user_agent=spec.user_agent,
            **more,
        )


class SpecLimits(Protocol):
    @property
    def timeout_seconds(self) -> float: ...

    @property
    def retries(self) -> int: ...

    @property
    def max_bytes(self) -> int: ...

    @property
    def user_agent(self) -> str: ...


# ---- errors ----------------------------------------------------------------------------------


class Retryable(Exception):
    """One attempt failed in a way that may pass (429, 5xx, a timeout, a reset connection)."""

    def __init__(self, reason: str, retry_after: float | None = None, *, located: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.located = located  # the reason already says what was being done


@dataclass(frozen=True, slots=True)
class Rule:
    """What a library exception means: the error it becomes, whether to retry, what to say.

    `message` may use {what} (the step), {timeout}, {status}, {name} (the exception's class)
    and {detail} (its text).
    """

    error: type[SourceError]
    retry: bool
    message: str
    by_status: Mapping[int, str] | None = None  # a different message for some HTTP statuses


_CREDENTIALS = (
    "Reddit refused the app credentials ({detail}); check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
)

# Keyed by the exception's dotted class name, looked up along its MRO (most specific first),
# so no library is imported for the sake of this table.
ERRORS: dict[str, Rule] = {
    "sources.deadline.DeadlineExceeded": Rule(
        FetchError,
        False,
        "the answer took longer than {timeout:g} s to arrive while trying to {what} "
        "(timeout_seconds sets the limit)",
    ),
    "sources.deadline.NoAnswer": Rule(
        FetchError, True, "no answer within {timeout:g} s while trying to {what}"
    ),
    "sources.deadline.TooLarge": Rule(FetchError, False, "{detail} while trying to {what}"),
    "requests.exceptions.ConnectTimeout": Rule(
        FetchError, True, "cannot connect within {timeout:g} s while trying to {what}"
    ),
    "requests.exceptions.Timeout": Rule(
        FetchError, True, "no answer within {timeout:g} s while trying to {what}"
    ),
    "requests.exceptions.ConnectionError": Rule(
        FetchError, True, "cannot connect ({name}) while trying to {what}"
    ),
    "requests.exceptions.ChunkedEncodingError": Rule(
        FetchError, True, "the connection broke mid-answer while trying to {what}"
    ),
    "requests.exceptions.ContentDecodingError": Rule(
        FetchError, False, "the answer's compression is broken while trying to {what}"
    ),
    "requests.exceptions.InvalidURL": Rule(
        FetchError, False, "not a valid URL while trying to {what}: {detail}"
    ),
    "requests.exceptions.JSONDecodeError": Rule(
        FetchError, False, "the answer was not JSON while trying to {what}"
    ),
    "requests.exceptions.RequestException": Rule(
        FetchError, False, "request failed while trying to {what}: {detail}"
    ),
    "json.decoder.JSONDecodeError": Rule(
        FetchError, False, "the answer was not JSON while trying to {what}"
    ),
    # Reddit: prawcore wraps requests
    "prawcore.exceptions.TooManyRequests": Rule(
        FetchError, True, "rate-limited (HTTP 429) while trying to {what}; try again later"
    ),
    "prawcore.exceptions.ServerError": Rule(
        FetchError, True, "Reddit answered HTTP {status} while trying to {what}; try again later"
    ),
    "prawcore.exceptions.OAuthException": Rule(FetchError, False, _CREDENTIALS),
    "prawcore.exceptions.InvalidToken": Rule(FetchError, False, _CREDENTIALS),
    "prawcore.exceptions.Forbidden": Rule(
        FetchError,
        False,
        "HTTP 403 while trying to {what}; check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET",
    ),
    "prawcore.exceptions.ResponseException": Rule(
        FetchError,
        False,
        "HTTP {status} while trying to {what}; check sources.reddit.subreddits and base_url",
        by_status={
            401: "HTTP 401 while trying to {what}; check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
        },
    ),
    "prawcore.exceptions.PrawcoreException": Rule(FetchError, False, "cannot {what}: {detail}"),
    "praw.exceptions.PRAWException": Rule(FetchError, False, "cannot {what}: {detail}"),
}


def rule_for(exc: BaseException) -> Rule | None:
    for cls in type(exc).__mro__:
        rule = ERRORS.get(f"{cls.__module__}.{cls.__qualname__}")
        if rule is not None:
            return rule
    return None


def _unwrap(exc: BaseException) -> BaseException:
    """prawcore hides the requests error (or ours) in `original_exception`: classify that."""
    inner = getattr(exc, "original_exception", None)
    return inner if isinstance(inner, BaseException) else exc


# ---- the client ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    url: str  # after redirects
    headers: Mapping[str, str]
    truncated: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class HttpClient:
    """One collector's connection to the world: paced, deadlined, capped, retried, mapped."""

    def __init__(self, source: str, policy: Policy, *, clock: Clock = SYSTEM_CLOCK):
        self.source = source
        self.policy = policy
        self.clock = clock
        self.session = DeadlineSession(policy.timeout_seconds, policy.max_bytes)
        self.session.headers["User-Agent"] = policy.user_agent
        self._last_answer: float | None = None

    def close(self) -> None:
        self.session.close()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        truncate: bool = False,
        what: str | None = None,
    ) -> Answer:
        """GET with retries. 429 and 5xx are retried; any other status is the caller's to judge."""
        return self.call(
            lambda: self.get_once(url, params=params, headers=headers, truncate=truncate),
            what or f"fetch {url}",
        )

    def get_once(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        truncate: bool = False,
    ) -> Answer:
        """One GET, unpaced and unretried (run it inside `call`); 429 and 5xx raise Retryable."""
        return self.request_once("GET", url, params=params, headers=headers, truncate=truncate)

    def request_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        truncate: bool = False,
        why: Callable[[bytes], str] = lambda body: "",
    ) -> Answer:
        """One request, unpaced and unretried (run it inside `call`); 429 and 5xx raise
        Retryable, described by `why(body)` after the status when the API explains itself."""
        response, truncated = self.session.fetch(
            method, url, params=params, headers=dict(headers or {}), json=json, truncate=truncate
        )
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), self.clock.now())
            raise Retryable(f"HTTP {status}{why(response.content)}", retry_after)
        return Answer(status, response.content, response.url, response.headers, truncated)

    def call(self, step: Callable[[], T], what: str) -> T:
        """Run one step (one or more requests) paced and retried; failures are SourceErrors."""
        tries = 0

        def attempt() -> T:
            nonlocal tries
            tries += 1
            self._pace()
            try:
                return self._classified(step, what)
            finally:
                self._last_answer = self.clock.monotonic()

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(Retryable),
            sleep=self.clock.sleep,
            before_sleep=lambda state: self._log_retry(state, what),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except Retryable as exc:
            times = f"{tries} tries" if tries > 1 else "1 try"
            reason = exc.reason if exc.located else f"{exc.reason} while trying to {what}"
            raise FetchError(self.source, f"{reason} after {times}") from exc

    def _classified(self, step: Callable[[], T], what: str) -> T:
        try:
            return step()
        except (SourceError, Retryable) as exc:
            if isinstance(exc, Retryable):
                self._check_retry_after(exc)
            raise
        except Exception as exc:
            inner = _unwrap(exc)
            if isinstance(inner, SourceError):
                raise inner from exc
            rule = rule_for(inner) or rule_for(exc)
            if rule is None:
                raise
            response = getattr(inner, "response", None)
            status = getattr(response, "status_code", None)
            template = (rule.by_status or {}).get(status or 0, rule.message)
            message = template.format(
                what=what,
                timeout=self.policy.timeout_seconds,
                status=status,
                name=type(inner).__name__,
                detail=str(inner) or type(inner).__name__,
            )
            if rule.retry:
                headers = getattr(response, "headers", None) or {}
                retry = Retryable(
                    message,
                    retry_after_seconds(headers.get("Retry-After"), self.clock.now()),
                    located=True,
                )
                self._check_retry_after(retry)
                raise retry from exc
            raise rule.error(self.source, message) from exc

    def _check_retry_after(self, exc: Retryable) -> None:
        if exc.retry_after is not None and exc.retry_after > self.policy.max_retry_after:
            raise FetchError(
                self.source,
                f"{exc.reason}; the server asks to wait {exc.retry_after:.0f} s, "
                "so try again later",
            ) from exc

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return exc.retry_after
        backoff = self.policy.backoff_seconds * 2 ** (state.attempt_number - 1)
        return float(min(backoff, self.policy.max_backoff_seconds))

    def _log_retry(self, state: tenacity.RetryCallState, what: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        reason = str(exc)
        if not (isinstance(exc, Retryable) and exc.located):
            reason = f"{reason} while trying to {what}"
        log.warning("%s: %s; retrying in %.1f s", self.source, reason, wait)

    def _pace(self) -> None:
        if self._last_answer is None:
            return
        remaining = self._last_answer + self.policy.delay_seconds - self.clock.monotonic()
        if remaining > 0:
            self.clock.sleep(remaining)
