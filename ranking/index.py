"""The TF-IDF index: words and bigrams of title + abstract, in segments that grow by appending.

What is stored is a function of each paper alone: its features (64-bit keys of its words and
two-word phrases, see ranking.features) with their counts, its date and categories. Document
frequencies are the lengths of the postings lists, and idf (sklearn's smooth idf), sublinear tf
and l2 row norms are computed when rows are read. So a paper added today is weighed exactly as
in a cold build of the same store, a word or phrase first seen today matches at once, and the
same store gives the same index contents whatever order its papers were indexed in (only the
arbitrary column and row numbers differ, and nothing ranks on those).

A query reads only what it needs: the postings of the niche's features (which papers contain
them), then the rows of those candidates. See ranking.segment for the files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ranking import manifest
from ranking.features import Analyzer, phrase_keys, word_key
from ranking.rows import Rows
from ranking.segment import Segment, from_rows, merge, spans, text_hashes
from ranking.text import keyword_words

log = logging.getLogger(__name__)

MERGE_RATIO = 4  # merge the newest segments while the older one is under 4x the newer
MERGE_MAX_ROWS = 250_000  # never rewrite a segment larger than this on a daily add
I64 = npt.NDArray[np.int64]
MIN_DF = (2, 3)  # papers a word, a phrase must appear in to count in a paper's length
SMALL_CORPUS = 500  # below this every word and phrase counts: pruning would leave nothing
SORT_BELOW = 100_000  # row entries below which a query's distinct columns are found by sorting


@dataclass(frozen=True, slots=True)
class Phrase:
    """A keyword phrase's columns: its own features (word or bigrams), its separate words."""

    own: tuple[int, ...]
    words: tuple[int, ...]
    word_names: dict[int, str] = field(default_factory=dict)  # column -> the user's word


