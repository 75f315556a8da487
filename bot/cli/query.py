"""`midlist query`: one ranked query over the store (or a live arXiv search), printed or as JSON."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.classics import Scope
from bot.cli import App, cli, pass_app
from bot.config import parse_years
from bot.errors import MidlistError
from bot.escape import dumps, terminal
from bot.rank import DEFAULT_LIMIT, niche_options, profile_for, rank_niche, rank_papers
from ranking import NicheProfile, Ranking
from ranking.band import ORDERS
from sources.ids import paper_url
from sources.models import Paper

WIDTH = 80
_SPAN = re.compile(r"^\s*(\d+)\s*([hdwmy])\s*$")
_UNITS = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "m": timedelta(days=30),
    "y": timedelta(days=365),
}


@cli.command()
@click.argument("keywords", required=False, default="")
@click.option(
    "--band", metavar="LO-HI|top", help="Percentile band of the on-niche pool (default 15-40)."
)
@click.option(
    "--limit", type=click.IntRange(1, 200), help=f"How many papers (default {DEFAULT_LIMIT})."
)
@click.option(
    "--since",
    metavar="SPAN|DATE",
    help="Only papers from the last 7d / 24h / 2w / 3m, or since 2025-06-01.",
)
@click.option(
    "--niche",
    "niche_name",
    metavar="NAME",
    help="Use a configured niche (its keywords, exclusions, seeds, band).",
)
@click.option(
    "--order",
    type=click.Choice(ORDERS),
    help="Order the pool by relevance (default), citations or mentions before taking the band.",
)
@click.option(
    "--venue",
    "venues",
    multiple=True,
    metavar="NAME",
    help="Only papers listed at this venue (repeatable): neurips, icml, ...",
)
@click.option("--years", metavar="FIRST-LAST", help="Only papers of these years, e.g. 1987-1997.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--live", is_flag=True, help="Ask the arXiv API instead of the local store.")
@pass_app
def query(
    app: App,
    keywords: str,
    band: str | None,
    limit: int | None,
    since: str | None,
    niche_name: str | None,
    order: str | None,
    venues: tuple[str, ...],
    years: str | None,
    as_json: bool,
    live: bool,
) -> None:
    """Rank papers for KEYWORDS and show the quirky middle of the niche.

    KEYWORDS are phrases separated by commas ("selective scan, linear recurrence"), or words
    with quoted phrases ('"selective scan" mamba').
    """
    phrases = parse_keywords(keywords)
    scope = Scope.parse(venues, parse_year_span(years) if years else None)
    if niche_name:
        niche = app.settings.niche(niche_name)
        configured = niche_options(niche)
        order = order or configured["order"]
        scope = Scope(
            scope.venues or configured["scope"].venues, scope.years or configured["scope"].years
        )
        base = profile_for(niche, app.store)
        profile = NicheProfile(
            base.name,
            base.keywords + tuple(p for p in phrases if p not in base.keywords),
            base.exclude,
            base.seeds,
            base.band,
            base.saved,
            base.skipped,
        )
        limit = limit or niche.size
    elif phrases:
        profile = NicheProfile("query", tuple(phrases))
    else:
        raise click.UsageError(
            'give KEYWORDS (e.g. "selective scan, linear recurrence") or --niche NAME'
        )
    if band is not None:
        profile = NicheProfile(
            profile.name,
            profile.keywords,
            profile.exclude,
            profile.seeds,
            parse_band(band),
            profile.saved,
            profile.skipped,
        )
    cutoff = parse_since(since) if since else None
    check_venues(app, scope)

    if live:
        ranking, papers = _live(app, profile, limit, cutoff)
    else:
        ranking, papers = rank_niche(
            app.settings,
            app.store,
            profile,
            since=cutoff,
            limit=limit,
            order=order or "relevance",
            scope=scope,
        )

    console = Console(highlight=False, width=min(Console().width, WIDTH))
    if as_json:
        click.echo(dumps(as_records(ranking, papers)))
        if not ranking.picks:
            Console(stderr=True, highlight=False).print(
                no_match(ranking, profile, since, live, app), markup=False
            )
        return
    if not ranking.picks:  # the message quotes the user's keywords: plain text, not markup
        console.print(no_match(ranking, profile, since, live, app), markup=False)
        return
    console.print(table(ranking, papers, profile))


def parse_keywords(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    if "," in text or ";" in text:
        parts = re.split(r"[,;]", text)
    else:
        try:
            parts = shlex.split(text)
        except ValueError as exc:
            raise click.BadParameter(
                f"{exc}: close the quote around the phrase", param_hint="KEYWORDS"
            ) from exc
    return list(dict.fromkeys(p.strip().strip('"') for p in parts if p.strip().strip('"')))


def parse_band(text: str) -> tuple[int, int] | None:
    if text.strip().lower() == "top":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)) <= 100:
        raise click.BadParameter(
            f"expected two percentages like 15-40, or top; got {text!r}", param_hint="--band"
        )
    return int(m.group(1)), int(m.group(2))


def check_venues(app: App, scope: Scope) -> None:
    """An unknown venue is a typo or a list not imported yet: say which venues the store has."""
    unknown = scope.unknown_venues(app.store) if scope.venues else []
    if unknown:
        known = ", ".join(sorted(app.store.citations.venues())) or "none yet"
        raise MidlistError(
            f"no papers listed at {', '.join(unknown)} (venues in the store: {known}); "
            "import a proceedings list with `midlist import FILE`"
        )
    if scope and not scope.ids(app.store):
        raise MidlistError(
            f"no stored papers are from {scope.label()}; widen --years or --venue, or import "
            "the proceedings of those years with `midlist import FILE`"
        )


def parse_year_span(text: str) -> tuple[int, int]:
    try:
        span = parse_years(text.strip())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--years") from None
    if span is None:
        raise click.BadParameter("expected two years like 1987-1997", param_hint="--years")
    return span


def parse_since(text: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    m = _SPAN.match(text.lower())
    if m:
        try:
            return now - int(m.group(1)) * _UNITS[m.group(2)]
        except OverflowError:  # e.g. 5000y: before year 1
            raise click.BadParameter(
                f"{text!r} reaches back before the year 1; use a shorter span or a date",
                param_hint="--since",
            ) from None
    try:
        day = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected a span like 7d, 24h, 2w, 3m, 1y or a date like 2025-06-01; got {text!r}",
            param_hint="--since",
        ) from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def as_records(ranking: Ranking, papers: dict[str, Paper]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for pick in ranking.picks:
        paper = papers.get(pick.paper_id)
        out.append(
            {
                "id": pick.paper_id,
                "title": paper.title if paper else pick.paper_id,
                "url": (paper.url if paper and paper.url else paper_url(pick.paper_id)),
                "score": pick.score,
                "percentile": pick.percentile,
                "reasons": list(pick.reasons),
                "matched_terms": list(pick.matched_terms),
                "mentions": pick.mentions,
                "citations": pick.citations,
                "published": paper.published.date().isoformat()
                if paper and paper.published
                else None,
                "pool_size": ranking.pool_size,
            }
        )
    return out


def table(ranking: Ranking, papers: dict[str, Paper], profile: NicheProfile) -> Table:
    band = "top" if profile.band is None else f"{profile.band[0]}-{profile.band[1]}%"
    out = Table(
        title=f"{len(ranking.picks)} picks, band {band} of a {ranking.pool_size}-paper pool",
        show_lines=False,
        pad_edge=False,
        expand=True,  # the console's width: the terminal's, at most WIDTH
    )
    out.add_column("pct", justify="right", width=3, no_wrap=True)
    out.add_column("paper", ratio=1, overflow="fold")
    # Wide enough for old-style ids (hep-th/9901001); longer ones wrap, never cut: users copy them.
    out.add_column("id", width=14, overflow="fold")
    for pick in ranking.picks:
        paper = papers.get(pick.paper_id)
        cell = Text(terminal(paper.title if paper else pick.paper_id), style="bold")
        reasons = "; ".join(r for r in pick.reasons if not r.startswith("percentile"))
        cell.append("\n" + terminal(reasons), style="dim")
        out.add_row(f"{pick.percentile:.0f}", cell, Text(terminal(pick.paper_id)))
    if ranking.notes:
        out.caption = Text("; ".join(ranking.notes))  # quotes keywords: not markup
    return out


def no_match(
    ranking: Ranking, profile: NicheProfile, since: str | None, live: bool, app: App
) -> str:
    tips = []
    if not live and app.store.papers.count() == 0:
        return (
            "No papers in the store yet. Load some with `midlist import FILE` (a Kaggle arXiv "
            "snapshot) or `midlist collect`, or search arXiv directly with --live."
        )
    if ranking.notes:
        tips.append("; ".join(ranking.notes) + ": try other spellings or fewer words per phrase")
    if since:
        tips.append(f"widen --since (now {since})")
    if ranking.pool_size == 0:
        tips.append("use fewer or broader keywords, separate phrases with commas")
    elif profile.band is not None:
        tips.append("try --band top")
    if not live:
        tips.append("import more data (`midlist import FILE`) or try --live")
    return "No papers match this niche. " + "; ".join(tips) + "."


def _live(
    app: App, profile: NicheProfile, limit: int | None, cutoff: datetime | None
) -> tuple[Ranking, dict[str, Paper]]:
    from bot.collect import arxiv_collector
    from sources.errors import SourceError

    collector = arxiv_collector(app.settings)
    terms = " OR ".join(f'all:"{k}"' if " " in k else f"all:{k}" for k in profile.keywords)
    try:
        found = collector.search(terms, max_results=max(100, 10 * (limit or DEFAULT_LIMIT)))
    except SourceError as exc:
        raise MidlistError(
            f"arXiv search failed: {exc.reason} (check sources.arxiv.api_url, or retry later)"
        ) from exc
    if cutoff is not None:
        found = [p for p in found if (p.published or p.updated or cutoff) >= cutoff]
    return rank_papers(found, profile, limit=limit)
