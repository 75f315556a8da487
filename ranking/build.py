"""Cold build in two streaming passes, so memory is the finished index plus one chunk.

Pass one analyses each chunk of papers into (row, feature key, count) triplets, spills them to
a temporary file, and folds the chunk's distinct keys into running document frequencies (two
sorted arrays, merged linearly every few chunks). Pass two maps each spilled chunk's keys to
columns and writes its rows straight into the final arrays (memory-mapped files when building
on disk); postings are written by a counting sort whose offsets are the document frequencies,
so no array the length of the whole token stream is ever sorted or held twice.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ranking.features import Analyzer, Features
from ranking.index import TfidfIndex
from ranking.segment import (
    ARRAYS,
    Segment,
    id_array,
    id_hashes,
    release,
    spans,
    text_hashes,
)

log = logging.getLogger(__name__)

RELEASE_EVERY = 16  # chunks between flushes of the postings written so far
CHUNK = 5000  # papers analysed at a time: memory is the index plus one chunk
STREAMED = ("indices", "counts", "post_rows")  # written to their files chunk by chunk
MERGE_EVERY = 8  # chunks whose distinct keys are reduced together before joining the totals


@dataclass(frozen=True, slots=True)
class Batch:
    """A chunk of papers to index: ids, title + abstract texts, epoch dates, arXiv categories."""

    ids: Sequence[str]
    docs: Sequence[str]
    dates: Sequence[int]
    tags: Sequence[Sequence[str]]


Progress = Callable[[int], None]  # called with the number of papers analysed so far


class ColdBuilder:
    def __init__(self, tags: list[str], directory: Path | None = None):
        self.analyzer = Analyzer()
        self.directory = directory
        self.tags = tags
        self._tag_ids = {t: i for i, t in enumerate(tags)}
        self._spill_dir = (
            Path(tempfile.mkdtemp(prefix=".spill-", dir=directory.parent)) if directory else None
        )
        self._spilled: list[Features | Path] = []
        self._sizes: list[int] = []
        self.ids: list[str] = []
        self.text_hashes: list[npt.NDArray[np.uint64]] = []
        self.dates: list[int] = []
        self.tag_rows: list[list[int]] = []
        self._df_keys = np.zeros(0, np.uint64)
        self._df = np.zeros(0, np.int64)
        self._pending: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]] = []

    def feed(self, batch: Batch) -> None:
        features = self.analyzer.features(batch.docs)
        if len(features.keys):
            self._pending.append(np.unique(features.keys, return_counts=True))
        if len(self._pending) >= MERGE_EVERY:
            self._reduce()
        if self._spill_dir is not None:
            path = self._spill_dir / f"{len(self._spilled)}.npz"
            np.savez(path, rows=features.rows, keys=features.keys, counts=features.counts)
            self._spilled.append(path)
        else:
            self._spilled.append(features)
        self._sizes.append(len(batch.ids))
        self.ids.extend(batch.ids)
        self.text_hashes.append(text_hashes(batch.docs, batch.dates, batch.tags))
        self.dates.extend(int(d) for d in batch.dates)
        for paper_tags in batch.tags:
            self.tag_rows.append([self._tag(t) for t in paper_tags])

    def _tag(self, tag: str) -> int:
        tag = tag.lower()
        found = self._tag_ids.get(tag)
        if found is None:
            found = self._tag_ids[tag] = len(self.tags)
            self.tags.append(tag)
        return found

    def _reduce(self) -> None:
        """Fold the pending chunks' distinct keys into the running document frequencies."""
        if not self._pending:
            return
        keys = np.concatenate([k for k, _ in self._pending])
        counts = np.concatenate([c for _, c in self._pending])
        self._pending = []
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        keys, counts = keys[starts], np.add.reduceat(counts, starts)
        pos = np.searchsorted(self._df_keys, keys)
        known = np.zeros(len(keys), dtype=bool)
        if len(self._df_keys):
            clipped = np.minimum(pos, len(self._df_keys) - 1)
            known = (pos < len(self._df_keys)) & (self._df_keys[clipped] == keys)
        self._df[pos[known]] += counts[known]
        fresh = ~known
        self._df_keys = np.insert(self._df_keys, pos[fresh], keys[fresh])
        self._df = np.insert(self._df, pos[fresh], counts[fresh])

    def finish(self, name: str = "") -> Segment:
        """Pass two: write every chunk's rows and postings into the final arrays."""
        self._reduce()
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("duplicate ids given to build(); each paper is indexed once")
        n, vocab = len(self.ids), self._df_keys
        post_ptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(self._df, out=post_ptr[1:])
        del self._df
        nnz = int(post_ptr[-1])
        out = self.directory / name if self.directory is not None else None
        if out is not None:
            out.mkdir(parents=True)
        indices = _Sequential(out, "indices", nnz, np.int32)
        counts = _Sequential(out, "counts", nnz, np.uint8)
        post_rows = _array(out, "post_rows", nnz, np.int32)
        indptr = np.zeros(n + 1, np.int64)
        fill = post_ptr[:-1].copy()
        pos = row = 0
        for chunk, (spilled, size) in enumerate(zip(self._spilled, self._sizes, strict=True)):
            f = _read(spilled)
            m = len(f.keys)
            if m:
                by_col, cols = _by_column(vocab, f.keys)
                grouped = cols[by_col]
                starts = np.flatnonzero(np.concatenate([[True], grouped[1:] != grouped[:-1]]))
                lengths = np.diff(np.append(starts, m))
                rank = np.arange(m) - np.repeat(starts, lengths)
                post_rows[fill[grouped] + rank] = f.rows[by_col] + row
                fill[grouped[starts]] += lengths
                del grouped, rank
                # (row, column) order: a stable sort by row of the column order (a radix sort
                # when a chunk's rows fit in 16 bits)
                local = f.rows[by_col].astype(np.int16 if size <= 2**15 else np.int32)
                order = by_col[np.argsort(local, kind="stable")]
                del by_col, local
                indices.write(pos, cols[order].astype(np.int32))
                counts.write(pos, f.counts[order])
            np.cumsum(np.bincount(f.rows, minlength=size), out=indptr[row + 1 : row + size + 1])
            indptr[row + 1 : row + size + 1] += pos
            pos += m
            row += size
            if isinstance(post_rows, np.memmap) and chunk % RELEASE_EVERY == 0:
                _release(post_rows)
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
        tag_ptr = np.zeros(n + 1, np.int64)
        np.cumsum([len(t) for t in self.tag_rows], out=tag_ptr[1:])
        id_arr, id_order = id_array(self.ids)
        segment = Segment(
            ids=id_arr,
            id_order=id_order,
            id_hash=id_hashes(self.ids),
            text_hash=np.concatenate([np.zeros(0, np.uint64), *self.text_hashes]),
            dates=np.asarray(self.dates, np.int64),
            indptr=indptr,
            indices=indices.close(),
            counts=counts.close(),
            post_cols=np.arange(len(vocab), dtype=np.int32),
            post_ptr=post_ptr,
            post_rows=post_rows,
            tag_ptr=tag_ptr,
            tag_ids=np.array([t for ts in self.tag_rows for t in ts], dtype=np.int16),
            vocab_keys=vocab,
            vocab_cols=np.arange(len(vocab), dtype=np.int32),
            name=name,
            dense=True,
        )
        if out is not None:
            _release(post_rows)
            for field in ARRAYS:
                if field not in STREAMED:
                    np.save(out / f"{field}.npy", getattr(segment, field))
            segment.save_info(out)
            segment = Segment.load(out)
        return segment

    def abort(self) -> None:
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)


