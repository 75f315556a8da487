"""`midlist syllabus NICHE`: ~100 papers from the niche's band over the whole store, for reading
in order or for flashcards (the same Anki deck, BibTeX, Markdown and JSON as `midlist export`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from bot import export as exporter
from bot import syllabus as syllabi
from bot.cli import App, cli, pass_app
from bot.cli.query import parse_band
from bot.store.queue import QueueItem


@cli.command()
@click.argument("niche_name", metavar="NICHE")
@click.option(
    "--size", type=click.IntRange(1, 2000), default=100, show_default=True, help="How many papers."
)
@click.option(
    "--order",
    "reading_order",
    type=click.Choice(syllabi.READING_ORDERS),
    default="year",
    show_default=True,
    help="Reading order: oldest first, most cited first, or most relevant first.",
)
@click.option("--band", metavar="LO-HI|top", help="Override the niche's band, e.g. 10-60.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(exporter.FORMATS),
    default="markdown",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output; NICHE-syllabus.apkg for anki).",
)
@click.option("--queue", "enqueue", is_flag=True, help="Also add the papers to the niche's queue.")
@pass_app
def syllabus(
    app: App,
    niche_name: str,
    size: int,
    reading_order: str,
    band: str | None,
    fmt: str,
    output: Path | None,
    enqueue: bool,
) -> None:
    """A reading list of --size papers from NICHE's band (its order, venues and years).

    Drawn from every stored paper, without near-duplicates, oldest first by default. The Anki
    deck is the one `midlist export` writes: re-exporting updates the cards instead of adding.
    """
    niche = app.settings.niche(niche_name)
    built = syllabi.build(
        app.settings,
        app.store,
        niche,
        size=size,
        band=parse_band(band) if band is not None else "niche",
        reading_order=reading_order,
    )
    added = (
        app.store.queue.enqueue(niche.name, [e.paper.id for e in built.entries]) if enqueue else 0
    )
    stamp = datetime.now(UTC)
    state = "queued" if enqueue else "syllabus"
    items = [QueueItem(niche.name, state, stamp, e.paper) for e in built.entries]
    if fmt == "anki":
        target = output or Path(f"{niche.name}-syllabus.apkg")
        cards = exporter.write_anki(items, target)
        click.echo(f"Wrote {cards} cards to {target}.")
    else:
        text = to_json(built, items) if fmt == "json" else exporter.render(fmt, items)
        if output is None:
            click.echo(text, nl=False)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise exporter.ExportError(f"{output}: cannot write ({exc.strerror})") from exc
            click.echo(f"Wrote {len(items)} papers to {output}.")
    if enqueue:
        click.echo(
            f"Queued {added} new papers in {niche.name} ({len(items) - added} were there).",
            err=True,
        )


def to_json(built: syllabi.Syllabus, items: list[QueueItem]) -> str:
    """The export's JSON records, with where each paper sits and why it was picked."""
    records = json.loads(exporter.to_json(items))
    for record, entry in zip(records, built.entries, strict=True):
        record.update(
            venue=entry.listing.venue if entry.listing else None,
            year=entry.year,
            citations=entry.pick.citations,
            percentile=entry.pick.percentile,
            reasons=list(entry.pick.reasons),
        )
    return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
