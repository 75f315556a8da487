"""`midlist collect`: run the collectors once and show what each one found."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli import App, cli, pass_app
from bot.collect import CollectReport, collect_all
from bot.escape import terminal


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Run only this source (repeatable), e.g. arxiv, arxiv-lookup. Default: every enabled one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@pass_app
def collect(app: App, sources: tuple[str, ...], as_json: bool) -> None:
    """Run the configured collectors once and print counts per source (exit 1 if one failed)."""
    report = collect_all(app.settings, app.store, list(sources) or None)
    if as_json:
        records = [{"source": r.pop("name"), **r} for r in map(asdict, report.sources)]
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        if not report.ok:
            sys.exit(1)
        return
    console = Console(highlight=False, emoji=False)
    if not report.sources:
        console.print("Nothing to collect: no source is enabled under sources: in the config.")
        return
    console.print(report_table(report))
    for result in report.sources:
        for note in result.notes:
            console.print(
                f"[yellow]{escape(result.name)}:[/yellow] {escape(terminal(note))}", soft_wrap=True
            )
        if result.error:
            console.print(
                f"[red]{escape(result.name)} failed:[/red] {escape(terminal(result.error))}",
                soft_wrap=True,
            )
    if not report.ok:
        sys.exit(1)


def report_table(report: CollectReport) -> Table:
    table = Table(title="collect", title_justify="left")
    table.add_column("source")
    for name in ("new", "updated", "unchanged", "mentions"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for r in report.sources:
        status = "[green]ok[/green]" if r.ok else "[red]failed[/red]"
        table.add_row(
            escape(r.name), str(r.new), str(r.updated), str(r.unchanged), str(r.mentions), status
        )
    return table