def _by_column(vocab: npt.NDArray[np.uint64], keys: npt.NDArray[np.uint64]) -> tuple[Any, Any]:
    """(positions of a chunk's entries ordered by column, stably; each entry's column).

    A chunk's entries come grouped by feature (rows ascending within one), so only the first
    key of each run is looked up, in sorted order (a search over the whole vocabulary in random
    order is most of pass two), and the runs, not the entries, are sorted by column."""
    m = len(keys)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    lengths = np.diff(np.append(starts, m))
    distinct = keys[starts]
    by_key = np.argsort(distinct)
    run_cols = np.empty(len(distinct), np.int64)
    run_cols[by_key] = np.searchsorted(vocab, distinct[by_key])
    runs = np.argsort(run_cols, kind="stable")
    return spans(starts[runs], lengths[runs]), np.repeat(run_cols, lengths)


def _array(out: Path | None, name: str, size: int, dtype: Any) -> Any:
    if out is None:
        return np.empty(size, dtype)
    return np.lib.format.open_memmap(out / f"{name}.npy", mode="w+", dtype=dtype, shape=(size,))


class _Sequential:
    """An array written front to back: straight to its .npy file when building on disk, so the
    pages written never count against the process's memory."""

    def __init__(self, out: Path | None, name: str, size: int, dtype: Any):
        self.array: Any = np.empty(size, dtype) if out is None else None
        self.file: Any = None
        if out is not None:
            mapped = np.lib.format.open_memmap(out / f"{name}.npy", "w+", dtype, (size,))
            offset = mapped.offset
            del mapped
            self.file = open(out / f"{name}.npy", "r+b")  # noqa: SIM115 - closed in close()
            self.file.seek(offset)

    def write(self, at: int, values: Any) -> None:
        if self.file is not None:
            values.tofile(self.file)
        else:
            self.array[at : at + len(values)] = values

    def close(self) -> Any:
        if self.file is not None:
            self.file.close()
            return np.zeros(0, np.int32)  # the segment is loaded from its files afterwards
        return self.array


