"""One line of the Kaggle `arxiv-metadata-oai-snapshot` file -> one Paper.

The snapshot is JSON lines (despite its `.json` name), one object per paper with `id`,
`title`, `authors`, `abstract`, `categories`, `comments`, `doi`, `update_date` and, in the
full dump, `versions` (dated `v1`, `v2`, ...) and `authors_parsed`. Smaller derived files
carry only some of these, so every field but `id` and `title` is optional. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sources.errors import ParseError
from sources.ids import paper_url, parse_arxiv_id
from sources.models import Paper

SOURCE = "import"

_PARENS = re.compile(r"\([^()]*\)")  # affiliations like "(1) MIT" in the authors string
_AND = re.compile(r",|\band\b|&")


def parse_line(line: str | bytes) -> Paper:
    """The paper on one line; raises ParseError whose `reason` says what is wrong with it."""
    try:
        record = json.loads(line)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise ParseError(SOURCE, f"invalid JSON: {_short(exc)}") from exc
    except RecursionError as exc:  # `[[[[...` thousands deep
        raise ParseError(SOURCE, "invalid JSON: nested too deeply") from exc
    if not isinstance(record, dict):
        raise ParseError(SOURCE, f"expected a JSON object, got {type(record).__name__}")
    return paper_from_record(record)


def paper_from_record(record: dict[str, Any]) -> Paper:
    """Map one snapshot record to a Paper keyed by its version-less arXiv id."""
    raw_id = record.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ParseError(SOURCE, "missing 'id'")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise ParseError(SOURCE, f"'id' is not an arXiv id: {raw_id[:60]!r}")
    title = _text(record.get("title"))
    if not title:
        raise ParseError(SOURCE, f"{parsed.base}: missing 'title'")
    try:
        versions = _versions(record.get("versions"))
        listed = _day(record.get("update_date"))
    except (TypeError, ValueError) as exc:
        raise ParseError(SOURCE, f"{parsed.base}: {exc}") from exc
    first = versions[0] if versions else None
    last = versions[-1] if versions else None
    return Paper(
        id=parsed.base,
        title=title,
        abstract=_text(record.get("abstract")),
        authors=_authors(record),
        categories=tuple(str(record.get("categories") or "").split()),
        url=paper_url(parsed.base),
        published=first[1] if first else listed,
        updated=last[1] if last else listed,
        version=last[0] if last else parsed.version,
        doi=_text(record.get("doi")) or None,
        comment=_text(record.get("comments")) or None,
        source=SOURCE,
    )


def _versions(value: Any) -> list[tuple[int, datetime]]:
    """[(number, created)] in version order; [] when the record has none."""
    if not value:
        return []
    if not isinstance(value, list):
        raise TypeError(f"'versions' should be a list, got {type(value).__name__}")
    out = []
    for item in value:
        try:
            number = int(str(item["version"]).lstrip("vV"))
            created = parsedate_to_datetime(item["created"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # `"created": 5`
            raise ValueError(f"bad 'versions' entry {json.dumps(item)[:80]}") from exc
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        out.append((number, created))
    out.sort(key=lambda v: v[0])
    return out


def _day(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(
            f"'update_date' is not a date like 2024-05-01: {str(value)[:40]!r}"
        ) from exc


def _authors(record: dict[str, Any]) -> tuple[str, ...]:
    """`authors_parsed` ([last, first, suffix]) when present: it is clean Unicode, not LaTeX."""
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if isinstance(parts, list) and parts:
                last, first, suffix = (list(map(str, parts)) + ["", ""])[:3]
                name = " ".join(p for p in (first, last, suffix) if p.strip())
                if name:
                    names.append(_text(name))
        if names:
            return tuple(names)
    return split_authors(str(record.get("authors") or ""))


def split_authors(text: str) -> tuple[str, ...]:
    """'A. One, B. Two and C. Three (MIT)' -> ('A. One', 'B. Two', 'C. Three')."""
    while "(" in text:  # nested parentheses: strip the innermost until none are left
        stripped = _PARENS.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return tuple(name for name in (" ".join(p.split()) for p in _AND.split(text)) if name)


def _text(value: Any) -> str:
    """Whitespace-normalised: the snapshot hard-wraps titles and abstracts at ~80 columns."""
    return " ".join(str(value).split()) if value else ""


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120]
