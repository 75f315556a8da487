"""Paper links in free text: find them, key them, keep the words around them.

Pure functions, no network. Comments and blog posts cite papers in many spellings (arXiv
abs/pdf/html pages and their mirrors, bare `arXiv:` ids, OpenReview, DOIs, ACL Anthology,
proceedings pages, direct PDFs); each is reduced to the one key DESIGN.md's "Identity"
section defines, so a paper cited five ways is stored once and counted once per comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit, urlunsplit

from sources.html import html_text
from sources.ids import ARXIV_ID_RE, is_arxiv_key, parse_arxiv_id


@dataclass(frozen=True, slots=True)
class FoundLink:
    """One paper cited in a text."""

    paper_id: str  # version-less arXiv id, `doi:...`, `openreview:...` or a normalised URL
    url: str  # where a person reads it
    text: str | None  # the link's own words (`[text](url)`, `<a>text</a>`) when it had any
    context: str  # the sentence-ish window around the citation

    @property
    def is_arxiv(self) -> bool:
        return is_arxiv_key(self.paper_id)


# ---- canonical ids for URLs -----------------------------------------------------------------

_ARXIV_HOSTS = {
    "arxiv.org",
    "export.arxiv.org",
    "browse.arxiv.org",
    "ar5iv.org",
    "ar5iv.labs.arxiv.org",
    "alphaxiv.org",
    "huggingface.co",
}
_ARXIV_VIEWS = {"abs", "pdf", "html", "format", "ps", "overview", "papers", "src"}
_DOI_RE = re.compile(r"10\.\d{4,9}/[^\s\"'<>]+", re.IGNORECASE)
_DOI_IN_PATH = re.compile(r"/(?:doi|content)/(?:abs/|full/|pdf/|epdf/|book/)?(10\.\d{4,9}/.+)$")
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_NEURIPS = re.compile(
    r"^/(?:paper_files/)?paper/(?P<year>\d{4})/(?:hash|file)/(?P<hash>[0-9a-f]{32})"
    r"-(?:Abstract|Paper|Supplemental|Reviews|Metadata)(?P<track>-[\w_]+)?\.(?:html|pdf|zip|json)$"
)
_PMLR = re.compile(
    r"^/(?P<volume>v\d+)/(?P<key>[\w-]+?)(?:/(?P=key)(?:-supp)?\.pdf|\.html|\.pdf)?/?$"
)
_ACL = re.compile(
    r"^/(?:anthology/)?(?P<key>[A-Z]\d{2}-\d{4}|\d{4}\.[a-z0-9-]+\.\d+)(?:\.pdf|\.bib)?/?$"
)
_RXIV = re.compile(
    r"^/(?:cgi/)?content/(?:short/|abstract/|full/|10\.1101/)?(?P<key>(?:\d{4}\.\d{2}\.\d{2}\.)?\d{6,})(?:v\d+)?"
)
_S2 = re.compile(r"^/paper/(?:[^/]+/)?(?P<hash>[0-9a-f]{40})/?$")
_TRACKING = ("utm_", "ref", "source", "fbclid", "gclid")


def canonical(url: str) -> tuple[str, str] | None:
    """(paper id, reading URL) for a URL that names a paper, else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises for a port out of range or not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    path = unquote(parts.path)

    if host in _ARXIV_HOSTS:
        return _arxiv_url(host, path)
    if host == "openreview.net" and path.rstrip("/") in ("/forum", "/pdf"):
        forum = parse_qs(parts.query).get("id", [""])[0].strip()
        if not re.fullmatch(r"[\w-]+", forum):
            return None
        return f"openreview:{forum}", f"https://openreview.net/forum?id={forum}"
    if host in ("doi.org", "dx.doi.org"):
        return doi_key(path.lstrip("/"))
    if host == "aclanthology.org" and (m := _ACL.match(path)):
        return _same(f"https://aclanthology.org/{m['key']}/")
    if host == "proceedings.neurips.cc" and (m := _NEURIPS.match(path)):
        track = m["track"] or ""
        return _same(
            f"https://proceedings.neurips.cc/paper_files/paper/{m['year']}/hash/"
            f"{m['hash']}-Abstract{track}.html"
        )
    if host == "proceedings.mlr.press" and (m := _PMLR.match(path)):
        return _same(f"https://proceedings.mlr.press/{m['volume']}/{m['key']}.html")
    if host == "semanticscholar.org" and (m := _S2.match(path)):
        return _same(f"https://www.semanticscholar.org/paper/{m['hash']}")
    if host in ("biorxiv.org", "medrxiv.org") and (m := _RXIV.match(path)):
        return doi_key(f"10.1101/{m['key']}")
    if m := _DOI_IN_PATH.search(path):
        found = doi_key(re.sub(r"v\d+(?:\.full)?(?:\.pdf)?$", "", m.group(1)))
        if found:
            return found
    if path.lower().endswith(".pdf"):
        return _same(_normalise(parts, host, port))
    return None