def _release(array: Any) -> None:
    """Write a memory-mapped array's dirty pages out and drop them from this process's RSS."""
    array.flush()
    release(array)


def _read(spilled: Features | Path) -> Features:
    if isinstance(spilled, Features):
        return spilled
    with np.load(spilled) as npz:
        return Features(rows=npz["rows"], keys=npz["keys"], counts=npz["counts"])


def feed_all(
    builder: ColdBuilder, batches: Iterable[Batch], progress: Progress | None = None
) -> None:
    """Pass one over every batch, reporting progress and logging a line per chunk."""
    started = time.monotonic()
    done = 0
    for batch in batches:
        builder.feed(batch)
        done += len(batch.ids)
        if progress is not None:
            progress(done)
        log.info("index: analysed %d papers (%.0f/s)", done, done / (time.monotonic() - started))


def build(
    ids: Sequence[str],
    docs: Sequence[str],
    dates: Sequence[int],
    tags: Sequence[Sequence[str]] | None = None,
) -> TfidfIndex:
    """Index these papers in memory (for small corpora, tests and benchmarks)."""
    tag_list = list(tags) if tags is not None else [()] * len(ids)
    return build_from(
        Batch(
            ids[i : i + CHUNK], docs[i : i + CHUNK], dates[i : i + CHUNK], tag_list[i : i + CHUNK]
        )
        for i in range(0, len(ids), CHUNK)
    )


def build_from(
    batches: Iterable[Batch],
    directory: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    extra: dict[str, str] | None = None,
) -> TfidfIndex:
    """A cold build from streamed batches; on disk (written beside, then swapped in) when a
    directory is given, else in memory."""
    if directory is None:
        builder = ColdBuilder([])
        feed_all(builder, batches, progress)
        segment = builder.finish()
        return TfidfIndex(
            [segment] if len(segment) else [],
            builder.tags,
            [np.zeros(0, np.int64)] if len(segment) else [],
            dict(extra or {}),
        )
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".index-", dir=target.parent))
    builder = ColdBuilder([], staging)
    try:
        feed_all(builder, batches, progress)
        name = f"seg-{uuid.uuid4().hex[:12]}"
        segment = builder.finish(name)
        segments = [segment] if len(segment) else []
        index = TfidfIndex(
            segments, builder.tags, [np.zeros(0, np.int64)] * len(segments), dict(extra or {})
        )
        index.save(staging)
        old = target.with_name(target.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return TfidfIndex.load(target)
    finally:
        builder.abort()
        shutil.rmtree(staging, ignore_errors=True)
