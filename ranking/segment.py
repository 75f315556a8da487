"""One immutable run of indexed papers: rows (paper -> features) and postings (feature -> rows).

An index is a list of segments, like a search engine's: a cold build writes one large segment,
each later `add` writes a small one beside it, and small segments are merged now and then, so
appending costs what is appended. Inside a segment:

- rows, CSR: `indptr` (int64), `indices` (int32 global feature columns, ascending per row) and
  `counts` (uint8 term counts); tf-idf weights are computed when a row is read, from the current
  document frequencies, so no row ever holds a stale weight;
- postings, CSC by feature: `post_cols` (int32, ascending), `post_ptr` (int64), `post_rows`
  (int32 local rows, ascending): which papers contain a feature, read without a scan;
- per paper: `ids` (bytes), `dates` (int64 epoch seconds), `tags` (arXiv categories as int16
  ids in `tag_ptr`/`tag_ids`), `id_hash` (a stable hash of the id, for id-seeded sampling) and
  `text_hash` (of what was indexed: text, date, categories; a new version shows as a change);
- `vocab_keys` / `vocab_cols`: the feature keys this segment introduced and their columns.
Arrays are plain .npy files, memory-mapped on load.
"""

from __future__ import annotations

import hashlib
import json
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

ARRAYS = (
    "ids",
    "id_order",
    "id_hash",
    "text_hash",
    "dates",
    "indptr",
    "indices",
    "counts",
    "post_cols",
    "post_ptr",
    "post_rows",
    "tag_ptr",
    "tag_ids",
    "vocab_keys",
    "vocab_cols",
)
ROWS_AT_ONCE = 256  # rows gathered between two releases of the rows files' pages (<= 32 MB)
# counts -> 1 + log(count): sublinear tf for every value a byte holds
TF_TABLE = np.concatenate([[0.0], 1.0 + np.log(np.arange(1, 256))]).astype(np.float32)


