"""`midlist queue`: see the reading queue and move papers through it (save, read, skip)."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli import App, cli, pass_app
from bot.errors import ConfigError
from bot.escape import terminal
from bot.store.queue import STATES, QueueItem
from sources.ids import paper_url

_VERBS = {"save": "saved", "read": "read", "skip": "skipped"}


@cli.group(invoke_without_command=True)
@click.pass_context
def queue(ctx: click.Context) -> None:
    """List the reading queue, or mark papers saved, read or skipped."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_queue)


@queue.command("list")
@click.option("--niche", help="Only this niche (default: all).")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(STATES),
    help="Only these states (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@pass_app
def list_queue(app: App, niche: str | None, states: tuple[str, ...], as_json: bool) -> None:
    """List queued papers with their state, newest change first."""
    if niche is not None:
        app.settings.niche(niche)
    items = app.store.queue.list(niche, states or None)
    if as_json:
        click.echo(json.dumps([as_record(i) for i in items], indent=2, ensure_ascii=False))
        return
    console = Console(highlight=False)
    if not items:
        console.print("The queue is empty." if not states else f"Nothing is {' or '.join(states)}.")
        return
    console.print(queue_table(items, show_niche=niche is None))
    counts = app.store.queue.counts(niche)
    console.print(", ".join(f"{n} {state}" for state, n in counts.items()))


def as_record(item: QueueItem) -> dict[str, object]:
    """The fields `query --json` uses for a paper (id, title, url, published), plus its state."""
    paper = item.paper
    return {
        "id": paper.id,
        "title": " ".join(paper.title.split()),
        "url": paper.url or paper_url(paper.id),
        "published": paper.published.date().isoformat() if paper.published else None,
        "niche": item.niche,
        "state": item.state,
        "updated_at": item.updated_at.isoformat(),
    }


def queue_table(items: list[QueueItem], show_niche: bool) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("id", no_wrap=True)
    table.add_column("state", no_wrap=True)
    if show_niche:
        table.add_column("niche", no_wrap=True, max_width=14, overflow="ellipsis")
    table.add_column("title", no_wrap=True, overflow="ellipsis", ratio=1)
    # Text, not str: a title like "[/]" or "[link=...]" is not rich markup; `terminal` drops
    # the escape sequences a hostile title could use to clear the screen or hide a link.
    for item in items:
        row = [Text(terminal(item.paper.id)), Text(item.state)]
        if show_niche:
            row.append(Text(terminal(item.niche)))
        row.append(Text(" ".join(terminal(item.paper.title).split())))
        table.add_row(*row)
    return table


def _mark_command(verb: str, state: str) -> None:
    @queue.command(verb, help=f"Mark papers {state} (ids, arXiv:ids, versions or abs/pdf URLs).")
    @click.argument("ids", nargs=-1, required=True)
    @click.option("--niche", help="The niche (default: the only one configured).")
    @pass_app
    def command(app: App, ids: tuple[str, ...], niche: str | None) -> None:
        name = resolve_niche(app, niche)
        for paper_id in ids:
            marked = app.store.queue.mark(name, paper_id, state)
            was = "new to the queue" if marked.previous is None else f"was {marked.previous}"
            click.echo(f"{state.capitalize()} {marked.paper_id} in {name} ({was}).")


def resolve_niche(app: App, name: str | None) -> str:
    """The named niche, checked against the config, or the only one there is."""
    if name is not None:
        return app.settings.niche(name).name
    niches = app.settings.niches
    if len(niches) == 1:
        return niches[0].name
    if not niches:
        raise ConfigError("no niches are configured; add one under `niches:` in the config")
    raise ConfigError(
        f"several niches are configured; pass --niche (one of {', '.join(n.name for n in niches)})"
    )


for _verb, _state in _VERBS.items():
    _mark_command(_verb, _state)
