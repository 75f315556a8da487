"""`midlist tune`: one self-contained HTML page that shows a niche's pool, band and picks.

`build_report` asks the ranker what it saw (`ranking.explain`) and joins it with the stored
papers; `suggestions` turns the figures into what to try next; `render_page` draws the pool and
the keywords with Vega-Altair and inlines the Vega JavaScript (from vl-convert), so the page
opens from disk with no network. `summary` is the short text the command prints.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import altair as alt
import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.config import Settings
from bot.deliver.render import safe_url
from bot.rank import update_index
from bot.store import Store
from ranking.explain import ExclusionEffect, Explanation, KeywordEffect, explain
from ranking.models import NicheProfile
from sources.ids import paper_url

log = logging.getLogger(__name__)

LIST_LENGTH = 5  # papers in "just above the band" and "the fringe"
DOMINANT = 0.4  # share of the pool one keyword may bring in alone before we say so
BROAD_POOL = 2000
RARE = 0.05  # a keyword used by at most this share of the pool, never alone, barely counts
HEIGHT = 340  # of the pool chart's plot, in pixels
Zone = Literal["above", "band", "below"]
COLOURS = {"above": "#8c9bb0", "band": "#e08a2c", "below": "#c4c4bc", "pick": "#b23a1e"}
ZONE_NAMES = {"above": "above the band", "band": "in the band", "below": "below the band"}


@dataclass(frozen=True, slots=True)
class Row:
    """One pool paper as the page shows it."""

    position: int
    percentile: float
    paper_id: str
    title: str
    url: str
    relevance: float
    mentions: int
    keywords: tuple[str, ...]
    zone: Zone
    picked: bool


@dataclass(frozen=True, slots=True)
class Report:
    niche: str
    keywords: tuple[str, ...]
    band: str  # "15-40%" or "top"
    size: int
    papers: int  # papers the ranker looked at
    explanation: Explanation
    rows: tuple[Row, ...]
    seed_added: tuple[Row, ...]
    suggestions: tuple[str, ...]
    seconds: float
    made: str  # when, for the page's footer

    @property
    def above(self) -> tuple[Row, ...]:
        start = self.explanation.band.start
        return self.rows[max(0, start - LIST_LENGTH) : start]

    @property
    def picks(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.picked)

    @property
    def fringe(self) -> tuple[Row, ...]:
        stop = self.explanation.band.stop
        return self.rows[stop : stop + LIST_LENGTH]

    @property
    def band_span(self) -> str:
        band = self.explanation.band
        if not len(band):
            return "no position"
        return f"positions {band.start + 1}-{band.stop} ({len(band)} papers)"


def build_report(
    settings: Settings,
    store: Store,
    profile: NicheProfile,
    *,
    size: int,
    since: datetime | None = None,
) -> Report:
    """Explain the niche over the stored papers (those since `since`), as a digest ranks them."""
    started = time.perf_counter()
    index = update_index(settings, store)
    rows = None if since is None else np.flatnonzero(index.dates >= int(since.timestamp()))
    exp = explain(
        index,
        profile,
        limit=size,
        mentions=store.papers.mention_counts(),
        rows=rows,
    )
    papers = store.papers.get_many(list(exp.ids))
    picked = set(exp.pick_positions)
    out = []
    for p, paper_id in enumerate(exp.ids):
        paper = papers.get(paper_id)
        zone: Zone = "band" if p in exp.band else "above" if p < exp.band.start else "below"
        out.append(
            Row(
                position=p,
                percentile=round(exp.percentile(p), 1),
                paper_id=paper_id,
                title=" ".join((paper.title if paper else paper_id).split()),
                url=safe_url(paper.url if paper and paper.url else paper_url(paper_id)),
                relevance=round(float(exp.relevance[p]), 4),
                mentions=int(exp.mentions[p]),
                keywords=tuple(k for j, k in enumerate(profile.keywords) if exp.uses[p, j]),
                zone=zone,
                picked=p in picked,
            )
        )
    at = {r.paper_id: r for r in out}
    band = "top" if profile.band is None else f"{profile.band[0]}-{profile.band[1]}%"
    return Report(
        niche=profile.name,
        keywords=profile.keywords,
        band=band,
        size=size,
        papers=len(index) if rows is None else len(rows),
        explanation=exp,
        rows=tuple(out),
        seed_added=tuple(at[i] for i in exp.seeds.added),
        suggestions=suggestions(exp, profile, size),
        seconds=time.perf_counter() - started,
        made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def suggestions(exp: Explanation, profile: NicheProfile, size: int) -> tuple[str, ...]:
    """What to change, from the figures alone; the most pressing first."""
    tips: list[str] = []
    n = exp.size
    for k in exp.keywords:
        if not k.known:
            tips.append(
                f'No paper uses "{k.phrase}": check its spelling against the abstracts, '
                "shorten it, or drop it."
            )
        elif k.candidates == 0:
            tips.append(f'No paper in this period uses "{k.phrase}": widen --since or drop it.')
    if n == 0:
        tips.append("The pool is empty: use fewer or broader keywords, or import more papers.")
    elif n < size:
        tips.append(
            f"The pool holds only {n} papers for a digest of {size}: add keywords or seeds, "
            "or import more history."
        )
    elif profile.band is not None and len(exp.band) < size:
        lo, hi = profile.band
        tips.append(
            f"The band {lo}-{hi}% holds {len(exp.band)} of the {n} pool papers, fewer than the "
            f"{size} a digest sends: widen it (e.g. [{max(0, lo - 10)}, {min(100, hi + 15)}]) "
            "or add keywords."
        )
    if n > BROAD_POOL:
        tips.append(
            f"The pool holds {n:,} papers, a broad niche: use more specific phrases or exclude a "
            "word that brings in a neighbouring field."
        )
    if len(exp.keywords) > 1 and n:
        top = max(exp.keywords, key=lambda k: k.alone)
        if top.alone > DOMINANT * n:
            tips.append(
                f'"{top.phrase}" alone brings in {top.alone} of the {n} pool papers '
                f"({100 * top.alone / n:.0f}%): make it more specific (a longer phrase) or "
                "exclude what it drags in."
            )
    for k in exp.keywords:
        if k.known and n and 0 < k.candidates and k.pool <= max(1, RARE * n) and k.alone == 0:
            tips.append(
                f'"{k.phrase}" is used by only {k.pool} of the {n} pool papers, none of them '
                "alone: it barely shapes the niche; try the wording abstracts use, or drop it."
            )
    if profile.band is not None and len(exp.band):
        for j, k in enumerate(exp.keywords):
            if k.pool >= max(size, 5) and k.picks == 0:
                middle = float(np.median(np.flatnonzero(exp.uses[:, j]))) * 100 / n
                side = "above" if middle < profile.band[0] else "below"
                if profile.band[0] <= middle < profile.band[1]:
                    continue  # in the band, just not picked this time
                tips.append(
                    f'"{k.phrase}" brings in {k.pool} pool papers but none of the picks: they sit '
                    f"mostly {side} the band (median percentile {middle:.0f}). "
                    + (
                        "Start the band lower if you want them."
                        if side == "above"
                        else "Give the keyword more weight with a seed paper about it."
                    )
                )
    for e in exp.exclusions:
        if not e.known:
            tips.append(f'The exclusion "{e.phrase}" matches no paper: check its spelling.')
        elif e.removed == 0:
            tips.append(f'The exclusion "{e.phrase}" removes nothing from this niche: drop it.')
    for seed in exp.seeds.missing:
        tips.append(
            f"Seed {seed} is not in the store: import or collect it, or it cannot pull in "
            "papers like it."
        )
    return tuple(tips)


def summary(report: Report) -> str:
    """The few lines `midlist tune` prints."""
    exp = report.explanation
    lines = [
        f"{report.niche}: {exp.size:,}-paper pool from {exp.candidates:,} candidates among "
        f"{report.papers:,} papers; band {report.band} = {report.band_span}; "
        f"{len(exp.picks)} picks",
        "keywords: " + "; ".join(_keyword_line(k) for k in exp.keywords),
    ]
    if exp.exclusions:
        lines.append("exclusions: " + "; ".join(_exclusion_line(e) for e in exp.exclusions))
    if exp.seeds.seeds or exp.seeds.missing:
        lines.append(
            f"seeds: {len(exp.seeds.seeds)} found, {len(exp.seeds.missing)} missing; "
            f"they add {len(exp.seeds.added)} pool papers no keyword brings in"
        )
    if report.suggestions:
        lines.append("try next:")
        lines += [f"  - {tip}" for tip in report.suggestions]
    else:
        lines.append("try next: nothing stands out; look at the lists on the page")
    return "\n".join(lines)


def _keyword_line(k: KeywordEffect) -> str:
    if not k.known:
        return f'"{k.phrase}" unused'
    return f'"{k.phrase}" {k.pool} in pool ({k.alone} alone), {k.picks} picks'


def _exclusion_line(e: ExclusionEffect) -> str:
    return f'"{e.phrase}" removed {e.removed} ({e.removed_from_pool} from the pool)'


# ---- the page ---------------------------------------------------------------------------------

_env = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(report: Report, cache_dir: Path | None = None) -> str:
    """The whole page: both charts' specs, the Vega bundle inlined, no external reference."""
    return _env.get_template("tune.html.j2").render(
        r=report,
        pool_spec=pool_chart(report).to_dict(),
        keyword_spec=keyword_chart(report).to_dict(),
        vega_script=vega_bundle(cache_dir),
    )


