"""Documents -> (row, feature key, count) triplets: words and two-word phrases as 64-bit keys.

A feature's key is a function of its text alone (a stable hash of the term, or of the two terms
of a bigram), never of the corpus or of the order papers arrived in. That is what lets an index
grow by appending: a phrase that first appears today gets the same key it would have had in a
cold build, and the vocabulary is just "keys seen so far". Word keys are even and bigram keys
odd, so the two never collide; two different features share a key with probability ~n²/2⁶⁴.

Bigrams are formed after stop words are dropped (as sklearn's n-grams are) and never across
documents. Counts are capped at 255 so they fit a byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranking.text import DOC_BREAK, chunk_tokens, keyword_words, terms_of

U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]

_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xC2B2AE3D27D4EB4F)
_ONE = np.uint64(1)
_STOP = -1
_BREAK = -2
MAX_COUNT = 255


def word_key(term: str) -> int:
    """The stable 64-bit key of a word (even)."""
    digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ~1


def bigram_keys(first: U64, second: U64) -> U64:
    """Keys of the bigrams (first[i], second[i]) from their word keys (odd)."""
    with np.errstate(over="ignore"):
        spread = np.bitwise_xor(second, np.right_shift(second, np.uint64(29)))
        mixed: U64 = np.add(np.multiply(first, _MIX_A), np.multiply(spread, _MIX_B))
    return np.bitwise_or(mixed, _ONE)


def phrase_keys(phrase: str) -> tuple[list[int], list[int]]:
    """(the phrase's own features: its word or the bigrams along it, its separate word keys)."""
    words = [word_key(term) for _, term in keyword_words(phrase)]
    if len(words) <= 1:
        return words, words
    arr = np.array(words, dtype=np.uint64)
    return [int(k) for k in bigram_keys(arr[:-1], arr[1:])], sorted(set(words))


@dataclass(frozen=True, slots=True)
class Features:
    """One chunk's features: distinct (row, key) pairs with counts, rows ascending per key."""

    rows: I32
    keys: U64
    counts: U8


class Analyzer:
    """Turns chunks of documents into Features; remembers each distinct token's key."""

    def __init__(self) -> None:
        self._ids: dict[bytes, int] = {DOC_BREAK: _BREAK}  # token -> term id
        self._term_ids: dict[str, int] = {}
        self._keys: list[int] = []  # term id -> word key

    def features(self, docs: Sequence[str]) -> Features:
        flat = chunk_tokens(docs)
        ids = self._ids
        self._resolve(set(flat).difference(ids))
        seq = np.fromiter(map(ids.__getitem__, flat), np.int32, len(flat))
        del flat
        is_break = seq == _BREAK
        doc_of = np.cumsum(is_break, dtype=np.int32).astype(np.int64)
        keep = seq >= 0
        seq, doc_of = seq[keep].astype(np.int64), doc_of[keep]
        n = max(len(docs), 1)
        if not len(seq):
            return Features(np.zeros(0, np.int32), np.zeros(0, np.uint64), np.zeros(0, np.uint8))
        u = len(self._keys)  # term ids are < u: word w -> w, bigram (a, b) -> u + a * u + b
        same = doc_of[:-1] == doc_of[1:]
        packed = np.concatenate(
            [seq * n + doc_of, (u + seq[:-1][same] * u + seq[1:][same]) * n + doc_of[:-1][same]]
        )
        del seq, same
        pairs, counts = np.unique(packed, return_counts=True)  # by feature, then row
        del packed
        feature, rows = np.divmod(pairs, n)
        word_keys = np.array(self._keys, dtype=np.uint64)
        is_word = feature < u
        keys = np.empty(len(feature), dtype=np.uint64)
        keys[is_word] = word_keys[feature[is_word]]
        first, second = np.divmod(feature[~is_word] - u, u)
        keys[~is_word] = bigram_keys(word_keys[first], word_keys[second])
        return Features(
            rows=rows.astype(np.int32),
            keys=keys,
            counts=np.minimum(counts, MAX_COUNT).astype(np.uint8),
        )

    def _resolve(self, new: Iterable[bytes]) -> None:
        raws = list(new)
        for raw, term in zip(raws, terms_of([t.decode() for t in raws]), strict=True):
            if len(raw) < 2 or term is None:
                self._ids[raw] = _STOP
                continue
            found = self._term_ids.get(term)
            if found is None:
                found = self._term_ids[term] = len(self._keys)
                self._keys.append(word_key(term))
            self._ids[raw] = found
