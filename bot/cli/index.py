"""`midlist index`: bring the ranking index up to date now, or build it again with --rebuild.

Queries and digests keep the index up to date by themselves; this command is for after a big
import, so the cold build (minutes at millions of papers) happens with a progress bar here
rather than inside the first query.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.cli import App, cli, err_console, pass_app
from bot.rank import update_index


@cli.command("index")
@click.option("--rebuild", is_flag=True, help="Build the index again from every stored paper.")
@pass_app
def index_(app: App, rebuild: bool) -> None:
    """Update the ranking index with papers stored since it was last used (--rebuild: all)."""
    store = app.store
    bar = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("papers, {task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("index", total=None, rate="-")
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        rate = done / max(time.monotonic() - started, 1e-6)
        bar.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

    try:
        index = update_index(app.settings, store, rebuild=rebuild, progress=progress)
    finally:
        if bar.live.is_started:
            bar.stop()
    directory = Path(app.settings.storage.index_dir).expanduser()
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    click.echo(
        f"index: {len(index):,} papers, {index.n_features:,} words and phrases, "
        f"{size / 2**20:,.0f} MB in {directory} ({time.monotonic() - started:.1f} s)"
    )
