"""`midlist init` and `midlist check`: get a valid config in place and see what it says."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from bot.classics import Scope
from bot.cli import App, cli, pass_app
from bot.config import (
    ConsoleChannel,
    EmailChannel,
    FeedChannel,
    FileChannel,
    Niche,
    Settings,
    SlackChannel,
)
from bot.errors import ConfigError
from bot.store import redacted
from bot.store.engine import url_problem


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone for digests.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_app
def init(app: App, path: Path | None, timezone: str, force: bool) -> None:
    """Write a starter config.yaml (to PATH, or where --config points, or ./config.yaml)."""
    target = path or app.config_file
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; edit it, or pass --force to overwrite it")
    text = resources.files("bot").joinpath("templates/starter-config.yaml").read_text("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace("{timezone}", timezone), encoding="utf-8")
    click.echo(
        f"Wrote {target}. Edit the niche keywords, then run: midlist --config {target} check"
    )


@cli.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print the parsed config as JSON, secrets redacted."
)
@pass_app
def check(app: App, as_json: bool) -> None:
    """Validate the config and summarise it; say exactly which key is wrong and why."""
    settings = app.settings
    problem = url_problem(settings.storage.url)
    if problem:
        raise ConfigError(problem)
    if as_json:
        record = {"config": str(app.config_file), "ok": True, "settings": as_record(settings)}
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    console = Console(highlight=False)
    console.print(f"[green]OK[/green] {app.config_file}")
    console.print(summary(settings))


def as_record(settings: Settings) -> dict[str, object]:
    """Every key with its parsed value (defaults filled in); secrets and URL passwords starred."""
    data: dict[str, object] = settings.model_dump(mode="json", by_alias=True)
    storage = dict(settings.storage.model_dump(mode="json"))
    storage["url"] = redacted(settings.storage.url)
    data["storage"] = storage
    return data


def summary(settings: Settings) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("timezone", settings.timezone)
    table.add_row("storage", redacted(settings.storage.url))
    arxiv = settings.sources.arxiv
    if arxiv.enabled:
        what = (
            ", ".join(arxiv.categories + [f"query {q!r}" for q in arxiv.queries])
            or "id look-ups only"
        )
        table.add_row("arxiv", what)
    reddit = settings.sources.reddit
    if reddit.enabled:
        table.add_row(
            "reddit", ", ".join(f"r/{s}" for s in reddit.subreddits) + f" /{reddit.thread_pattern}/"
        )
    for feed in settings.sources.feeds:
        table.add_row("feed", f"{feed.name} ({feed.kind})")
    citations = settings.sources.citations
    if citations.enabled:
        key = ", API key set" if citations.api_key else ""
        table.add_row(
            "citations",
            f"Semantic Scholar, each count refreshed after {citations.refresh_days:g} days{key}",
        )
    for niche in settings.niches:
        band = "top" if niche.band == "top" else f"{niche.band[0]}-{niche.band[1]}%"
        table.add_row(
            "niche",
            f"{niche.name}: {len(niche.keywords)} keywords, {len(niche.seeds)} seeds, band {band}, "
            f"{niche.size} a day -> {', '.join(niche.channels) or 'no channel'}" + _classics(niche),
        )
    for name, channel in settings.channels.items():
        table.add_row("channel", f"{name}: {_describe(channel)}")
    table.add_row(
        "schedule",
        f"collect '{settings.schedule.collect}' ({settings.schedule.collect_timezone}), "
        f"digest '{settings.schedule.digest}' ({settings.timezone})",
    )
    return table


def _classics(niche: Niche) -> str:
    """`; by citations, NeurIPS 1987-1997` for a niche ordered or scoped otherwise than by default."""
    parts = [f"by {niche.order}"] if niche.order != "relevance" else []
    label = Scope.of(niche).label()
    return "; " + ", ".join(parts + [label]) if parts or label else ""


def _describe(
    channel: SlackChannel | EmailChannel | FileChannel | ConsoleChannel | FeedChannel,
) -> str:
    if isinstance(channel, SlackChannel):
        return (
            "slack webhook" if channel.webhook_url else f"slack {channel.channel} (bot token set)"
        )
    if isinstance(channel, EmailChannel):
        return f"email to {', '.join(channel.to)} via {channel.host}:{channel.port} ({channel.security})"
    if isinstance(channel, FileChannel):
        return f"file {channel.path} ({channel.format})"
    if isinstance(channel, FeedChannel):
        return f"Atom feed {channel.path} (newest {channel.max_entries} entries)"
    return "console"
