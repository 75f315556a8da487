"""Take the reading queue elsewhere: BibTeX for papers you cite, Anki for papers you want to remember,
Markdown for notes, JSON for scripts.

Every exporter takes queue items and returns text (or, for Anki, writes a package file), so the CLI
decides where output goes. A paper queued in two niches is exported once, under the first niche.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import genanki

from bot import escape
from bot.errors import MidlistError
from bot.store.queue import QueueItem
from sources.ids import paper_url
from sources.models import Paper

FORMATS = ("bibtex", "anki", "markdown", "json")
TEXT_FORMATS = ("bibtex", "markdown", "json")

# Anki keys notes by guid and merges decks and note types by id: all three are derived from stable
# names, so importing a fresh export updates the cards from the last one instead of duplicating them.
_MODEL_ID = int(hashlib.sha1(b"midlist paper card v1").hexdigest()[:8], 16)
_MODEL = genanki.Model(
    _MODEL_ID,
    "midlist paper",
    fields=[{"name": "Title"}, {"name": "Question"}, {"name": "KeyIdea"}, {"name": "Link"}],
    templates=[
        {
            "name": "Recall the key idea",
            "qfmt": "<div class=title>{{Title}}</div><div class=q>{{Question}}</div>",
            "afmt": "{{FrontSide}}<hr id=answer><div>{{KeyIdea}}</div><div class=link>{{Link}}</div>",
        }
    ],
    css=".card{font-family:sans-serif;font-size:18px;text-align:left}"
    ".title{font-weight:bold}.q{margin-top:1em;font-style:italic}.link{margin-top:1em;font-size:14px}",
)
QUESTION = "What problem does this paper address, and what is its key idea?"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_ABBREVIATIONS = re.compile(r"\b(?:e\.g|i\.e|et al|etc|cf|vs|Fig|Eq|Sec|resp)\.$", re.I)
_STOPWORDS = {
    "a",
    "an",
    "the",
    "on",
    "of",
    "for",
    "to",
    "in",
    "and",
    "with",
    "towards",
    "toward",
    "is",
    "are",
}


class ExportError(MidlistError):
    pass


def unique_papers(items: Iterable[QueueItem]) -> list[tuple[str, Paper]]:
    """(niche, paper) once per paper, in the given order."""
    seen: dict[str, tuple[str, Paper]] = {}
    for item in items:
        seen.setdefault(item.paper.id, (item.niche, item.paper))
    return list(seen.values())


def key_idea(abstract: str, sentences: int = 2, limit: int = 400) -> str:
    """The first sentence or two of an abstract: usually the problem and the contribution."""
    text = " ".join(abstract.split())
    parts: list[str] = []
    for piece in _SENTENCE_END.split(text):
        if parts and _ABBREVIATIONS.search(parts[-1]):
            parts[-1] += " " + piece
        else:
            parts.append(piece)
    idea = " ".join(parts[:sentences])
    if len(idea) > limit:
        idea = idea[: limit - 1].rsplit(" ", 1)[0] + "…"
    return idea


# ---- BibTeX ----------------------------------------------------------------------------------


def to_bibtex(items: Iterable[QueueItem]) -> str:
    """@misc entries (no venue is stored, and @article without a journal is invalid)."""
    papers = [paper for _, paper in unique_papers(items)]
    keys = citation_keys(papers)
    return "\n".join(_bib_entry(keys[p.id], p) for p in papers)


def citation_keys(papers: Sequence[Paper]) -> dict[str, str]:
    """author-year-word keys; papers that would share one get their id appended, so a key never
    depends on the order of the export."""
    base = {p.id: _base_key(p) for p in papers}
    taken: dict[str, int] = {}
    for key in base.values():
        taken[key] = taken.get(key, 0) + 1
    return {
        pid: key if taken[key] == 1 else f"{key}_{re.sub(r'[^A-Za-z0-9]+', '', pid)}"
        for pid, key in base.items()
    }


def _base_key(p: Paper) -> str:
    surname = p.authors[0].split()[-1] if p.authors and p.authors[0].split() else "anon"
    year = str(p.published.year) if p.published else ""
    words = [w for w in re.findall(r"[A-Za-z0-9]+", _ascii(p.title).lower()) if w not in _STOPWORDS]
    return re.sub(r"[^a-z0-9]", "", _ascii(surname).lower()) + year + (words[0] if words else "")


def _bib_entry(key: str, p: Paper) -> str:
    """Every value goes through the BibTeX escaper, so no title, DOI or URL can close its field
    and open another."""
    fields: list[tuple[str, str]] = [
        ("title", "{" + escape.bibtex(_one_line(p.title)) + "}"),
        ("author", " and ".join(escape.bibtex(a) for a in p.authors) or "Anonymous"),
    ]
    if p.published:
        fields.append(("year", str(p.published.year)))
        if p.source != "proceedings":  # a proceedings list knows the year only
            fields.append(("month", p.published.strftime("%b").lower()))
    if p.is_arxiv:
        fields += [("eprint", escape.bibtex_verbatim(p.id)), ("archivePrefix", "arXiv")]
        if p.categories:
            fields.append(("primaryClass", escape.bibtex(p.categories[0])))
    if p.doi:
        fields.append(("doi", escape.bibtex_verbatim(p.doi)))
    url = escape.safe_url(p.url or paper_url(p.id))
    if url:
        fields.append(("url", escape.bibtex_verbatim(url)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


# ---- Anki ------------------------------------------------------------------------------------


def write_anki(items: Iterable[QueueItem], path: Path) -> int:
    """One deck per niche (`midlist::<niche>`), one card per paper; returns the number of cards."""
    decks: dict[str, genanki.Deck] = {}
    count = 0
    for niche, paper in unique_papers(items):
        deck = decks.get(niche)
        if deck is None:
            name = f"midlist::{escape.clean(niche, one_line=True)}"
            deck_id = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
            deck = decks[niche] = genanki.Deck(deck_id, name)
        url = _safe_link(paper)
        link = (
            f'<a href="{escape.html(url)}">{escape.html(url)}</a>' if url else escape.html(paper.id)
        )
        deck.add_note(
            genanki.Note(
                model=_MODEL,
                fields=[
                    escape.html(_one_line(paper.title)),
                    escape.html(QUESTION),
                    escape.html(key_idea(paper.abstract) or "(no abstract stored)"),
                    link,
                ],
                guid=genanki.guid_for("midlist", paper.id),
                tags=[re.sub(r"\s+", "_", escape.clean(niche, one_line=True))],
            )
        )
        count += 1
    try:
        genanki.Package(list(decks.values())).write_to_file(str(path))
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the Anki package ({exc.strerror})") from exc
    return count


# ---- Markdown and JSON ---------------------------------------------------------------------


def to_markdown(items: Iterable[QueueItem]) -> str:
    """One heading per niche, one bullet per paper with its key idea quoted below."""
    items = list(items)
    niches = list(dict.fromkeys(i.niche for i in items))
    lines: list[str] = []
    current = None
    seen: set[str] = set()
    for item in sorted(items, key=lambda i: niches.index(i.niche)):
        paper = item.paper
        if paper.id in seen:
            continue
        seen.add(paper.id)
        if item.niche != current:
            lines += ([""] if lines else []) + [f"## {escape.markdown(item.niche)}", ""]
            current = item.niche
        url = _safe_link(paper)
        title = escape.markdown(_one_line(paper.title))
        head = f"[{title}]({url})" if url else title
        who = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        meta = " · ".join(
            x for x in (escape.markdown(who), escape.markdown(paper.id), item.state) if x
        )
        lines.append(f"- {head} — {meta}")
        idea = key_idea(paper.abstract)
        if idea:
            lines.append(f"  > {escape.markdown(idea)}")
    return "\n".join(lines) + "\n"


def to_json(items: Iterable[QueueItem]) -> str:
    out = []
    for item in items:
        p = item.paper
        out.append(
            {
                "id": p.id,
                "niche": item.niche,
                "state": item.state,
                "title": p.title,
                "url": p.url or paper_url(p.id),
                "authors": list(p.authors),
                "categories": list(p.categories),
                "published": p.published.isoformat() if p.published else None,
                "doi": p.doi,
                "abstract": p.abstract,
                "updated_at": item.updated_at.isoformat(),
            }
        )
    return escape.dumps(out) + "\n"


def render(fmt: str, items: Sequence[QueueItem]) -> str:
    """A text format; Anki is binary and goes through write_anki."""
    if fmt == "bibtex":
        return to_bibtex(items)
    if fmt == "markdown":
        return to_markdown(items)
    if fmt == "json":
        return to_json(items)
    raise ExportError(f"unknown text format {fmt!r}; use one of {', '.join(TEXT_FORMATS)}")


def _safe_link(paper: Paper) -> str:
    """An http(s) link for a card or a note: a feed's `javascript:` URL links nowhere."""
    return escape.safe_url(paper.url) or escape.safe_url(paper_url(paper.id))


def _one_line(text: str) -> str:
    return " ".join(escape.clean(text, one_line=True).split())


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
