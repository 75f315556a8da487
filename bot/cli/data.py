"""`midlist import FILE`: seed the store with years of arXiv history (a Kaggle snapshot) or with
proceedings lists (venues, years and citation counts)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from bot.cli import App, cli, err_console, pass_app
from bot.importer import import_snapshot

SHOWN_BAD = 10  # bad lines listed without --verbose


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_app
def import_(app: App, file: Path) -> None:
    """Bulk-load a Kaggle arxiv-metadata-oai-snapshot FILE (.json/.jsonl, .gz, or its .zip),
    or a proceedings list (JSON lines, or a paperlists JSON array like nips1987.json).

    Safe to re-run: papers already stored count as unchanged, newer versions update them.
    Bad lines are reported with their line numbers and skipped.
    """
    store = app.store
    bar = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("import", total=None)

    def progress(done: int, total: int) -> None:
        if not bar.live.is_started:  # started on the first batch, so a refused file shows no bar
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        report = import_snapshot(file, store, progress=progress)
    finally:
        if bar.live.is_started:
            bar.stop()
    click.echo(report.summary())
    shown = report.bad if app.verbose else report.bad[:SHOWN_BAD]
    for line_number, reason in shown:
        click.echo(f"  {report.unit} {line_number:,}: {reason}")
    hidden = report.bad_lines - len(shown)
    if hidden:
        more = "midlist -v import shows all" if not app.verbose else "only the first ones are kept"
        click.echo(f"  ... and {hidden:,} more bad {report.unit}s ({more})")
