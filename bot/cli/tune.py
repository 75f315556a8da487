"""`midlist tune`: draw a niche's pool and band as one HTML page, and print what to try next."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import click

from bot.cli import App, cli, pass_app
from bot.cli.query import parse_band, parse_keywords, parse_since
from bot.errors import MidlistError
from bot.rank import profile_for
from ranking import NicheProfile

_UNSAFE_NAME = re.compile(r"[^\w.-]+")


@cli.command()
@click.argument("niche_or_keywords")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page (default: NICHE.html beside the config).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the browser.")
@click.option("--band", metavar="LO-HI|top", help="Try another band (default: the niche's).")
@click.option("--size", type=click.IntRange(1, 200), help="Picks a digest sends (default 7).")
@click.option("--since", metavar="SPAN|DATE", help="Only papers from the last 7d / 3m, or a date.")
@pass_app
def tune(
    app: App,
    niche_or_keywords: str,
    output: Path | None,
    open_page: bool,
    band: str | None,
    size: int | None,
    since: str | None,
) -> None:
    """Show how a niche's keywords shape its pool, band and picks, as one HTML page.

    NICHE_OR_KEYWORDS is a configured niche's name, or keyword phrases as for `midlist query`.
    The page needs no network to open; the summary is printed.
    """
    from bot.tune import build_report, done_with, summary  # charts load only for this command
    from bot.tune_page import render_page

    settings = app.settings
    names = {n.name for n in settings.niches}
    if niche_or_keywords in names:
        niche = settings.niche(niche_or_keywords)
        profile = profile_for(niche, app.store)
        size = size or niche.size
        done = done_with(app.store, niche.name, niche.channels)
    else:
        phrases = parse_keywords(niche_or_keywords)
        if not phrases:
            raise click.UsageError('give a niche name or keywords ("selective scan, mamba")')
        profile = NicheProfile("query", tuple(phrases))
        size = size or 7
        done = ()
    if band is not None:
        profile = replace(profile, band=parse_band(band))
    if app.store.papers.count() == 0:
        raise MidlistError(
            "no papers in the store yet: load some with `midlist import FILE` or `midlist collect`"
        )
    cutoff = parse_since(since) if since else None
    report = build_report(settings, app.store, profile, size=size, since=cutoff, exclude_ids=done)
    name = _UNSAFE_NAME.sub("-", profile.name).strip("-.") or "niche"
    target = output or app.config_file.resolve().parent / f"{name}.html"
    cache = Path(settings.storage.index_dir).expanduser().parent  # beside the index
    _write(target, render_page(report, cache_dir=cache))
    click.echo(summary(report))
    click.echo(f"wrote {target}")
    if open_page:
        click.launch(target.resolve().as_uri())


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a browser reloading the page never sees half of it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # a page to open and share, not a secret
        os.replace(tmp, path)
    except OSError as exc:
        raise MidlistError(
            f"cannot write {path}: {exc.strerror or exc} (choose another -o)"
        ) from exc