@dataclass(slots=True)
class Segment:
    ids: npt.NDArray[np.bytes_]
    id_order: I32  # argsort of ids: id -> row by binary search
    id_hash: npt.NDArray[np.uint64]
    text_hash: npt.NDArray[np.uint64]
    dates: I64
    indptr: I64
    indices: I32
    counts: npt.NDArray[np.uint8]
    post_cols: I32
    post_ptr: I64
    post_rows: I32
    tag_ptr: I64
    tag_ids: npt.NDArray[np.int16]
    vocab_keys: npt.NDArray[np.uint64]
    vocab_cols: I32
    name: str = ""  # directory name once saved
    dense: bool = False  # post_cols and vocab_cols are both 0..k-1 (a cold build's segment)

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def nnz(self) -> int:
        return len(self.indices)

    @property
    def date_sorted(self) -> bool:
        return bool(len(self.dates) < 2 or np.all(self.dates[1:] >= self.dates[:-1]))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        self.save_info(directory)

    def save_info(self, directory: Path) -> None:
        (directory / "info.json").write_text(json.dumps({"dense": self.dense}), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> Segment:
        arrays: dict[str, Any] = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in ARRAYS
        }
        info = json.loads((directory / "info.json").read_text("utf-8"))
        segment = cls(**arrays, name=directory.name, dense=bool(info["dense"]))
        segment.check()
        return segment

    def check(self) -> None:
        """Raise ValueError when the arrays do not describe the same papers."""
        n = len(self.dates)
        if not (
            len(self.ids) == len(self.id_order) == len(self.id_hash) == len(self.text_hash) == n
            and len(self.indptr) == len(self.tag_ptr) == n + 1
            and int(self.indptr[-1]) == len(self.indices) == len(self.counts)
            and int(self.tag_ptr[-1]) == len(self.tag_ids)
            and len(self.post_ptr) == len(self.post_cols) + 1
            and int(self.post_ptr[-1]) == len(self.post_rows) == len(self.indices)
            and len(self.vocab_keys) == len(self.vocab_cols)
        ):
            raise ValueError("its files disagree on the number of papers or features")

    def postings(self, col: int) -> I32:
        """Local rows holding the feature, ascending."""
        if self.dense:
            at = col if col < len(self.post_cols) else len(self.post_cols)
        else:  # the same dtype as the array, or numpy converts the whole array first
            at = int(np.searchsorted(self.post_cols, np.int32(col)))
        if at == len(self.post_cols) or int(self.post_cols[at]) != col:
            return np.zeros(0, np.int32)
        return np.asarray(self.post_rows[self.post_ptr[at] : self.post_ptr[at + 1]])

    def find(self, ids: Sequence[str]) -> dict[str, int]:
        """Local rows of the given ids that this segment holds."""
        if not len(self.ids) or not ids:
            return {}
        width = self.ids.dtype.itemsize  # a longer id would be cut to fit and could match another
        ids = [i for i in ids if len(i.encode()) <= width]
        if not ids:
            return {}
        wanted = np.array([i.encode() for i in ids], dtype=self.ids.dtype)
        order = np.asarray(self.id_order)
        pos = np.searchsorted(self.ids, wanted, sorter=order)
        pos[pos == len(order)] = 0
        rows = order[pos]
        hit = np.asarray(self.ids)[rows] == wanted
        return {ids[i]: int(rows[i]) for i in np.flatnonzero(hit).tolist()}

    def rows(self, local: I64) -> tuple[I64, I32, npt.NDArray[np.float32]]:
        """(row lengths, columns, tf) of the given local rows, concatenated.

        A broad niche reads a few percent of the rows, scattered over the whole file, and the
        kernel maps up to 64 KB around each page fault: left mapped, almost every page of
        `indices` and `counts` would stay in this process. Rows are therefore gathered a batch at
        a time and the batch's pages released (they stay in the page cache), so what a query
        holds follows what it reads, not the size of the index.
        """
        starts = np.asarray(self.indptr[local])
        lengths = np.asarray(self.indptr[local + 1]) - starts
        ends = np.cumsum(lengths)
        cols = np.empty(int(ends[-1]) if len(ends) else 0, np.int32)
        tf = np.empty(len(cols), np.float32)
        for i in range(0, len(local), ROWS_AT_ONCE):
            j = min(i + ROWS_AT_ONCE, len(local))
            at = spans(starts[i:j], lengths[i:j])
            dest = slice(int(ends[i] - lengths[i]), int(ends[j - 1]))
            cols[dest] = self.indices[at]
            tf[dest] = TF_TABLE[np.asarray(self.counts[at])]
            release(self.indices, self.counts)
        return lengths, cols, tf

    def tags_of(self, local: I64) -> tuple[I64, npt.NDArray[np.int16]]:
        starts = np.asarray(self.tag_ptr[local])
        lengths = np.asarray(self.tag_ptr[local + 1]) - starts
        at = spans(starts, lengths)
        return lengths, np.asarray(self.tag_ids[at])


def release(*arrays: Any) -> None:
    """Drop the pages of memory-mapped arrays from this process (the page cache keeps them)."""
    for array in arrays:
        raw = getattr(array, "_mmap", None)  # numpy's memmap keeps its mmap here
        if raw is not None and hasattr(mmap, "MADV_DONTNEED"):
            raw.madvise(mmap.MADV_DONTNEED)


def spans(starts: I64, lengths: I64) -> I64:
    """The positions start..start+length-1 of every (start, length), concatenated."""
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    out: I64 = offsets + np.arange(int(lengths.sum()))
    return out


