"""arXiv identifiers: one spelling per paper, so a paper seen five ways is stored once.

New-style ids are `YYMM.NNNN` (2007-2014) or `YYMM.NNNNN` (2015 on); old-style ids keep
their archive (`hep-th/9901001`) and drop the subject class (`math.GT/0309136` is
`math/0309136`). The version suffix is split off: the key never carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[A-Z]{2})?/(?P<num>\d{7}))"
_VERSION = r"(?:v(?P<version>\d+))?"
_MAX_VERSION_DIGITS = 4
ARXIV_ID_RE = re.compile(rf"(?:{_NEW}|{_OLD}){_VERSION}")
_FULL = re.compile(rf"^(?:arxiv:)?(?:{_NEW}|{_OLD}){_VERSION}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ArxivId:
    base: str  # the version-less key
    version: int | None

    def __str__(self) -> str:
        return self.base if self.version is None else f"{self.base}v{self.version}"


def parse_arxiv_id(text: str) -> ArxivId | None:
    """The id in `text` if the whole of it is one arXiv id (with or without `arXiv:`), else None."""
    m = _FULL.match(text.strip())
    if not m:
        return None
    return _from_match(m)


def _from_match(m: re.Match[str]) -> ArxivId | None:
    if m.group("new"):
        base = m.group("new")
        month = int(base[2:4])
        year, digits = int(base[:2]), len(base.split(".")[1])
        # 4-digit numbers ran 0704-1412, 5-digit ones from 1501: anything else is a typo
        if not 1 <= month <= 12 or (digits == 5) != (year >= 15):
            return None
    else:
        base = f"{m.group('archive').lower()}/{m.group('num')}"
    version = m.group("version")
    # arXiv versions run to a few dozen; an absurd `v99999999999…` is noise, not a version.
    number = int(version) if version and len(version) <= _MAX_VERSION_DIGITS else None
    return ArxivId(base, number)


def is_arxiv_key(paper_id: str) -> bool:
    """True for a version-less arXiv key; canonical ids of other papers all carry a colon."""
    return ":" not in paper_id


def paper_url(paper_id: str) -> str:
    """Where a person reads the paper, derived from its key."""
    if "://" in paper_id:
        return paper_id
    if paper_id.startswith("doi:"):
        return f"https://doi.org/{paper_id[4:]}"
    if paper_id.startswith("openreview:"):
        return f"https://openreview.net/forum?id={paper_id[11:]}"
    if ":" in paper_id:
        return ""
    return f"https://arxiv.org/abs/{paper_id}"