def vega_bundle(cache_dir: Path | None = None) -> str:
    """vega, vega-lite and vega-embed as one script, the way Altair's inline HTML gets them.

    Bundling takes seconds, so the script is kept in `cache_dir` (beside the index), named by
    the Vega-Lite and vl-convert versions, and made again only when either changes.
    """
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    cached = None
    if cache_dir is not None:
        build = metadata.version("vl-convert-python")
        cached = cache_dir / f"vega-embed-{version}-vl-convert-{build}.js"
        try:
            return cached.read_text(encoding="utf-8")
        except OSError:
            pass
    # The stub marks `snippet` required; without it the bundle sets window.vegaEmbed, as wanted.
    script = str(vl_convert.javascript_bundle(vl_version=version))  # type: ignore[call-arg]
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(script)
            os.replace(tmp, cached)
        except OSError as exc:  # a read-only data dir only costs time
            log.info("cannot cache the Vega script in %s: %s", cache_dir, exc)
    return script


def pool_chart(report: Report) -> alt.LayerChart:
    """Every pool paper a dot, most mainstream on the left; the band shaded; picks ringed."""
    exp = report.explanation
    data = alt.Data(
        values=[
            {
                "percentile": r.percentile,
                "relevance": r.relevance,
                "title": r.title,
                "id": r.paper_id,
                "where": "pick" if r.picked else ZONE_NAMES[r.zone],
                "keywords": ", ".join(r.keywords) or "(seeds only)",
                "mentions": r.mentions,
            }
            for r in report.rows
        ]
    )
    x = alt.X(
        "percentile:Q",
        title="position in the pool, percentile (0 = most mainstream)",
        scale=alt.Scale(domain=[0, 100], nice=False),
        axis=alt.Axis(values=list(range(0, 101, 10))),
    )
    low = min((r.relevance for r in report.rows), default=0.0)
    floor = max(0.0, np.floor(low * 10) / 10 - 0.1)
    y = alt.Y(
        "relevance:Q",
        title="relevance (best = 1)",
        scale=alt.Scale(domain=[floor, 1.04], nice=False),
        axis=alt.Axis(tickCount=6),
    )
    order = ["above the band", "in the band", "below the band", "pick"]
    colour = alt.Color(
        "where:N",
        title=None,
        scale=alt.Scale(
            domain=order,
            range=[COLOURS["above"], COLOURS["band"], COLOURS["below"], COLOURS["pick"]],
        ),
        legend=alt.Legend(orient="top", symbolSize=120, labelFontSize=13),
    )
    shape = alt.Shape(
        "where:N",
        scale=alt.Scale(domain=order, range=["circle", "circle", "circle", "diamond"]),
        legend=None,
    )
    tooltip = [
        alt.Tooltip("title:N"),
        alt.Tooltip("id:N"),
        alt.Tooltip("percentile:Q", format=".1f"),
        alt.Tooltip("relevance:Q", format=".2f"),
        alt.Tooltip("keywords:N"),
        alt.Tooltip("mentions:Q"),
    ]
    size = 70 if exp.size < 300 else 30 if exp.size < 2000 else 12
    dots = (
        alt.Chart(data)
        .mark_point(size=size, opacity=0.85, filled=True)
        .encode(x=x, y=y, color=colour, shape=shape, tooltip=tooltip)
        .transform_filter(alt.datum.where != "pick")
    )
    picks = (
        alt.Chart(data)
        .mark_point(size=220, filled=True, opacity=1, stroke="#3a1208", strokeWidth=1.5)
        .encode(x=x, y=y, color=colour, shape=shape, tooltip=tooltip)
        .transform_filter(alt.datum.where == "pick")
    )
    lo, hi = _band_edges(report)
    shade = alt.Data(values=[{"lo": lo, "hi": hi, "label": f"band {report.band}"}])
    band = alt.Chart(shade).mark_rect(color="#f6d9b5", opacity=0.45).encode(x="lo:Q", x2="hi:Q")
    label = (
        alt.Chart(shade)
        .mark_text(align="left", dx=6, dy=-8, fontSize=13, color="#8a4b0f", fontWeight="bold")
        .encode(x="lo:Q", y=alt.value(HEIGHT), text="label:N")
    )
    return (
        alt.layer(band, label, dots, picks)
        .properties(width="container", height=HEIGHT)
        .configure_axis(labelFontSize=12, titleFontSize=13, titleColor="#44443e", grid=True)
        .configure_view(stroke=None)
    )


