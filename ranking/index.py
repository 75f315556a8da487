"""The TF-IDF index: words and bigrams of title + abstract, persisted and incremental.

Why not `TfidfVectorizer.fit` directly: with n-grams it spends most of its time building and
pruning a Python dict of every n-gram string. Here a document's terms become integer ids once,
and bigrams are integer keys computed with numpy (`a*T + b`), so a cold build of the
74.7k-paper corpus takes a fraction of the time while phrases still match as phrases. The idf
formula is sklearn's `TfidfTransformer` one (smooth idf, sublinear tf, l2 rows; a test holds
them equal); it is computed here so that a query never imports sklearn (a second of start-up).

What is stored is the sublinear term-frequency matrix and each column's document frequency;
idf weighting and l2 normalisation are applied on load. Adding papers therefore updates the
document frequencies too, and an incremental index equals a full rebuild except for n-grams
that only the new papers would have brought into the vocabulary. The vocabulary itself is
fitted on the corpus at build time; `needs_refit` says when the corpus has grown enough
(REFIT_GROWTH) that a rebuild should pick up the new vocabulary.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ranking.text import DOC_BREAK, chunk_tokens, term_of
from ranking.text import terms as phrase_terms

log = logging.getLogger(__name__)

FORMAT = 4
KEY_BASE = 1 << 31  # bigram key = a * KEY_BASE + b: stable while the vocabulary grows
MIN_DF_TERM = 2  # a word seen in one paper only is a typo or a name: no use for matching niches
MIN_DF_NGRAM = 3  # a phrase must recur to be a phrase
SMALL_CORPUS = 500  # below this every word and phrase counts: pruning would leave nothing to match
REFIT_GROWTH = 1.5
REWEIGH_GROWTH = 1.1  # idf moves by at most log(1.1) before every row is weighed again  # refit once the corpus is 50% larger than the one the vocabulary came from
_STOP = -2  # dropped before n-grams are formed (n-grams skip stop words, as sklearn does)
_UNKNOWN = -1  # out of vocabulary: breaks any n-gram through it
_DOC = -3  # the break between two documents of a chunk
TAG_PREFIX = "tag:"  # no text token contains ":", so a tag never collides with a word


class IndexError_(Exception):
    """The stored index cannot be read; rebuilding it from the store fixes this."""


@dataclass
class TfidfIndex:
    terms: list[str]  # word vocabulary, term id = position
    term_cols: np.ndarray  # column of each term id
    bigrams: np.ndarray  # sorted int64 keys a * KEY_BASE + b over term ids
    bigram_cols: np.ndarray  # column of each key
    tf: sp.csr_matrix  # rows = papers, values 1 + log(count)
    df: np.ndarray  # documents containing each column
    ids: list[str]
    dates: np.ndarray  # int64 epoch seconds per row (published, else when indexed)
    fitted_rows: int  # rows the bigram vocabulary was fitted on
    weighted_rows: int = 0  # rows when every row was last weighed with the then idf
    extra: dict[str, str] = field(default_factory=dict)  # opaque to ranking (e.g. watermark)

    # ---- derived ---------------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        return len(self.df)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def term_index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.terms)}

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {pid: i for i, pid in enumerate(self.ids)}

    @cached_property
    def idf(self) -> np.ndarray:
        n = len(self.ids)
        idf = (np.log((1 + n) / (1 + self.df.astype(np.float64))) + 1).astype(np.float32)
        idf[self.tag_columns] = 0  # tags stay out of text similarity; relevance weighs them apart
        return idf

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """l2-normalised tf-idf rows, what similarities are computed on."""
        self.weighted_rows = len(self.ids)
        return _weigh(self.tf, self.idf)

    @cached_property
    def tag_matrix(self) -> sp.csr_matrix:
        """Binary papers x tags (arXiv categories), columns in `tag_columns` order."""
        return (self.tf[:, self.tag_columns] > 0).astype(np.float32).tocsr()

    @cached_property
    def tag_prior(self) -> np.ndarray:
        """Share of papers carrying each tag."""
        return np.asarray(self.tag_matrix.mean(axis=0)).ravel()

    @cached_property
    def tag_columns(self) -> np.ndarray:
        return np.array(
            [
                c
                for t, c in zip(self.terms, self.term_cols.tolist(), strict=True)
                if t.startswith(TAG_PREFIX)
            ],
            dtype=np.int64,
        )

    @cached_property
    def _term_of_column(self) -> dict[int, int]:
        return {int(c): i for i, c in enumerate(self.term_cols.tolist())}

    def needs_refit(self) -> bool:
        return len(self.ids) > REFIT_GROWTH * max(self.fitted_rows, 1)

    def feature_name(self, column: int) -> str:
        term = self._term_of_column.get(column)
        if term is not None:
            return self.terms[term]
        pos = int(np.searchsorted(self.bigram_cols, column))  # bigram columns ascend
        if pos >= len(self.bigram_cols) or self.bigram_cols[pos] != column:
            raise KeyError(column)
        key = int(self.bigrams[pos])
        return f"{self.terms[key // KEY_BASE]} {self.terms[key % KEY_BASE]}"

    def columns_of(self, phrase: str) -> list[int]:
        """The phrase's own features: its word, or every bigram along it; [] if a word is unknown.

        A three-word phrase is matched by its two bigrams, which in practice means the phrase.
        A phrase whose bigram is not in the vocabulary yet (words that only papers added since
        the last fit put together) falls back to requiring all of its words.
        """
        ids = [self.term_index.get(term, _UNKNOWN) for term in phrase_terms(phrase)]
        if not ids or min(ids) < 0:
            return []
        if len(ids) == 1:
            return [int(self.term_cols[ids[0]])]
        seq = np.array(ids, dtype=np.int64)
        keys = seq[:-1] * KEY_BASE + seq[1:]
        pos = np.searchsorted(self.bigrams, keys)
        if (
            len(self.bigrams)
            and pos.max() < len(self.bigrams)
            and np.array_equal(self.bigrams[pos], keys)
        ):
            return [int(c) for c in self.bigram_cols[pos]]
        return sorted({int(self.term_cols[i]) for i in ids})

    def term_columns(self, phrase: str) -> list[int]:
        """The phrase's known single words."""
        found = (self.term_index.get(term) for term in phrase_terms(phrase))
        return sorted({int(self.term_cols[c]) for c in found if c is not None})

    # ---- growth ----------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        docs: Sequence[str],
        dates: Sequence[int],
        tags: Sequence[Sequence[str]] | None = None,
    ) -> int:
        """Index papers with the stored bigram vocabulary; new words get new columns.

        A paper already indexed is replaced. Document frequencies follow, so idf is that of the
        whole corpus; rows already weighed keep their weights until the corpus has grown by
        REWEIGH_GROWTH (or a row is replaced), then every row is weighed again.
        """
        if not ids:
            return 0
        fresh = dict(zip(ids, range(len(ids)), strict=True))  # last copy of an id wins
        order = sorted(fresh.values())
        ids = [ids[i] for i in order]
        docs = [docs[i] for i in order]
        new_dates = np.asarray([dates[i] for i in order], dtype=np.int64)
        new_tags = None if tags is None else [tags[i] for i in order]
        lookup = self.term_index
        grown: list[str] = []

        def resolve(token: str) -> int:
            term = term_of(token)
            if term is None:
                return _STOP
            if term not in lookup:
                lookup[term] = len(self.terms) + len(grown)
                grown.append(term)
            return lookup[term]

        seq, doc_of = _sequence(docs, resolve, new_tags)
        if grown:
            first = self.n_features
            self.terms = self.terms + grown
            self.term_cols = np.concatenate([self.term_cols, np.arange(first, first + len(grown))])
            self.df = np.concatenate([self.df, np.zeros(len(grown), np.int64)])
            self.tf = sp.csr_matrix(
                (self.tf.data, self.tf.indices, self.tf.indptr),
                shape=(len(self.ids), self.n_features),
            )
        tf = _sublinear(_assemble(seq, doc_of, len(docs), self))
        replaced = [pid for pid in ids if pid in self.row_of]
        weighted = self.__dict__.pop("matrix", None)
        if weighted is not None and grown:  # new columns are empty in the old rows
            weighted = sp.csr_matrix(
                (weighted.data, weighted.indices, weighted.indptr), shape=self.tf.shape
            )
        if replaced:
            keep = np.array([pid not in fresh for pid in self.ids], dtype=bool)
            self.df = self.df - _presence(self.tf[~keep], self.n_features)
            self.tf = self.tf[keep]
            self.ids = [pid for pid, k in zip(self.ids, keep, strict=True) if k]
            self.dates = self.dates[keep]
            weighted = None  # a row changed: weigh everything again
        self.df = self.df + _presence(tf, self.n_features)
        self.tf = sp.vstack([self.tf, tf], format="csr")
        self.ids = self.ids + list(ids)
        self.dates = np.concatenate([self.dates, new_dates])
        tag_rows = self.__dict__.get("tag_matrix")
        for name in ("row_of", "idf", "_term_of_column", "tag_matrix", "tag_columns", "tag_prior"):
            self.__dict__.pop(name, None)
        if (
            tag_rows is not None
            and not replaced
            and not any(t.startswith(TAG_PREFIX) for t in grown)
        ):
            new_tags = (tf[:, self.tag_columns] > 0).astype(np.float32)
            self.__dict__["tag_matrix"] = sp.vstack([tag_rows, new_tags], format="csr")
        if weighted is not None and len(self.ids) <= REWEIGH_GROWTH * max(self.weighted_rows, 1):
            # Old rows keep the idf they were weighed with until the corpus grows REWEIGH_GROWTH.
            self.__dict__["matrix"] = sp.vstack([weighted, _weigh(tf, self.idf)], format="csr")
        return len(ids)

    # ---- persistence -----------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write to a sibling temp dir, then swap it in: a reader never sees half an index."""
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".index-", dir=target.parent))
        try:
            # Plain .npy files so a query can map them instead of reading and weighting: the
            # weighted matrix shares its indices with tf, so it costs one more data array.
            np.save(tmp / "indices.npy", self.tf.indices)
            np.save(tmp / "indptr.npy", self.tf.indptr)
            np.save(tmp / "tf.npy", self.tf.data)
            np.save(tmp / "weights.npy", self.matrix.data)
            np.savez(
                tmp / "arrays.npz",
                term_cols=self.term_cols,
                bigrams=self.bigrams,
                bigram_cols=self.bigram_cols,
                df=self.df,
                dates=self.dates,
            )
            (tmp / "meta.json").write_text(json.dumps(self._meta()), encoding="utf-8")
            old = target.with_name(target.name + ".old")
            if old.exists():
                shutil.rmtree(old)
            if target.exists():
                target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _check(self) -> None:
        """Raise ValueError when the parts of a loaded index do not describe the same papers."""
        rows, cols = self.tf.shape
        if not (
            len(self.ids) == len(self.dates) == rows
            and len(self.df) == cols == len(self.terms) + len(self.bigrams)
            and len(self.terms) == len(self.term_cols)
            and len(self.bigrams) == len(self.bigram_cols)
            and len(self.matrix.data) == len(self.tf.data)
        ):
            raise ValueError("its files disagree on the number of papers or features")

    def _meta(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "fitted_rows": self.fitted_rows,
            "weighted_rows": self.weighted_rows,
            "shape": list(self.tf.shape),
            "terms": self.terms,
            "ids": self.ids,
            "extra": self.extra,
        }

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TfidfIndex:
        path = Path(directory)
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("meta.json is not an object")
            if meta.get("format") != FORMAT:
                raise IndexError_(f"{path}: index format {meta.get('format')}, expected {FORMAT}")
            # Read through our own handle: np.load leaks its own when the zip is truncated.
            with open(path / "arrays.npz", "rb") as file, np.load(file) as npz:
                arrays = {name: npz[name] for name in npz.files}
            indices, indptr, tf_data, weights = (
                np.load(path / f"{name}.npy", mmap_mode="r")
                for name in ("indices", "indptr", "tf", "weights")
            )
            shape = tuple(meta["shape"])
            index = cls(
                terms=meta["terms"],
                term_cols=arrays["term_cols"],
                bigrams=arrays["bigrams"],
                bigram_cols=arrays["bigram_cols"],
                tf=sp.csr_matrix((tf_data, indices, indptr), shape=shape),
                df=arrays["df"],
                ids=meta["ids"],
                dates=arrays["dates"],
                fitted_rows=int(meta["fitted_rows"]),
                weighted_rows=int(meta["weighted_rows"]),
                extra=dict(meta.get("extra", {})),
            )
            index.__dict__["matrix"] = sp.csr_matrix((weights, indices, indptr), shape=shape)
            index._check()
            return index
        # EOFError: an empty file (lost on power failure); BadZipFile: a truncated arrays.npz.
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexError_(f"{path}: cannot read the ranking index ({exc})") from exc


