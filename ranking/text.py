"""Paper -> document text -> terms: the one place that decides what a word is.

Papers and niche keywords go through the same analysis, so a keyword phrase matches a paper's
text exactly when their term sequences agree. A term is:

1. a token: a run of two or more letters, digits or underscores, after folding accents
   (NFKD, combining marks dropped, as sklearn's `strip_accents='unicode'`; LaTeX accents such as
   `L\\'evy` are folded too) and lower-casing, so "Lévy", "Levy" and "L\\'evy" are one word;
2. folded to its stem by the Snowball English stemmer (PyStemmer), after a few irregular
   plurals the stemmer does not know ("matrices", "analyses", "lenses") are made singular;
3. dropped when it is a number, an English stop word (sklearn's list), or an inflection of a stop
   word that is its own stem ("systems" goes with "system", "shows" with "show"). Stop words are
   checked after folding, so "recommender systems" and "recommender system" are the same phrase.

Stems are never shown to a user: `keyword_words` keeps the user's own words beside their terms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import Stemmer

from ranking.stopwords import STOP_WORDS
from sources.models import Paper

__all__ = [
    "DOC_BREAK",
    "STOP_WORDS",
    "chunk_tokens",
    "document",
    "fold",
    "keyword_words",
    "term_of",
    "terms",
    "tokens",
]

_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")
_TABLE = bytes(b if b in _WORD else 0x20 for b in range(256))
DOC_BREAK = b"\x01"  # between documents in a chunk; the only non-word byte the chunk table keeps
_CHUNK_TABLE = bytes(b if b in _WORD or b == DOC_BREAK[0] else 0x20 for b in range(256))
# \'e \"o \^a \`e \~n \=a \.z, optionally braced; \u{g} \v{c} \H{o} \c{c} \k{a} \r{a}
_LATEX_ACCENT = re.compile(r"\{?\\(?:[\'\"^`~=.]\s*|[uvHckr](?:\s+|(?=\{)))\{?\s*([A-Za-z])\s*\}?")
_LATEX_LETTER = re.compile(r"\\(ss|ae|oe|aa|AE|OE|AA|o|O|l|L|i|j)(?![A-Za-z])")
# Plurals the Snowball stemmer leaves apart from their singular.
IRREGULAR = {
    "analyses": "analysis",
    "axes": "axis",
    "bases": "basis",
    "biases": "bias",
    "corpora": "corpus",
    "crises": "crisis",
    "criteria": "criterion",
    "diagnoses": "diagnosis",
    "gases": "gas",
    "hypotheses": "hypothesis",
    "indices": "index",
    "lenses": "lens",
    "matrices": "matrix",
    "phenomena": "phenomenon",
    "simplices": "simplex",
    "statuses": "status",
    "syntheses": "synthesis",
    "theses": "thesis",
    "vertices": "vertex",
}
_local = threading.local()  # a PyStemmer object must not be shared between threads


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def stem(word: str) -> str:
    return str(_stemmer().stemWord(IRREGULAR.get(word, word)))


# Stop words that are their own stem also stop their inflections ("systems", "shows"); a stop
# word whose stem is a content word's ("several" -> "sever", like "severe") stops only itself.
_STOP_STEMS = frozenset(w for w in STOP_WORDS if stem(w) == w)


def document(paper: Paper) -> str:
    """Title and abstract: what a reader judges relevance from (authors would add noise)."""
    return f"{paper.title}\n{paper.abstract}"


def fold(text: str) -> str:
    """Lower-cased text with accents folded and anything else non-ASCII turned into spaces."""
    if "\\" in text:
        text = _LATEX_LETTER.sub(r"\1", _LATEX_ACCENT.sub(r"\1", text))
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
        text = text.encode("ascii", "replace").decode("ascii").replace("?", " ")
    return text.lower()


@lru_cache(maxsize=1 << 18)
def term_of(token: str) -> str | None:
    """A folded token's term (its stem), or None for a number or a stop word."""
    return terms_of([token])[0]


def terms_of(tokens: Sequence[str]) -> list[str | None]:
    """term_of for many distinct tokens at once (one call into the stemmer)."""
    words = [t for t in tokens if t not in STOP_WORDS and not t.isdigit()]
    stems = _stemmer().stemWords([IRREGULAR.get(w, w) for w in words])
    found = {w: s for w, s in zip(words, stems, strict=True) if s not in _STOP_STEMS and len(s) > 1}
    return [found.get(t) for t in tokens]


def tokens(text: str) -> list[str]:
    return [t.decode() for t in fold(text).encode("ascii").translate(_TABLE).split() if len(t) > 1]


def chunk_tokens(docs: Sequence[str]) -> list[bytes]:
    """Raw tokens of many documents in one pass, DOC_BREAK between documents; one-byte tokens
    are left for the caller to drop (cheaper per distinct token than per occurrence)."""
    text = " \x01 ".join(fold(d.replace("\x01", " ")) for d in docs).encode("ascii")
    return text.translate(_CHUNK_TABLE).split()


def terms(text: str) -> list[str]:
    """The term sequence of a text; what n-grams are formed from."""
    out = []
    for token in tokens(text):
        term = term_of(token)
        if term is not None:
            out.append(term)
    return out


_USER_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*|\w+")


def keyword_words(phrase: str) -> list[tuple[str, str]]:
    """(the user's word as typed, its term) for each word of a phrase that has a term."""
    out = []
    for match in _USER_WORD.finditer(phrase):
        word = match.group()
        for term in terms(word):
            out.append((word, term))
    return out
