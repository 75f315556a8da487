"""The `midlist tune` page: one self-contained HTML file that draws a niche's pool and band.

`render_page` draws the pool and the keywords with Vega-Altair and inlines the Vega JavaScript
(bundled by vl-convert, as Altair's own inline HTML does), so the page opens from disk with no
network. The rest of the page is the Jinja2 template `templates/tune.html.j2` (autoescaped;
the chart specs go in through `tojson`, so a title cannot end the script).
"""

from __future__ import annotations

import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.tune import Report

log = logging.getLogger(__name__)

HEIGHT = 340  # of the pool chart's plot, in pixels
COLOURS = {"above": "#8c9bb0", "band": "#e08a2c", "below": "#c4c4bc", "pick": "#b23a1e"}
ZONE_NAMES = {"above": "above the band", "band": "in the band", "below": "below the band"}

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
