"""Sparse rows (CSR) with the few operations a query needs, in numpy alone.

A query reads a niche's few thousand rows and multiplies them by one centroid; importing
scipy.sparse for that costs more than the arithmetic (about a third of a second per fresh
process). `to_scipy` hands the same rows to code that needs the full library (feedback, tools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ranking.segment import spans

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Rows:
    """len(indptr) - 1 sparse rows `width` wide; a row's columns ascending, none repeated."""

    data: F64
    indices: npt.NDArray[np.int32]
    indptr: I64
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.width

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, rows: int | Any) -> Rows:
        """The given rows (an int gives a one-row Rows), in the given order."""
        picked = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        starts = self.indptr[picked]
        lengths = self.indptr[picked + 1] - starts
        at = spans(starts, lengths)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return Rows(self.data[at], self.indices[at], indptr, self.width)

    def entry_rows(self) -> I64:
        """The row of every stored entry."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))

    def columns(self, cols: Any) -> F64:
        """Dense len(rows) x len(cols) values of the given columns (one pass over the entries;
        nothing as wide as the vocabulary)."""
        wanted, position = np.unique(np.asarray(cols, dtype=np.int64), return_inverse=True)
        found = np.zeros((len(self), len(wanted)))
        hit = np.flatnonzero(np.isin(self.indices, wanted))
        rows = np.searchsorted(self.indptr, hit, side="right") - 1
        found[rows, np.searchsorted(wanted, self.indices[hit])] = self.data[hit]
        out: F64 = found[:, position]
        return out

    def dot_row(self, other: Rows) -> F64:
        """Each row's dot product with the single row `other`."""
        if not len(other.indices) or not len(self.indices):
            return np.zeros(len(self))
        pos = np.minimum(np.searchsorted(other.indices, self.indices), len(other.indices) - 1)
        hit = other.indices[pos] == self.indices
        products = np.where(hit, self.data * other.data[pos], 0.0)
        out: F64 = np.bincount(self.entry_rows(), products, len(self)).astype(np.float64)
        return out

    def dot_dense(self, vector: F64) -> F64:
        """Each row's dot product with a dense vector `width` long."""
        products = self.data * vector[self.indices]
        out: F64 = np.bincount(self.entry_rows(), products, len(self)).astype(np.float64)
        return out

    def gram(self) -> F64:
        """The rows' pairwise dot products (len x len). Only columns two rows share are laid
        out densely; the diagonal is each row's squared length."""
        cols, counts = np.unique(self.indices, return_counts=True)
        shared = cols[counts > 1]
        dense = np.zeros((len(self), len(shared)))
        keep = np.isin(self.indices, shared)
        dense[self.entry_rows()[keep], np.searchsorted(shared, self.indices[keep])] = self.data[
            keep
        ]
        out: F64 = dense @ dense.T
        np.fill_diagonal(out, np.bincount(self.entry_rows(), np.square(self.data), len(self)))
        return out

    def column_means(self) -> F64:
        """The mean of the rows as a dense vector `width` long (for narrow rows: tags)."""
        sums = np.bincount(self.indices, weights=self.data, minlength=self.width)
        out: F64 = sums / max(len(self), 1)
        return out

    def toarray(self) -> F64:
        out = np.zeros(self.shape)
        out[self.entry_rows(), self.indices] = self.data
        return out

    def to_scipy(self) -> Any:
        """The same rows as a scipy.sparse.csr_matrix (imported only here)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def centroid(x: Rows) -> Rows:
    """The unit-length mean of the rows (one row; empty when all zero).

    Summed over the rows' own columns: a dense row as wide as the vocabulary would cost more
    than the whole query."""
    cols, at = np.unique(x.indices, return_inverse=True)
    sums = np.bincount(at, weights=x.data, minlength=len(cols)).astype(np.float64)
    norm = float(np.sqrt(np.square(sums).sum()))
    data = sums / norm if norm > 0 else sums
    return Rows(data, cols.astype(np.int32), np.array([0, len(cols)], np.int64), x.width)
