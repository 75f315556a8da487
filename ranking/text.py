"""Paper -> document text -> terms: the one place that decides what a word is.

Papers and niche keywords go through the same analysis, so a keyword phrase matches a
paper's text exactly when their term sequences agree. Terms are lower-cased word tokens,
English stop words dropped (as arxiv-sanity-lite does), plurals folded to the singular by
a light rule, so "auctions" finds "auction" and "recommender systems" finds "recommender
system".
"""

from __future__ import annotations

import re
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from sources.models import Paper

TOKEN = re.compile(r"(?a)\w\w+")  # ASCII word runs: twice as fast as Unicode \b\w\w+\b
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)


def document(paper: Paper) -> str:
    """Title and abstract: what a reader judges relevance from (authors would add noise)."""
    return f"{paper.title}\n{paper.abstract}"


@lru_cache(maxsize=1 << 16)
def term_of(token: str) -> str | None:
    """A lower-cased token's term, or None for a stop word.

    Plural folding is deliberately crude and applied to words only (never numbers, never
    short words, never -ss/-us/-is endings) so it cannot merge unrelated terms often.
    """
    if token in STOP_WORDS or token.isdigit():
        return None
    if len(token) > 4 and token.isalpha():
        if token.endswith("ies"):
            return token[:-3] + "y"
        if token.endswith("s") and not token.endswith(("ss", "us", "is", "ics", "ous")):
            return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """The term sequence of a text; what n-grams are formed from."""
    out = []
    for token in tokens(text):
        term = term_of(token)
        if term is not None:
            out.append(term)
    return out