def exists(directory: str | os.PathLike[str]) -> bool:
    return (Path(directory) / "meta.json").is_file()


# ---- building --------------------------------------------------------------------------------

_CHUNK = 4096  # documents tokenised at a time: token strings never pile up for the whole corpus


def build(
    ids: Sequence[str],
    docs: Sequence[str],
    dates: Sequence[int],
    tags: Sequence[Sequence[str]] | None = None,
    *,
    min_df: tuple[int, int] = (MIN_DF_TERM, MIN_DF_NGRAM),
) -> TfidfIndex:
    """Fit the vocabulary on these papers and index them.

    Words are kept when at least min_df[0] papers use them, bigrams when min_df[1] do (in a
    corpus of fewer than SMALL_CORPUS papers, all of them are).
    Term ids follow first appearance; compacting them keeps bigram keys in sorted order.
    """
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate ids given to build(); each paper is indexed once")
    vocab: dict[str, int] = {}

    def resolve(token: str) -> int:
        term = term_of(token)
        return _STOP if term is None else vocab.setdefault(term, len(vocab))

    seq, doc_of = _sequence(docs, resolve, tags)
    n, v = len(docs), len(vocab)
    if n < SMALL_CORPUS:
        min_df = (1, 1)
    # Intermediates are dropped as soon as they are used: they, not the result, set peak memory.
    known = seq >= 0
    words = _coo(doc_of[known], seq[known], np.ones(int(known.sum()), np.float32), (n, v))
    del known
    kept_terms = np.flatnonzero(_presence(words, v) >= min_df[0])
    t = len(kept_terms)
    remap = np.full(v + 1, _UNKNOWN, dtype=np.int64)  # remap[-1]: a break stays a break
    remap[kept_terms] = np.arange(t)

    # Distinct (bigram, paper) pairs with their counts, by one integer sort.
    keys, key_doc = _bigram_keys(seq, doc_of, v)
    del seq, doc_of
    width = max(n, 1)
    pairs, pair_counts = _distinct(keys * width + key_doc)
    del keys, key_doc
    pair_docs = (pairs % width).astype(np.int32)
    uniq, key_df = _distinct(pairs // width, presorted=True)
    del pairs
    kept_keys = key_df >= max(min_df[1], min_df[0])  # so both its words are kept words
    take = np.repeat(kept_keys, key_df)
    bigram_rows = pair_docs[take]
    bigram_cols = np.repeat(np.cumsum(kept_keys) - 1 + t, key_df)[take]
    bigram_data = pair_counts[take].astype(np.float32)
    del pair_docs, pair_counts, take
    chosen = uniq[kept_keys]
    bigrams = remap[chosen // max(v, 1)] * KEY_BASE + remap[chosen % max(v, 1)]

    word_rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(words.indptr))
    word_cols = remap[words.indices]
    keep = word_cols >= 0
    counts = _coo(
        np.concatenate([word_rows[keep], bigram_rows]),
        np.concatenate([word_cols[keep], bigram_cols]),
        np.concatenate([words.data[keep], bigram_data]),
        (n, t + len(bigrams)),
    )
    del words, word_rows, word_cols, keep, bigram_rows, bigram_cols, bigram_data
    names = list(vocab)
    tf = _sublinear(counts)
    return TfidfIndex(
        terms=[names[i] for i in kept_terms],
        term_cols=np.arange(t, dtype=np.int64),
        bigrams=bigrams.astype(np.int64),
        bigram_cols=np.arange(t, t + len(bigrams), dtype=np.int64),
        tf=tf,
        df=_presence(tf, tf.shape[1]),
        ids=list(ids),
        dates=np.asarray(dates, dtype=np.int64),
        fitted_rows=n,
    )


def _sequence(
    docs: Sequence[str], resolve: Callable[[str], int], tags: Sequence[Sequence[str]] | None
) -> tuple[np.ndarray, np.ndarray]:
    """All documents' term ids in one flat array, and the document each belongs to.

    Each distinct token is resolved once; stop words are dropped here, unknown words stay as
    _UNKNOWN so that no bigram is formed across them. Tags (arXiv categories) follow the text
    as `tag:cs.ro` terms, each behind a break so they never form bigrams.
    """
    cache: dict[bytes, int] = {DOC_BREAK: _DOC}
    seqs, docs_of = [], []
    for start in range(0, len(docs), _CHUNK):
        flat = chunk_tokens(docs[start : start + _CHUNK])
        for token in sorted(set(flat).difference(cache)):
            cache[token] = resolve(token.decode()) if len(token) > 1 else _STOP
        seq = np.fromiter(map(cache.__getitem__, flat), np.int32, len(flat))
        is_break = seq == _DOC
        doc_of = (np.cumsum(is_break, dtype=np.int32) + start).astype(np.int32)
        keep = ~is_break & (seq != _STOP)
        seq, doc_of = seq[keep], doc_of[keep]
        if tags is not None:
            seq, doc_of = _with_tags(seq, doc_of, tags[start : start + _CHUNK], start, resolve)
        seqs.append(seq)
        docs_of.append(doc_of)
    if not seqs:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(seqs), np.concatenate(docs_of)


def _with_tags(
    seq: np.ndarray,
    doc_of: np.ndarray,
    tags: Sequence[Sequence[str]],
    start: int,
    resolve: Callable[[str], int],
) -> tuple[np.ndarray, np.ndarray]:
    """Insert each document's tags, each after a break, at the end of its terms."""
    ids, docs = [], []
    for i, extra in enumerate(tags):
        for tag in extra:
            ids += [_UNKNOWN, resolve(TAG_PREFIX + tag.lower())]
            docs += [start + i, start + i]
    if not ids:
        return seq, doc_of
    where = np.searchsorted(doc_of, np.array(docs, dtype=np.int32), side="right")
    return np.insert(seq, where, np.array(ids, dtype=np.int32)), np.insert(doc_of, where, docs)


def _bigram_keys(seq: np.ndarray, doc_of: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Key a*T + b for every adjacent pair of known terms within one document."""
    pair = (seq[:-1] >= 0) & (seq[1:] >= 0) & (doc_of[:-1] == doc_of[1:])
    first = seq[:-1][pair].astype(np.int64)
    return first * t + seq[1:][pair], doc_of[:-1][pair].astype(np.int64)


def _distinct(values: np.ndarray, presorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and their counts. (np.unique hashes large integer arrays in
    numpy 2.x, which is several times slower than one sort.)"""
    ordered = values if presorted else np.sort(values)
    if not len(ordered):
        return ordered, np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def _coo(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    out = sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float32)
    out.sum_duplicates()
    return out


def _assemble(seq: np.ndarray, doc_of: np.ndarray, n: int, index: TfidfIndex) -> sp.csr_matrix:
    """Counts per (paper, column) for known words and known bigrams."""
    known = seq >= 0
    keys, key_doc = _bigram_keys(seq, doc_of, KEY_BASE)
    rows, cols = [doc_of[known]], [index.term_cols[seq[known]]]
    if len(index.bigrams) and len(keys):
        pos = np.searchsorted(index.bigrams, keys)
        pos[pos == len(index.bigrams)] = 0
        hit = index.bigrams[pos] == keys
        rows.append(key_doc[hit])
        cols.append(index.bigram_cols[pos[hit]])
    rows_, cols_ = np.concatenate(rows), np.concatenate(cols)
    return _coo(rows_, cols_, np.ones(len(rows_), np.float32), (n, index.n_features))


def _weigh(tf: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """tf * idf with l2-normalised rows (sklearn's TfidfTransformer, computed without it)."""
    data = tf.data * idf[tf.indices]
    lengths = np.diff(tf.indptr)
    sums = np.zeros(len(lengths))
    filled = lengths > 0
    if len(data):
        sums[filled] = np.add.reduceat(np.square(data, dtype=np.float64), tf.indptr[:-1][filled])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1
    data /= np.repeat(norms.astype(np.float32), lengths)
    return sp.csr_matrix((data, tf.indices, tf.indptr), shape=tf.shape)


def _sublinear(counts: sp.csr_matrix) -> sp.csr_matrix:
    tf = counts.astype(np.float32, copy=True)
    np.log(tf.data, out=tf.data)
    tf.data += 1
    return tf


def _presence(matrix: sp.csr_matrix, m: int) -> np.ndarray:
    return np.bincount(matrix.indices, minlength=m).astype(np.int64)
