"""Paper -> document text -> terms: the one place that decides what a word is.

Papers and niche keywords go through the same analysis, so a keyword phrase matches a
paper's text exactly when their term sequences agree. Terms are lower-cased word tokens,
English stop words dropped (as arxiv-sanity-lite does), plurals folded to the singular by
a light rule, so "auctions" finds "auction" and "recommender systems" finds "recommender
system".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sources.models import Paper

# A token is a run of two or more ASCII letters, digits or underscores (what `(?a)\w\w+` finds).
# It is cut with bytes.translate + split rather than a regex: several times faster, the same tokens.
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")
_TABLE = bytes(b if b in _WORD else 0x20 for b in range(256))
DOC_BREAK = b"\x01"  # between documents in a chunk; the only non-word byte the chunk table keeps
_CHUNK_TABLE = bytes(b if b in _WORD or b == DOC_BREAK[0] else 0x20 for b in range(256))
# sklearn's ENGLISH_STOP_WORDS (a test holds them equal), written out so that a query does not
# pay the second it takes to import sklearn.
STOP_WORDS = frozenset(
    (
        "a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost",
        "alone", "along", "already", "also", "although", "always", "am", "among", "amongst",
        "amoungst", "amount", "an", "and", "another", "any", "anyhow", "anyone", "anything", "anyway",
        "anywhere", "are", "around", "as", "at", "back", "be", "became", "because", "become",
        "becomes", "becoming", "been", "before", "beforehand", "behind", "being", "below", "beside",
        "besides", "between", "beyond", "bill", "both", "bottom", "but", "by", "call", "can",
        "cannot", "cant", "co", "con", "could", "couldnt", "cry", "de", "describe", "detail", "do",
        "done", "down", "due", "during", "each", "eg", "eight", "either", "eleven", "else",
        "elsewhere", "empty", "enough", "etc", "even", "ever", "every", "everyone", "everything",
        "everywhere", "except", "few", "fifteen", "fifty", "fill", "find", "fire", "first", "five",
        "for", "former", "formerly", "forty", "found", "four", "from", "front", "full", "further",
        "get", "give", "go", "had", "has", "hasnt", "have", "he", "hence", "her", "here", "hereafter",
        "hereby", "herein", "hereupon", "hers", "herself", "him", "himself", "his", "how", "however",
        "hundred", "i", "ie", "if", "in", "inc", "indeed", "interest", "into", "is", "it", "its",
        "itself", "keep", "last", "latter", "latterly", "least", "less", "ltd", "made", "many", "may",
        "me", "meanwhile", "might", "mill", "mine", "more", "moreover", "most", "mostly", "move",
        "much", "must", "my", "myself", "name", "namely", "neither", "never", "nevertheless", "next",
        "nine", "no", "nobody", "none", "noone", "nor", "not", "nothing", "now", "nowhere", "of",
        "off", "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise",
        "our", "ours", "ourselves", "out", "over", "own", "part", "per", "perhaps", "please", "put",
        "rather", "re", "same", "see", "seem", "seemed", "seeming", "seems", "serious", "several",
        "she", "should", "show", "side", "since", "sincere", "six", "sixty", "so", "some", "somehow",
        "someone", "something", "sometime", "sometimes", "somewhere", "still", "such", "system",
        "take", "ten", "than", "that", "the", "their", "them", "themselves", "then", "thence",
        "there", "thereafter", "thereby", "therefore", "therein", "thereupon", "these", "they",
        "thick", "thin", "third", "this", "those", "though", "three", "through", "throughout", "thru",
        "thus", "to", "together", "too", "top", "toward", "towards", "twelve", "twenty", "two", "un",
        "under", "until", "up", "upon", "us", "very", "via", "was", "we", "well", "were", "what",
        "whatever", "when", "whence", "whenever", "where", "whereafter", "whereas", "whereby",
        "wherein", "whereupon", "wherever", "whether", "which", "while", "whither", "who", "whoever",
        "whole", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you",
        "your", "yours", "yourself", "yourselves",
    )
)


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
    return [t.decode() for t in text.encode("ascii", "replace").lower().translate(_TABLE).split() if len(t) > 1]


def chunk_tokens(docs: Sequence[str]) -> list[bytes]:
    """Raw tokens of many documents in one pass, DOC_BREAK between documents; one-byte tokens
    are left for the caller to drop (cheaper per distinct token than per occurrence)."""
    text = " \x01 ".join(d.replace("\x01", " ") for d in docs).encode("ascii", "replace").lower()
    return text.translate(_CHUNK_TABLE).split()


def terms(text: str) -> list[str]:
    """The term sequence of a text; what n-grams are formed from."""
    out = []
    for token in tokens(text):
        term = term_of(token)
        if term is not None:
            out.append(term)
    return out
