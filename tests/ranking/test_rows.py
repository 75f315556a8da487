"""ranking.rows.Rows gives what scipy.sparse gives for the operations a query uses."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.rows import Rows, centroid


def _random(seed: int, n: int, width: int, density: float) -> tuple[Rows, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    matrix = sp.random(n, width, density=density, format="csr", random_state=rng)
    matrix.sort_indices()
    rows = Rows(
        matrix.data.astype(np.float64),
        matrix.indices.astype(np.int32),
        matrix.indptr.astype(np.int64),
        width,
    )
    return rows, matrix


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 30),
    width=st.integers(1, 60),
    density=st.floats(0.0, 0.5),
)
def test_rows_match_scipy(seed: int, n: int, width: int, density: float) -> None:
    rows, matrix = _random(seed, n, width, density)
    dense = matrix.toarray()
    np.testing.assert_array_equal(rows.toarray(), dense)
    np.testing.assert_array_equal(rows.to_scipy().toarray(), dense)
    assert rows.shape == matrix.shape and rows.nnz == matrix.nnz

    picked = np.random.default_rng(seed).integers(0, max(n, 1), size=min(n, 7))
    np.testing.assert_array_equal(rows[picked].toarray(), dense[picked])
    if n:
        np.testing.assert_array_equal(rows[int(picked[0])].toarray(), dense[[picked[0]]])

    cols = [0, width // 2, width - 1, width // 2]  # repeated and unsorted on purpose
    np.testing.assert_array_equal(rows.columns(cols), dense[:, cols])

    if n:
        other = rows[int(picked[0])]
        np.testing.assert_allclose(rows.dot_row(other), dense @ dense[picked[0]])

    vector = np.linspace(-1.0, 2.0, width)
    np.testing.assert_allclose(rows.dot_dense(vector), dense @ vector)
    np.testing.assert_allclose(rows.gram(), dense @ dense.T, atol=1e-12)
    np.testing.assert_allclose(rows.column_means(), dense.mean(axis=0) if n else np.zeros(width))


def test_centroid_is_the_unit_mean() -> None:
    rows, matrix = _random(7, 12, 40, 0.2)
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    found = centroid(rows)
    assert len(found) == 1
    np.testing.assert_allclose(found.toarray().ravel(), mean / np.linalg.norm(mean))
    empty = centroid(Rows(np.zeros(0), np.zeros(0, np.int32), np.zeros(3, np.int64), 40))
    assert empty.nnz == 0 and empty.toarray().sum() == 0
