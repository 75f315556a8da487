"""`midlist export`: the reading queue as BibTeX, an Anki deck, Markdown or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from bot import export as exporter
from bot.cli import App, cli, pass_app
from bot.store.queue import STATES

DEFAULT_STATES = ("saved", "read", "queued")


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(exporter.FORMATS), required=True, help="Output format."
)
@click.option("--niche", help="Only this niche (default: all).")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(STATES),
    help="Only these states (repeatable; default: saved, read and queued, i.e. not skipped).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output; midlist.apkg for anki).",
)
@pass_app
def export(
    app: App, fmt: str, niche: str | None, states: tuple[str, ...], output: Path | None
) -> None:
    """Export queued papers to BibTeX, Anki (.apkg), Markdown or JSON."""
    if niche is not None:
        app.settings.niche(niche)
    chosen = states or DEFAULT_STATES
    items = app.store.queue.list(niche, chosen)
    if not items:
        where = f" in niche {niche}" if niche else ""
        raise exporter.ExportError(
            f"nothing to export: no {' or '.join(chosen)} papers{where} "
            "(see `midlist queue list`, or pick other states with --state)"
        )
    if fmt == "anki":
        target = output or Path("midlist.apkg")
        cards = exporter.write_anki(items, target)
        click.echo(f"Wrote {cards} cards to {target}.")
        return
    text = exporter.render(fmt, items)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise exporter.ExportError(f"{output}: cannot write the export ({exc.strerror})") from exc
    click.echo(f"Wrote {len(exporter.unique_papers(items))} papers to {output}.")