def _hash64(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def id_hashes(ids: Sequence[str]) -> npt.NDArray[np.uint64]:
    return np.array([_hash64(i) for i in ids], dtype=np.uint64)


def text_hashes(
    docs: Sequence[str], dates: Sequence[int], tags: Sequence[Sequence[str]] | None
) -> npt.NDArray[np.uint64]:
    """A stable hash of what is indexed of each paper: its text, date and categories."""
    tags = tags if tags is not None else [()] * len(docs)
    return np.array(
        [
            _hash64(f"{int(date)}\x00{' '.join(t.lower() for t in paper_tags)}\x00{doc}")
            for doc, date, paper_tags in zip(docs, dates, tags, strict=True)
        ],
        dtype=np.uint64,
    )


def id_array(ids: Sequence[str]) -> tuple[npt.NDArray[np.bytes_], I32]:
    arr = np.array([i.encode() for i in ids], dtype=np.bytes_) if ids else np.zeros(0, "S1")
    return arr, np.argsort(arr, kind="stable").astype(np.int32)


def postings_of(rows: I32, cols: I32) -> tuple[I32, I64, I32]:
    """Postings from (row, col) pairs: distinct columns, offsets, rows grouped by column."""
    order = np.lexsort((rows, cols))
    cols, rows = cols[order], rows[order]
    if not len(cols):
        return np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int32)
    starts = np.flatnonzero(np.concatenate([[True], cols[1:] != cols[:-1]]))
    ptr = np.append(starts, len(cols)).astype(np.int64)
    return cols[starts].astype(np.int32), ptr, rows.astype(np.int32)


def from_rows(
    ids: Sequence[str],
    text_hash: npt.NDArray[np.uint64],
    dates: I64,
    rows: I32,
    cols: I32,
    counts: npt.NDArray[np.uint8],
    tags: Sequence[Sequence[int]],
    vocab: tuple[npt.NDArray[np.uint64], I32],
) -> Segment:
    """A segment held in memory, from distinct (row, col, count) triplets."""
    n = len(ids)
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    post_cols, post_ptr, post_rows = postings_of(rows, cols)
    tag_ptr = np.zeros(n + 1, np.int64)
    np.cumsum([len(t) for t in tags], out=tag_ptr[1:])
    flat_tags = np.array([t for ts in tags for t in ts], dtype=np.int16)
    id_arr, id_order = id_array(ids)
    return Segment(
        ids=id_arr,
        id_order=id_order,
        id_hash=id_hashes(ids),
        text_hash=np.asarray(text_hash, np.uint64),
        dates=np.asarray(dates, np.int64),
        indptr=indptr,
        indices=cols[order].astype(np.int32),
        counts=counts[order],
        post_cols=post_cols,
        post_ptr=post_ptr,
        post_rows=post_rows,
        tag_ptr=tag_ptr,
        tag_ids=flat_tags,
        vocab_keys=vocab[0],
        vocab_cols=vocab[1],
    )


def merge(parts: Sequence[tuple[Segment, npt.NDArray[np.bool_]]]) -> Segment:
    """One segment holding the live rows (mask True) of several, in order."""
    ids: list[str] = []
    hashes, dates, rows, cols, counts, tags, keys, vcols = [], [], [], [], [], [], [], []
    offset = 0
    for seg, live in parts:
        local = np.flatnonzero(live)
        starts = np.asarray(seg.indptr[local])
        lengths = np.asarray(seg.indptr[local + 1]) - starts
        at = spans(starts, lengths)
        rows.append(np.repeat(np.arange(offset, offset + len(local), dtype=np.int32), lengths))
        cols.append(np.asarray(seg.indices[at]))
        counts.append(np.asarray(seg.counts[at]))
        ids += [i.decode() for i in np.asarray(seg.ids)[local]]
        hashes.append(np.asarray(seg.text_hash)[local])
        dates.append(np.asarray(seg.dates)[local])
        t_len, t_ids = seg.tags_of(local)
        bounds = np.concatenate([[0], np.cumsum(t_len)])
        tags += [t_ids[bounds[i] : bounds[i + 1]].tolist() for i in range(len(local))]
        keys.append(np.asarray(seg.vocab_keys))
        vcols.append(np.asarray(seg.vocab_cols))
        offset += len(local)
    all_keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    all_vcols = np.concatenate(vcols) if vcols else np.zeros(0, np.int32)
    by_key = np.argsort(all_keys, kind="stable")
    return from_rows(
        ids,
        np.concatenate(hashes) if hashes else np.zeros(0, np.uint64),
        np.concatenate(dates) if dates else np.zeros(0, np.int64),
        np.concatenate(rows) if rows else np.zeros(0, np.int32),
        np.concatenate(cols) if cols else np.zeros(0, np.int32),
        np.concatenate(counts) if counts else np.zeros(0, np.uint8),
        tags,
        (all_keys[by_key], all_vcols[by_key].astype(np.int32)),
    )