def doi_key(doi: str) -> tuple[str, str] | None:
    """`doi:<lower-cased>` for a DOI; arXiv's own DOIs (10.48550/arXiv.*) map to the arXiv id."""
    doi = unquote(doi).strip().rstrip(".,;:)]}>\"'")
    if not _DOI_RE.fullmatch(doi):
        return None
    if (m := _ARXIV_DOI.match(doi)) and (parsed := parse_arxiv_id(m.group(1))):
        return parsed.base, arxiv_url(parsed.base)
    key = doi.lower()
    return f"doi:{key}", f"https://doi.org/{key}"


def arxiv_url(key: str) -> str:
    return f"https://arxiv.org/abs/{key}"


def _arxiv_url(host: str, path: str) -> tuple[str, str] | None:
    segments = [s for s in path.split("/") if s]
    if host == "huggingface.co" and (not segments or segments[0] != "papers"):
        return None
    if segments and segments[0] in _ARXIV_VIEWS:
        segments = segments[1:]
    if not segments:
        return None
    candidate = "/".join(segments[:2]) if len(segments) > 1 else segments[0]
    candidate = re.sub(r"\.pdf$", "", candidate, flags=re.IGNORECASE)
    parsed = parse_arxiv_id(candidate) or parse_arxiv_id(re.sub(r"\.pdf$", "", segments[0]))
    if parsed is None:
        return None
    return parsed.base, arxiv_url(parsed.base)


def _same(url: str) -> tuple[str, str]:
    return url, url


def _normalise(parts: SplitResult, host: str, port: int | None) -> str:
    """https, lower-case host without `www.`, no fragment, no tracking parameters."""
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not pair.lower().startswith(_TRACKING)
    )
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(("https", netloc, parts.path, query, ""))


# ---- finding links in text ------------------------------------------------------------------

_MD_LINK = re.compile(  # [text](url "title"); the URL may hold one level of parentheses
    r"\[(?P<text>(?:\\.|[^\]\\]){0,500})\]"
    r"\(\s*<?(?P<url>[^\s)>]+(?:\([^\s)]*\)[^\s)>]*)*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_URL = re.compile(  # `\_` kept inside: reddit escapes underscores in bare URLs
    r"\b(?:https?://|www\.)[^\s<>\"'`\[\]{}|\\^]+(?:\\_[^\s<>\"'`\[\]{}|\\^]*)*", re.IGNORECASE
)
_BARE_HOST_URL = re.compile(
    r"(?<![\w./@-])(?:arxiv\.org|export\.arxiv\.org|ar5iv\.labs\.arxiv\.org|ar5iv\.org|alphaxiv\.org"
    r"|huggingface\.co/papers|openreview\.net|doi\.org|dx\.doi\.org|aclanthology\.org"
    r"|proceedings\.neurips\.cc|proceedings\.mlr\.press|(?:www\.)?semanticscholar\.org)/[^\s<>\"'`\[\]]+",
    re.IGNORECASE,
)
_OLD_ARCHIVES = (
    "acc-phys|adap-org|alg-geom|ao-sci|astro-ph|atom-ph|bayes-an|chao-dyn|chem-ph|cmp-lg|comp-gas"
    "|cond-mat|cs|dg-ga|funct-an|gr-qc|hep-ex|hep-lat|hep-ph|hep-th|math|math-ph|mtrl-th|nlin"
    "|nucl-ex|nucl-th|patt-sol|physics|plasm-ph|q-alg|q-bio|quant-ph|solv-int|supr-con"
)
_BARE_ID = re.compile(
    rf"(?:\barxiv\s*[:.]?\s*(?P<prefixed>{ARXIV_ID_RE.pattern})"
    rf"|(?<![\w./-])(?P<bare_old>(?:{_OLD_ARCHIVES})(?:\.[A-Z]{{2}})?/\d{{7}}(?:v\d+)?))(?![\w/])",
    re.IGNORECASE,
)
_BARE_DOI = re.compile(r"(?<![\w/.])(?:doi:\s*)?(10\.\d{4,9}/[^\s\"'<>\[\]]+)", re.IGNORECASE)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!~|>])")
_TRAILING = ".,;:!?'\"*_>"
_CONTEXT_CHARS = 280


