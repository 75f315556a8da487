"""`midlist tune`: the real ranker over a small store, the page it writes, and that page in
headless Chromium with the network cut off."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.config import load_settings
from bot.rank import profile_for
from bot.store import Store
from bot.tune import build_report, done_with, suggestions
from bot.tune_page import pool_chart, render_page
from ranking import NicheProfile
from sources.models import Mention, Paper
from tests.browser import run_chromium
from tests.conftest import CliRun, ConfigFile, run_cli
from tests.ranking.corpus import topic_papers

NICHE = {
    "name": "ssm",
    "keywords": ["selective scan", "linear recurrence", "quantum widget"],
    "exclude": ["tactile"],
    "seeds": ["2409.99999"],
    "size": 4,
}
HOSTILE = "2501.39999"


@pytest.fixture
def config(tmp_path: Path, config_file: ConfigFile) -> Path:
    path = config_file(niches=[NICHE])
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    papers = topic_papers("ssm", 60) + topic_papers("robot", 20) + topic_papers("auction", 20)
    papers.append(
        Paper(
            id=HOSTILE,
            title="</script><script>alert(1)</script> selective scan <img src=x onerror=alert(2)>",
            abstract=topic_papers("ssm", 1)[0].abstract + " A linear recurrence, a selective scan.",
        )
    )
    store.papers.upsert(
        [
            replace(p, published=datetime(2025, 1, 1 + i % 28, tzinfo=UTC))
            for i, p in enumerate(papers)
        ]
    )
    store.papers.add_mentions(
        [
            Mention("2501.30011", "reddit", f"c-{w}", where="https://reddit.com/r/x", who=w)
            for w in ("ann", "bob", "cy")
        ]
    )
    store.close()
    return path


def tune(config: Path, *args: str) -> CliRun:
    return run_cli(config, "tune", *args)


def test_tune_writes_the_page_beside_the_config_and_prints_a_summary(config: Path) -> None:
    code, out = tune(config, "ssm")
    assert code == 0, out
    page = config.parent / "ssm.html"
    assert f"wrote {page}" in out
    first = out.splitlines()[0]
    assert re.fullmatch(
        r"ssm: \d+-paper pool from \d+ candidates among 101 papers; "
        r"band 15-40% = positions \d+-\d+ \(\d+ papers\); 4 picks",
        first,
    ), first
    assert '"quantum widget" unused' in out
    assert '"selective scan" ' in out and " in pool (" in out
    assert 'exclusions: "tactile" removed 0 (0 from the pool)' in out
    assert "seeds: 0 found, 1 missing" in out
    assert '- No paper uses "quantum widget"' in out
    assert "- Seed 2409.99999 is not in the store" in out
    assert '- The exclusion "tactile" removes nothing from this niche' in out
    text = page.read_text(encoding="utf-8")
    assert "The band&#39;s picks" in text and "What to try next" in text


def test_tune_takes_keywords_an_output_path_and_a_band(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "mine.html"
    code, out = tune(config, "auction mechanism, truthful", "-o", str(target), "--band", "top")
    assert code == 0, out
    assert target.exists() and out.startswith("query: ")
    assert "band top = positions 1-" in out


def test_tune_since_looks_at_fewer_papers(config: Path) -> None:
    code, out = tune(config, "ssm", "--since", "2025-01-15")
    assert code == 0, out
    looked = int(re.search(r"among (\d+) papers", out).group(1))  # type: ignore[union-attr]
    assert 0 < looked < 101


def test_papers_the_user_is_done_with_are_not_picked_again(config: Path) -> None:
    settings = load_settings(config)
    store = Store(settings.storage.url)
    try:
        profile = profile_for(settings.niches[0], store)
        before = build_report(settings, store, profile, size=4)
        first = before.picks[0].paper_id
        store.queue.mark("ssm", first, "skipped")
        done = done_with(store, "ssm", [])
        after = build_report(
            settings, store, profile_for(settings.niches[0], store), size=4, exclude_ids=done
        )
    finally:
        store.close()
    assert done == (first,)
    assert first in after.explanation.ids  # still in the pool, drawn on the chart
    assert first not in [r.paper_id for r in after.picks] and len(after.picks) == 4


def test_tune_without_papers_says_what_to_do(config_file: ConfigFile) -> None:
    path = config_file(niches=[NICHE])
    code, out = tune(path, "ssm")
    assert code == 1
    assert "no papers in the store yet: load some with `midlist import FILE`" in out


def _report(config: Path, profile: NicheProfile | None = None, size: int = 4):  # type: ignore[no-untyped-def]
    settings = load_settings(config)
    store = Store(settings.storage.url)
    try:
        profile = profile or profile_for(settings.niches[0], store)
        return build_report(settings, store, profile, size=size)
    finally:
        store.close()


def test_the_three_lists_sit_around_the_band(config: Path) -> None:
    report = _report(config)
    band = report.explanation.band
    assert [r.position for r in report.above] == list(range(max(0, band.start - 5), band.start))
    assert [r.position for r in report.fringe] == list(range(band.stop, band.stop + 5))
    assert len(report.picks) == 4 and all(r.picked for r in report.picks)
    assert report.rows[0].paper_id == "2501.30011"  # discussed by three people: the mainstream


def test_suggestions_come_from_the_figures(config: Path) -> None:
    one = _report(config, NicheProfile("broad", ("selective scan", "auction")), size=30)
    tips = " ".join(one.suggestions)
    assert "fewer than the 30 a digest sends" in tips or "for a digest of 30" in tips
    dominant = _report(config, NicheProfile("ssm", ("selective scan", "auction")), size=3)
    share = max(k.alone for k in dominant.explanation.keywords) / dominant.explanation.size
    expected = '"selective scan" alone brings in'
    assert (expected in " ".join(dominant.suggestions)) == (share > 0.5)
    fine = _report(config, NicheProfile("ssm", ("selective scan", "linear recurrence")), size=2)
    assert suggestions(fine.explanation, NicheProfile("ssm", fine.keywords), 2) == ()


class _External(HTMLParser):
    """Every URL the page would load by itself (scripts, styles, images, frames, fonts)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for attr in ("src", "srcset", "data", "poster"):
            if found.get(attr):
                self.loads.append(f"{tag} {attr}={found[attr]}")
        if tag == "link" and found.get("href"):
            self.loads.append(f"link href={found['href']}")


