"""The TF-IDF index: sklearn's idf, phrases as phrases, persistence, incremental == rebuild."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfTransformer

from ranking import NicheProfile, build, rank
from ranking.index import IndexError_, TfidfIndex
from ranking.text import document
from tests.ranking.corpus import corpus, topic_papers


def _build(papers):  # type: ignore[no-untyped-def]
    return build([p.id for p in papers], [document(p) for p in papers], list(range(len(papers))))


def test_idf_is_sklearns_smooth_sublinear_idf() -> None:
    index = _build(corpus())
    counts = index.tf.copy()
    counts.data = np.exp(counts.data - 1)
    reference = TfidfTransformer(sublinear_tf=True).fit(counts).idf_
    np.testing.assert_allclose(index.idf, reference, rtol=1e-5)


def test_rows_are_unit_length() -> None:
    norms = np.sqrt(_build(corpus()).matrix.multiply(_build(corpus()).matrix).sum(axis=1))
    np.testing.assert_allclose(np.asarray(norms).ravel(), 1.0, rtol=1e-5)


def test_phrase_is_a_bigram_feature() -> None:
    index = _build(corpus())
    [column] = index.columns_of("Selective Scan")
    assert index.feature_name(column) == "selective scan"
    assert [index.feature_name(c) for c in index.columns_of("linear recurrences")] == [
        "linear recurrence"
    ]


def test_three_word_phrase_needs_both_bigrams_and_unknown_words_match_nothing() -> None:
    index = _build(corpus())
    names = [index.feature_name(c) for c in index.columns_of("state space model")]
    assert names == ["state space", "space model"]
    assert index.columns_of("quantum chromodynamics") == []
    assert index.columns_of("chromodynamics") == []


def test_unseen_bigram_of_known_words_needs_all_its_words() -> None:
    index = _build(corpus())
    assert sorted(index.feature_name(c) for c in index.columns_of("space state")) == [
        "space",
        "state",
    ]


def test_add_grows_the_vocabulary_with_new_words() -> None:
    index = _build(corpus())
    index.add(["2502.00001"], ["Tokamak plasma control with robots"], [0])
    [column] = index.columns_of("tokamak")
    assert index.feature_name(column) == "tokamak"
    assert index.matrix[index.row_of["2502.00001"], column] > 0


def test_save_and_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    index = _build(corpus())
    index.extra["note"] = "kept"
    index.save(tmp_path / "index")
    loaded = TfidfIndex.load(tmp_path / "index")
    assert (
        loaded.ids == index.ids and loaded.terms == index.terms and loaded.extra == {"note": "kept"}
    )
    assert (loaded.matrix != index.matrix).nnz == 0


def test_load_of_a_broken_index_says_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "meta.json").write_text("{not json")
    with pytest.raises(IndexError_, match="cannot read the ranking index"):
        TfidfIndex.load(tmp_path / "index")


def _rows_by_name(index: TfidfIndex) -> dict[str, dict[str, float]]:
    m = index.matrix
    out = {}
    for i, pid in enumerate(index.ids):
        row = m[i]
        out[pid] = {
            index.feature_name(c): float(v) for c, v in zip(row.indices, row.data, strict=True)
        }
    return out


def test_incremental_add_equals_full_rebuild_within_tolerance() -> None:
    papers = corpus()
    old, new = papers[:30], papers[30:]
    incremental = _build(old)
    incremental.add([p.id for p in new], [document(p) for p in new], list(range(30, len(papers))))
    full = _build(papers)
    inc_rows, full_rows = _rows_by_name(incremental), _rows_by_name(full)
    assert set(inc_rows) == set(full_rows)
    for pid, vec in full_rows.items():
        other = inc_rows[pid]
        dot = sum(w * other.get(name, 0.0) for name, w in vec.items())
        assert dot > 0.97, pid
    profile = NicheProfile("ssm", ("selective scan", "linear recurrence"), band=None)
    assert [p.paper_id for p in rank(incremental, profile, limit=5).picks] == [
        p.paper_id for p in rank(full, profile, limit=5).picks
    ]


def test_adding_a_paper_again_replaces_it() -> None:
    papers = topic_papers("ssm", 6)
    index = _build(papers)
    index.add([papers[0].id], ["robot grasping robot grasping"], [0])
    assert len(index) == 6 and index.ids[-1] == papers[0].id
    assert index.row_of[papers[0].id] == 5
    assert index.df.sum() == index.tf.nnz


def test_empty_corpus_builds_and_ranks_nothing() -> None:
    index = build([], [], [])
    assert len(index) == 0
    assert rank(index, NicheProfile("x", ("anything",))).picks == ()


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate ids"):
        build(["a", "a"], ["x y", "x y"], [0, 0])


def test_stop_words_are_sklearns() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from ranking.text import STOP_WORDS

    assert STOP_WORDS == ENGLISH_STOP_WORDS


def test_weighting_matches_sklearn_tfidf_and_survives_a_reload(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import TfidfTransformer

    index = _build(corpus())
    counts = index.tf.copy()
    counts.data = np.exp(counts.data - 1)
    reference = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    np.testing.assert_allclose(index.matrix.toarray(), reference.toarray(), rtol=1e-5, atol=1e-6)
    index.save(tmp_path / "index")
    np.testing.assert_allclose(
        TfidfIndex.load(tmp_path / "index").matrix.toarray(),
        reference.toarray(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_tags_are_features_that_never_form_bigrams() -> None:
    papers = corpus()
    tags = [("cs.RO",) if p.id[5] == "2" else ("cs.GT",) for p in papers]
    index = build(
        [p.id for p in papers], [document(p) for p in papers], list(range(len(papers))), tags
    )
    assert {"tag:cs.ro", "tag:cs.gt"} <= set(index.terms)
    names = {index.feature_name(c) for c in index.bigram_cols.tolist()}
    assert not any("tag:" in name for name in names)
    assert index.tag_matrix.shape == (len(papers), 2) and index.tag_matrix.sum() == len(papers)


def test_tokens_are_ascii_word_runs_of_two_or_more() -> None:
    import re

    from ranking.text import tokens

    text = "Sim-to-real for GPT_4o: a café, 3D and x\x01y über-fast."
    assert tokens(text) == re.findall(r"(?a)\w\w+", text.lower())


def test_a_control_character_in_a_document_does_not_shift_the_rest() -> None:
    docs = ["alpha beta\x01gamma", "delta epsilon", "delta epsilon"]
    index = build(["a", "b", "c"], docs, [0, 0, 0])
    assert index.matrix[index.row_of["b"], index.columns_of("delta epsilon")[0]] > 0
    assert index.matrix[index.row_of["a"], index.columns_of("gamma")[0]] > 0