def keyword_chart(report: Report) -> alt.Chart:
    """Per keyword: pool papers using it alone and with others, and the picks it explains."""
    values: list[dict[str, Any]] = []
    for k in report.explanation.keywords:
        values.append({"keyword": k.phrase, "what": "alone", "papers": k.alone, "picks": k.picks})
        values.append(
            {"keyword": k.phrase, "what": "with other keywords", "papers": k.shared, "picks": 0}
        )
    bars = (
        alt.Chart(alt.Data(values=values))
        .mark_bar(height=18)
        .encode(
            y=alt.Y("keyword:N", title=None, sort=list(report.keywords)),
            x=alt.X(
                "sum(papers):Q",
                title="pool papers using the keyword",
                axis=alt.Axis(tickCount=6, tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=["alone", "with other keywords"], range=["#e08a2c", "#8c9bb0"]
                ),
                legend=alt.Legend(orient="top", labelFontSize=13),
            ),
            tooltip=["keyword:N", "what:N", "papers:Q"],
        )
    )
    return (
        bars.properties(width="container", height=max(60, 34 * len(report.keywords)))
        .configure_axis(labelFontSize=13, titleFontSize=13, titleColor="#44443e", labelLimit=260)
        .configure_view(stroke=None)
    )


def _band_edges(report: Report) -> tuple[float, float]:
    band = report.explanation.band
    n = report.explanation.size
    if not n or not len(band):
        return 0.0, 0.0
    return 100.0 * band.start / n, 100.0 * band.stop / n
