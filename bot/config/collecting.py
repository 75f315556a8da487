"""The `sources:` section: what each collector reads, and how politely."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.config.base import Model, Secret, require_unique


class ArxivSource(Model):
    enabled: bool = True
    api_url: str = "https://export.arxiv.org/api/query"  # keyword queries and id look-ups
    oai_url: str = "https://oaipmh.arxiv.org/oai"  # categories, harvested by announcement
    categories: list[str] = []
    queries: list[str] = []
    delay_seconds: float = Field(3.0, ge=0)
    timeout_seconds: float = Field(30.0, gt=0)
    page_size: int = Field(200, ge=1, le=2000)
    max_results: int = Field(2000, ge=1, le=1_000_000)  # per query and run; the first run's depth
    retries: int = Field(4, ge=0, le=100)
    max_bytes: int = Field(100_000_000, ge=1)  # per answer; a longer one fails the request

    @field_validator("categories")
    @classmethod
    def _categories(cls, categories: list[str]) -> list[str]:
        for category in categories:
            if not re.fullmatch(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z-]+)?", category):
                raise ValueError(f"{category!r} is not an arXiv category like cs.LG or hep-th")
        return categories


class RedditSource(Model):
    enabled: bool = False
    client_id: Secret = None
    client_secret: Secret = None
    user_agent: str = "midlist/0.1 (paper discovery bot)"
    base_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com"
    subreddits: list[str] = ["MachineLearning"]
    thread_pattern: str = r"What Are You Reading|WAYR"
    extra_searches: list[str] = []
    lookback_days: int = Field(30, ge=1, le=3650)
    replace_more_limit: int = Field(32, ge=0, le=10_000)
    timeout_seconds: float = Field(20.0, gt=0)
    retries: int = Field(2, ge=0, le=100)
    max_bytes: int = Field(20_000_000, ge=1)  # per answer

    @field_validator("thread_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _credentials(self) -> RedditSource:
        if self.enabled and not (self.client_id and self.client_secret):
            raise ValueError(
                "enabled, but client_id and client_secret are not both set "
                "(use ${REDDIT_CLIENT_ID} and ${REDDIT_CLIENT_SECRET})"
            )
        return self


class Feed(Model):
    name: str
    url: str
    kind: Literal["blog", "arxiv-rss", "paper-list"] = "blog"
    announce_types: list[Literal["new", "cross", "replace", "replace-cross"]] = ["new", "cross"]
    timeout_seconds: float = Field(20.0, gt=0)
    max_bytes: int = Field(10_000_000, ge=1)  # a longer feed is read up to here, with a note
    retries: int = Field(2, ge=0, le=100)


class CitationsSource(Model):
    """Semantic Scholar citation counts for the papers that matter (see bot/citations.py)."""

    enabled: bool = False
    base_url: str = "https://api.semanticscholar.org/graph/v1"
    api_key: Secret = None
    refresh_days: float = Field(7.0, gt=0, le=3650)
    delay_seconds: float = Field(1.0, ge=0, le=3600)  # between requests; S2 allows ~1 a second
    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    retries: int = Field(4, ge=0, le=100)
    max_papers: int = Field(5000, ge=1, le=1_000_000)  # looked up per run, most important first


class Sources(Model):
    arxiv: ArxivSource = ArxivSource()
    reddit: RedditSource = RedditSource()
    feeds: list[Feed] = []
    citations: CitationsSource = CitationsSource()

    @field_validator("feeds")
    @classmethod
    def _unique_feed_names(cls, feeds: list[Feed]) -> list[Feed]:
        require_unique([f.name for f in feeds], "feed")
        return feeds