@dataclass
class TfidfIndex:
    segments: list[Segment]
    tags: list[str]  # arXiv categories, tag id = position
    dead: list[npt.NDArray[np.int64]]  # per segment, local rows replaced by a later copy
    extra: dict[str, str] = field(default_factory=dict)  # opaque to ranking (e.g. watermark)

    # ---- shape -----------------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        return sum(len(s.vocab_keys) for s in self.segments)

    @property
    def rows_total(self) -> int:
        return sum(len(s) for s in self.segments)

    def __len__(self) -> int:
        return self.rows_total - sum(len(d) for d in self.dead)

    @cached_property
    def bases(self) -> I64:
        return np.concatenate([[0], np.cumsum([len(s) for s in self.segments])]).astype(np.int64)

    @cached_property
    def live(self) -> npt.NDArray[np.bool_]:
        mask = np.ones(self.rows_total, dtype=bool)
        for base, dead in zip(self.bases.tolist(), self.dead, strict=False):
            mask[base + dead] = False
        return mask

    # ---- statistics ------------------------------------------------------------------------

    @property
    def df(self) -> I64:
        """Live papers containing each feature column (the whole vocabulary: for tools, tests)."""
        return self.df_of(np.arange(self.n_features))

    def df_of(self, cols: I64) -> I64:
        """Live papers containing each of the given feature columns (distinct, ascending)."""
        df = np.zeros(len(cols), np.int64)
        for seg in self.segments:
            post_cols = seg.post_cols
            if seg.dense:  # post_cols is 0..k-1: a column's postings are found by position
                inside = cols < len(post_cols)
                at = cols[inside]
                df[inside] += np.asarray(seg.post_ptr[at + 1]) - np.asarray(seg.post_ptr[at])
            elif len(post_cols):
                pos = np.minimum(np.searchsorted(post_cols, cols), len(post_cols) - 1)
                hit = np.asarray(post_cols[pos]) == cols
                starts = np.asarray(seg.post_ptr[pos[hit]])
                df[hit] += np.asarray(seg.post_ptr[pos[hit] + 1]) - starts
        dead_cols, dead_counts = self._dead_df
        if len(dead_cols):
            pos = np.minimum(np.searchsorted(dead_cols, cols), len(dead_cols) - 1)
            hit = dead_cols[pos] == cols
            df[hit] -= dead_counts[pos[hit]]
        return df

    @cached_property
    def _dead_df(self) -> tuple[I64, I64]:
        """Columns of replaced rows and how many replaced rows hold each."""
        parts = [seg.rows(dead)[1] for seg, dead in zip(self.segments, self.dead, strict=True)]
        cols = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        uniq, counts = np.unique(cols, return_counts=True)
        return uniq.astype(np.int64), counts.astype(np.int64)

    def is_bigram(self, cols: I64) -> npt.NDArray[np.bool_]:
        """Whether each feature column (distinct, ascending) is a two-word phrase."""
        out = np.zeros(len(cols), dtype=bool)
        for seg in self.segments:
            keys, seg_cols = seg.vocab_keys, seg.vocab_cols
            if not len(keys):
                continue
            if seg.dense:  # vocab_cols is 0..k-1
                inside = cols < len(keys)
                out[inside] = (np.asarray(keys[cols[inside]]) & np.uint64(1)) > 0
            else:
                order = np.argsort(seg_cols)
                ordered = np.asarray(seg_cols)[order]
                pos = np.minimum(np.searchsorted(ordered, cols), len(ordered) - 1)
                hit = ordered[pos] == cols
                out[hit] = (np.asarray(keys)[order[pos[hit]]] & np.uint64(1)) > 0
        return out

    def weights_of(self, cols: I64) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """(idf, counts toward a row's length) of feature columns (distinct, ascending).

        idf is sklearn's smooth idf, ln((1 + n) / (1 + df)) + 1. In a store of SMALL_CORPUS
        papers or more, a word used by fewer than MIN_DF[0] papers or a phrase by fewer than
        MIN_DF[1] (typos, names, one-off word pairs) still matches a keyword but does not count
        in a paper's length, so it cannot dilute the paper's real topics.
        """
        df = self.df_of(cols)
        idf = np.log((1 + len(self)) / (1 + df.astype(np.float64))) + 1
        if len(self) < SMALL_CORPUS:
            return idf, np.ones(len(cols), dtype=bool)
        return idf, df >= np.where(self.is_bigram(cols), MIN_DF[1], MIN_DF[0])

    @cached_property
    def tag_prior(self) -> npt.NDArray[np.float64]:
        """Share of live papers carrying each tag."""
        counts = np.zeros(len(self.tags), np.float64)
        for seg, dead in zip(self.segments, self.dead, strict=True):
            # every row's tags, then the few replaced rows' taken back: no per-row gather
            counts += np.bincount(np.asarray(seg.tag_ids), minlength=len(self.tags))
            if len(dead):
                counts -= np.bincount(seg.tags_of(dead)[1], minlength=len(self.tags))
        return counts / max(len(self), 1)

    # ---- lookups ---------------------------------------------------------------------------

    def columns(self, keys: Sequence[int]) -> list[int]:
        """Column of each feature key, -1 for a key no paper has had."""
        wanted = np.array(keys, dtype=np.uint64)
        out = np.full(len(wanted), -1, np.int64)
        for seg in self.segments:
            vocab = seg.vocab_keys
            if not len(vocab) or not len(wanted):
                continue
            pos = np.minimum(np.searchsorted(vocab, wanted), len(vocab) - 1)
            hit = np.asarray(vocab[pos]) == wanted
            out[hit] = np.asarray(seg.vocab_cols[pos[hit]])
        return [int(c) for c in out]

    def phrase(self, text: str) -> Phrase:
        """Columns of a keyword phrase; `own` is empty when a word of it is unknown.

        A phrase whose bigram no paper has yet (its words never adjacent) falls back to
        requiring all of its words, so "space state" finds papers with both words.
        """
        own_keys, word_keys = phrase_keys(text)
        own, words = self.columns(own_keys), self.columns(word_keys)

        names: dict[int, str] = {}
        for user_word, term in keyword_words(text):
            col = self.columns([word_key(term)])[0]
            if col >= 0:
                names.setdefault(col, user_word)
        known_words = tuple(sorted({c for c in words if c >= 0}))
        if not own or min(words) < 0:
            return Phrase((), known_words, names)
        if min(own) < 0 or self._empty(own):
            return Phrase(tuple(sorted(set(words))), known_words, names)
        return Phrase(tuple(own), known_words, names)

    def _empty(self, cols: Sequence[int]) -> bool:
        """True when a column has no live paper (its papers were all replaced)."""
        return bool((self.df_of(np.unique(np.array(cols, np.int64))) <= 0).any())

    def postings(self, col: int) -> I64:
        """Live rows holding a feature column, ascending."""
        parts = []
        for base, seg in zip(self.bases.tolist(), self.segments, strict=False):
            local = seg.postings(col)
            if len(local):
                parts.append(local.astype(np.int64) + base)
        if not parts:
            return np.zeros(0, np.int64)
        rows = np.concatenate(parts)
        live: I64 = rows[self.live[rows]]
        return live

    def rows_of(self, ids: Iterable[str]) -> dict[str, int]:
        """Live rows of the ids the index holds."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, int] = {}
        for base, seg in zip(self.bases.tolist(), self.segments, strict=False):
            for pid, local in seg.find(wanted).items():
                if self.live[base + local]:
                    out[pid] = base + local
        return out

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Every live id's row (builds a dict of the whole index: for tools and tests)."""
        rows = np.flatnonzero(self.live)
        return dict(zip(self.ids_of(rows), rows.tolist(), strict=True))

    def ids_of(self, rows: Sequence[int] | I64) -> list[str]:
        rows = np.asarray(rows, dtype=np.int64)
        seg_of = np.searchsorted(self.bases, rows, side="right") - 1
        out: list[str] = [""] * len(rows)
        for s in np.unique(seg_of).tolist():
            at = np.flatnonzero(seg_of == s)
            local = rows[at] - self.bases[s]
            names = np.asarray(self.segments[s].ids)[local]
            for i, name in zip(at.tolist(), names.tolist(), strict=True):
                out[i] = name.decode()
        return out

    def holds(
        self,
        ids: Sequence[str],
        docs: Sequence[str],
        dates: Sequence[int],
        tags: Sequence[Sequence[str]] | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Whether each paper is indexed with exactly this text, date and categories: False for
        a paper the index lacks and for one whose new version (or filled-in abstract) it lacks."""
        wanted = text_hashes(docs, dates, tags)
        found = self.rows_of(ids)
        at = np.array([i for i, pid in enumerate(ids) if pid in found], np.int64)
        rows = np.array([found[ids[i]] for i in at.tolist()], np.int64)
        stored = np.zeros(len(rows), np.uint64)
        for s, where, local in self._by_segment(rows):
            stored[where] = np.asarray(self.segments[s].text_hash)[local]
        out = np.zeros(len(ids), dtype=bool)
        out[at] = stored == wanted[at]
        return out

    def rows_since(self, since: int) -> I64:
        """Live rows dated at or after `since`; a date-sorted segment answers by binary search."""
        parts = []
        for base, seg in zip(self.bases.tolist(), self.segments, strict=False):
            dates = np.asarray(seg.dates)
            if seg.date_sorted:
                start = int(np.searchsorted(dates, since))
                parts.append(np.arange(base + start, base + len(seg), dtype=np.int64))
            else:
                parts.append(np.flatnonzero(dates >= since).astype(np.int64) + base)
        rows = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        live: I64 = rows[self.live[rows]]
        return live

    def sample(self, k: int, exclude: Sequence[int] = ()) -> I64:
        """k live rows chosen by the hash of their ids: a sample that depends only on the store."""
        hashes = np.concatenate([np.asarray(s.id_hash) for s in self.segments])
        candidates = np.flatnonzero(self.live)
        candidates = np.setdiff1d(candidates, np.asarray(exclude, np.int64))
        if len(candidates) <= k:
            return candidates
        h = hashes[candidates]
        chosen = np.argpartition(h, k)[:k]
        return np.sort(candidates[chosen])

    # ---- row vectors -----------------------------------------------------------------------

    def _by_segment(self, rows: I64) -> Iterable[tuple[int, I64, I64]]:
        seg_of = np.searchsorted(self.bases, rows, side="right") - 1
        for s in np.unique(seg_of).tolist():
            at = np.flatnonzero(seg_of == s)
            yield s, at, rows[at] - self.bases[s]

    def vectors(self, rows: Sequence[int] | I64) -> Any:
        """`row_vectors` as a scipy.sparse.csr_matrix (for feedback and tools)."""
        return self.row_vectors(rows).to_scipy()

    def row_vectors(self, rows: Sequence[int] | I64) -> Rows:
        """l2-normalised tf-idf rows (float64), one per given row, columns = feature columns."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = np.zeros(len(rows), np.int64)
        parts: list[tuple[I64, Any, Any, Any]] = []
        for s, at, local in self._by_segment(rows):
            seg_lengths, cols, tf = self.segments[s].rows(local)
            lengths[at] = seg_lengths
            parts.append((at, seg_lengths, cols, tf))
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.zeros(int(indptr[-1]), np.int32)
        data = np.zeros(int(indptr[-1]), np.float64)
        for at, seg_lengths, cols, tf in parts:
            dest = spans(indptr[at], seg_lengths)
            indices[dest] = cols
            data[dest] = tf
        uniq, inverse = _distinct(indices, self.n_features)
        idf, counted = self.weights_of(uniq)
        data *= idf[inverse]
        sums = np.zeros(len(rows))
        filled = lengths > 0
        if len(data):
            length = np.square(data) * counted[inverse]
            sums[filled] = np.add.reduceat(length, indptr[:-1][filled])
        norms = np.sqrt(sums)
        norms[norms == 0] = 1
        data /= np.repeat(norms, lengths)
        return Rows(data, indices, indptr, self.n_features)

    def tag_rows(self, rows: Sequence[int] | I64) -> Any:
        """`tag_matrix` as a scipy.sparse.csr_matrix (for feedback and tools)."""
        return self.tag_matrix(rows).to_scipy()

    def tag_matrix(self, rows: Sequence[int] | I64) -> Rows:
        """Binary rows x tags (arXiv categories) of the given rows."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = np.zeros(len(rows), np.int64)
        parts: list[tuple[I64, I64, Any]] = []
        for s, at, local in self._by_segment(rows):
            seg_lengths, tag_ids = self.segments[s].tags_of(local)
            lengths[at] = seg_lengths
            parts.append((at, seg_lengths, tag_ids))
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tags = np.zeros(int(starts[-1]), np.int64)
        for at, seg_lengths, tag_ids in parts:
            tags[spans(starts[at], seg_lengths)] = tag_ids
        width = max(len(self.tags), 1)
        # a tag listed twice counts once; columns ascending within a row
        pairs = np.unique(np.repeat(np.arange(len(rows), dtype=np.int64), lengths) * width + tags)
        owner, cols = np.divmod(pairs, width)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(rows)))])
        return Rows(
            np.ones(len(cols)), cols.astype(np.int32), indptr.astype(np.int64), len(self.tags)
        )

    # ---- growth ----------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        docs: Sequence[str],
        dates: Sequence[int],
        tags: Sequence[Sequence[str]] | None = None,
    ) -> int:
        """Append papers as a new segment; a paper already indexed is replaced (its old row is
        marked dead). Costs what is added, plus an occasional merge of small segments."""
        if not ids:
            return 0
        last = dict(zip(ids, range(len(ids)), strict=True))  # the last copy of an id wins
        order = sorted(last.values())
        ids = [ids[i] for i in order]
        features = Analyzer().features([docs[i] for i in order])
        keys, inverse = np.unique(features.keys, return_inverse=True)
        cols = np.array(self.columns(keys.tolist()), dtype=np.int64)
        fresh = cols < 0
        first = self.n_features
        cols[fresh] = first + np.arange(int(fresh.sum()))
        tag_ids = {t: i for i, t in enumerate(self.tags)}
        tag_rows = []
        for i in order:
            row = []
            for tag in tags[i] if tags is not None else ():
                row.append(tag_ids.setdefault(tag.lower(), len(tag_ids)))
            tag_rows.append(row)
        self.tags = list(tag_ids)
        for s, (base, seg) in enumerate(zip(self.bases.tolist(), self.segments, strict=False)):
            replaced = [r for r in seg.find(ids).values() if self.live[base + r]]
            if replaced:
                self.dead[s] = np.union1d(self.dead[s], np.array(replaced, np.int64))
        kept_dates = [dates[i] for i in order]
        kept_tags = [tags[i] for i in order] if tags is not None else None
        segment = from_rows(
            ids,
            text_hashes([docs[i] for i in order], kept_dates, kept_tags),
            np.asarray(kept_dates, np.int64),
            features.rows,
            cols[inverse].astype(np.int32),
            features.counts,
            tag_rows,
            (keys[fresh], cols[fresh].astype(np.int32)),
        )
        self.segments.append(segment)
        self.dead.append(np.zeros(0, np.int64))
        self._merge_small()
        self._forget()
        return len(ids)

    def _merge_small(self) -> None:
        segs = self.segments
        while (
            len(segs) >= 2
            and len(segs[-2]) < MERGE_RATIO * len(segs[-1])
            and len(segs[-2]) + len(segs[-1]) <= MERGE_MAX_ROWS
        ):
            parts = []
            for s in (-2, -1):
                live = np.ones(len(segs[s]), dtype=bool)
                live[self.dead[s]] = False
                parts.append((segs[s], live))
            merged = merge(parts)
            segs[-2:] = [merged]
            self.dead[-2:] = [np.zeros(0, np.int64)]
        self._forget()

    def _forget(self) -> None:
        for name in ("bases", "live", "_dead_df", "tag_prior", "row_of"):
            self.__dict__.pop(name, None)

    # ---- persistence -----------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write new segments, then swap the manifest in: a reader never sees half an index."""
        manifest.write(Path(directory), self.segments, self.dead, self.tags, self.extra)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TfidfIndex:
        found = manifest.read(Path(directory))
        return cls(found.segments, found.tags, found.dead, found.extra)


def _distinct(values: npt.NDArray[np.int32], width: int) -> tuple[I64, npt.NDArray[np.int32]]:
    """(the distinct values, ascending; each value's position among them) of ints in [0, width).

    A broad niche's rows hold millions of entries, and np.unique sorts them all (a second at
    2.5M papers); a presence mask and a lookup table the width of the vocabulary take a tenth.
    """
    if len(values) < SORT_BELOW:
        uniq, inverse = np.unique(values, return_inverse=True)
        return uniq.astype(np.int64), inverse.astype(np.int32)
    present = np.zeros(width, dtype=bool)
    present[values] = True
    distinct = np.flatnonzero(present)
    position = np.empty(width, np.int32)  # only the entries at `distinct` are ever read
    position[distinct] = np.arange(len(distinct), dtype=np.int32)
    return distinct.astype(np.int64), position[values]