def test_the_page_loads_nothing_from_elsewhere_and_escapes_titles(config: Path) -> None:
    page = render_page(_report(config))
    parser = _External()
    parser.feed(page)
    assert parser.loads == [] and parser.scripts == 2
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page)
    # hovering a paper's mark shows its title
    spec = pool_chart(_report(config)).to_dict()
    tips = [t["field"] for layer in spec["layer"] for t in layer["encoding"].get("tooltip", [])]
    assert "title" in tips and "id" in tips
    # a hostile title is data in the chart's JSON (and text in a list), never markup
    assert "<img src=x" not in page and "</script><script>alert" not in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page


def _shade_and_ink(png: Path) -> tuple[int, int]:
    """Pixels of the band's shading, and of the orange band marks and keyword bars."""
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int32)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    shade = (abs(r - 250) <= 4) & (abs(g - 237) <= 6) & (abs(b - 221) <= 8)
    ink = (r > 190) & (g >= 110) & (g <= 165) & (b < 90)
    return int(shade.sum()), int(ink.sum())


@pytest.mark.browser
def test_the_page_draws_its_charts_in_chromium_with_the_network_off(
    config: Path, tmp_path: Path
) -> None:
    report = _report(config)
    page = tmp_path / "tune.html"
    page.write_text(render_page(report), encoding="utf-8")
    offline = "--host-resolver-rules=MAP * ~NOTFOUND"
    wait = "--virtual-time-budget=10000"
    dom = run_chromium(tmp_path, offline, wait, "--dump-dom", page.as_uri(), window="1100,2400")
    # Vega drew one SVG symbol per pool paper: the circles plus the pick diamonds
    pool_svg = dom.stdout.split('id="pool-chart"')[1].split('id="keyword-chart"')[0]
    assert pool_svg.count("<svg") == 1
    symbols = re.findall(r'<path[^>]*aria-roledescription="(?:circle|point)"', pool_svg)
    assert len(symbols) == report.explanation.size
    bars = dom.stdout.split('id="keyword-chart"')[1]
    assert len(re.findall(r'aria-roledescription="bar"', bars)) >= 2

    shot = tmp_path / "tune.png"
    run_chromium(tmp_path, offline, wait, f"--screenshot={shot}", page.as_uri(), window="1100,2400")
    blank = tmp_path / "blank.html"
    blank.write_text(page.read_text(encoding="utf-8").replace("vegaEmbed(", "void("), "utf-8")
    blank_shot = tmp_path / "blank.png"
    run_chromium(
        tmp_path, offline, wait, f"--screenshot={blank_shot}", blank.as_uri(), window="1100,2400"
    )
    shade, ink = _shade_and_ink(shot)
    blank_shade, blank_ink = _shade_and_ink(blank_shot)
    print(f"shade {shade} ink {ink}; without the charts: shade {blank_shade} ink {blank_ink}")
    assert blank_shade < 500 and blank_ink < 100  # few other pixels share these colours
    assert shade > 20_000 + blank_shade  # the band stripe: a quarter of a 900 x 340 plot
    assert ink > 300 + blank_ink  # band dots and "alone" bars