def find_links(text: str, *, html: bool = False, base_url: str = "") -> list[FoundLink]:
    """Every paper cited in `text` (markdown or plain, or HTML when `html`), once per paper.

    Relative links in HTML resolve against `base_url`. The order is the order of first
    citation; `context` is the sentence around the first citation.
    """
    if html:
        plain, anchors = html_text(text, base_url)
    else:
        plain, anchors = _markdown_text(text)
    found: dict[str, FoundLink] = {}

    def add(url_or_key: tuple[str, str] | None, label: str | None, start: int, end: int) -> None:
        if url_or_key is None or url_or_key[0] in found:
            return
        paper_id, url = url_or_key
        label = _clean_label(label, url)
        found[paper_id] = FoundLink(paper_id, url, label, _context(plain, start, end))

    spans: list[tuple[int, int, tuple[str, str] | None, str | None]] = []
    for href, label, start, end in anchors:
        spans.append((start, end, canonical(href), label))
    masked = plain  # each pass blanks what it found, so a URL's digits are not read again as an id
    for pattern in (_URL, _BARE_HOST_URL):
        hits = []
        for m in pattern.finditer(masked):
            raw = _strip_trailing(m.group(0))
            url = raw.replace("\\_", "_")
            url = url if url.lower().startswith("http") else f"https://{url}"
            hits.append((m.start(), m.start() + len(raw)))
            spans.append((m.start(), m.start() + len(raw), canonical(url), None))
        masked = _blank(masked, hits)
    hits = []
    for m in _BARE_ID.finditer(masked):
        parsed = parse_arxiv_id(m.group("prefixed") or m.group("bare_old"))
        hits.append((m.start(), m.end()))
        spans.append(
            (m.start(), m.end(), (parsed.base, arxiv_url(parsed.base)) if parsed else None, None)
        )
    for m in _BARE_DOI.finditer(_blank(masked, hits)):
        spans.append((m.start(1), m.end(1), doi_key(_trim(m.group(1))), None))
    for span_start, span_end, key, link_text in sorted(spans, key=lambda s: s[0]):
        add(key, link_text, span_start, span_end)
    return list(found.values())


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _trim(url: str) -> str:
    return _strip_trailing(url).replace("\\_", "_")


def _strip_trailing(url: str) -> str:
    """Drop sentence punctuation a URL was written next to; keep balanced parentheses and an
    escaped trailing underscore (reddit writes `id=abc_` as `id=abc\\_`)."""
    while url and not url.endswith("\\_"):
        if url[-1] in _TRAILING:
            url = url[:-1]
        elif url[-1] == ")" and url.count("(") < url.count(")"):
            url = url[:-1]
        else:
            break
    return url


def _unescape(text: str) -> str:
    """Markdown escapes removed outside URLs; inside them `_trim` reads `\\_` itself."""
    out, pos = [], 0
    for m in _URL.finditer(text):
        out.append(_MD_ESCAPE.sub(r"\1", text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_MD_ESCAPE.sub(r"\1", text[pos:]))
    return "".join(out)


def _clean_label(label: str | None, url: str) -> str | None:
    if not label:
        return None
    label = " ".join(label.split()).strip(" :-")
    low = label.lower()
    if (
        not label
        or "://" in label
        or low.startswith(("www.", "arxiv.org"))
        or parse_arxiv_id(label)
    ):
        return None
    if low in {"here", "link", "paper", "pdf", "this", "this paper", "arxiv", "abs", "code"}:
        return None
    return label[:300]


def _context(plain: str, start: int, end: int) -> str:
    """The sentence around [start, end): back to the previous sentence end, on to the next."""
    left = max(plain.rfind("\n", 0, start), _last_sentence_end(plain, start))
    right_candidates = [
        i for i in (plain.find("\n", end), _next_sentence_end(plain, end)) if i >= 0
    ]
    right = min(right_candidates) if right_candidates else len(plain)
    window = " ".join(plain[left + 1 : right + 1].replace("\\_", "_").split())
    if len(window) > _CONTEXT_CHARS:
        mid = (start - left) * len(window) // max(1, right - left)
        lo = max(0, min(mid - _CONTEXT_CHARS // 2, len(window) - _CONTEXT_CHARS))
        window = ("…" if lo else "") + window[lo : lo + _CONTEXT_CHARS].strip() + "…"
    return window


_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def _last_sentence_end(plain: str, before: int) -> int:
    last = -1
    for m in _SENTENCE_END.finditer(plain, max(0, before - 600), before):
        last = m.start()
    return last


def _next_sentence_end(plain: str, after: int) -> int:
    m = _SENTENCE_END.search(plain, after)
    return m.start() if m else -1


def _markdown_text(text: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    """Plain text with `[label](url)` replaced by its label, and the links with their spans."""
    out: list[str] = []
    anchors: list[tuple[str, str, int, int]] = []
    pos = 0
    length = 0
    for m in _MD_LINK.finditer(text):
        chunk = _unescape(text[pos : m.start()])
        out.append(chunk)
        length += len(chunk)
        label = _MD_ESCAPE.sub(r"\1", m.group("text"))
        url = _MD_ESCAPE.sub(r"\1", _trim(m.group("url")))
        if not url.lower().startswith(("http://", "https://")):
            url = f"https://{url}"
        anchors.append((url, label, length, length + len(label)))
        out.append(label)
        length += len(label)
        pos = m.end()
    out.append(_unescape(text[pos:]))
    return "".join(out), anchors
