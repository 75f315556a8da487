"""The segmented TF-IDF index: sklearn's weighting, phrases as phrases, postings, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

from ranking import NicheProfile, build, rank
from ranking.build import Batch, build_from
from ranking.index import TfidfIndex
from ranking.manifest import IndexCorrupt
from ranking.segment import ROWS_AT_ONCE
from ranking.text import document, terms
from sources.models import Paper
from tests.ranking.corpus import corpus, topic_papers


def _build(papers: list[Paper]) -> TfidfIndex:
    return build([p.id for p in papers], [document(p) for p in papers], list(range(len(papers))))


def _counts(index: TfidfIndex) -> sp.csr_matrix:
    """Raw term counts of every row, rebuilt from the stored segments."""
    rows, cols, vals = [], [], []
    for base, seg in zip(index.bases.tolist(), index.segments, strict=False):
        local = np.arange(len(seg))
        lengths, c, tf = seg.rows(local)
        rows.append(np.repeat(local + base, lengths))
        cols.append(c)
        vals.append(np.rint(np.exp(tf.astype(np.float64) - 1)))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(index.rows_total, index.n_features),
    )


def test_weighting_is_sklearns_smooth_idf_sublinear_tf_and_l2_rows() -> None:
    index = _build(corpus())
    reference = TfidfTransformer(sublinear_tf=True).fit_transform(_counts(index))
    np.testing.assert_allclose(index.vectors(np.arange(len(index))).toarray(), reference.toarray())


def test_phrase_is_a_bigram_feature_whose_postings_are_the_papers_using_it() -> None:
    papers = corpus()
    index = _build(papers)
    phrase = index.phrase("Selective Scan")
    assert len(phrase.own) == 1 and len(phrase.words) == 2
    using = {p.id for p in papers if "select scan" in " ".join(terms(document(p)))}
    assert set(index.ids_of(index.postings(phrase.own[0]))) == using and using


def test_three_word_phrase_needs_both_bigrams_and_unknown_words_match_nothing() -> None:
    index = _build(corpus())
    assert len(index.phrase("state space model").own) == 2
    assert index.phrase("quantum chromodynamics").own == ()
    assert index.phrase("chromodynamics").own == ()


def test_unseen_bigram_of_known_words_needs_all_its_words() -> None:
    index = _build(corpus())
    phrase = index.phrase("space state")
    assert phrase.own == phrase.words and len(phrase.own) == 2


def test_a_word_and_a_phrase_first_seen_in_an_added_paper_match_at_once() -> None:
    index = _build(corpus())
    index.add(["2502.00001"], ["Tokamak plasma control with robots"], [0])
    for keyword in ("tokamak", "tokamak plasma"):
        ranking = rank(index, NicheProfile("n", (keyword,), band=None), limit=3)
        assert [p.paper_id for p in ranking.picks] == ["2502.00001"]
        assert ranking.picks[0].matched_terms == (keyword,)


def _rows_by_id(index: TfidfIndex) -> dict[str, dict[str, float]]:
    """Each paper's weighted features, keyed by feature key (history-free names)."""
    key_of = {}
    for seg in index.segments:
        key_of.update(
            zip(
                np.asarray(seg.vocab_cols).tolist(),
                np.asarray(seg.vocab_keys).tolist(),
                strict=False,
            )
        )
    rows = np.flatnonzero(index.live)
    vectors = index.vectors(rows)
    out = {}
    for i, pid in enumerate(index.ids_of(rows)):
        row = vectors[i]
        out[pid] = {
            key_of[c]: v for c, v in zip(row.indices.tolist(), row.data.tolist(), strict=True)
        }
    return out


PROFILES = [
    NicheProfile("ssm", ("selective scan", "linear recurrence"), band=None),
    NicheProfile("robot", ("grasping", "tactile sensing")),
    NicheProfile("auction", ("auctions", "mechanism design"), band=(0, 50)),
]


@pytest.mark.parametrize("cuts", [[30], [5, 17, 30], [1, 2, 3, 4, 20]])
def test_an_index_grown_in_steps_equals_a_cold_build(cuts: list[int]) -> None:
    papers = corpus()[::-1]
    steps = [0, *cuts, len(papers)]
    grown = _build(papers[: steps[1]])
    for start, stop in zip(steps[1:], steps[2:], strict=False):
        part = papers[start:stop]
        grown.add([p.id for p in part], [document(p) for p in part], list(range(start, stop)))
    cold = _build(corpus())
    grown_rows, cold_rows = _rows_by_id(grown), _rows_by_id(cold)
    assert grown_rows.keys() == cold_rows.keys()
    for pid, vector in cold_rows.items():
        assert grown_rows[pid] == pytest.approx(vector, rel=1e-12), pid
    for profile in PROFILES:
        assert rank(grown, profile, limit=5) == rank(cold, profile, limit=5)


def test_adding_a_paper_again_replaces_it() -> None:
    papers = topic_papers("ssm", 6)
    index = _build(papers)
    index.add([papers[0].id], ["robot grasping robot grasping"], [0])
    assert len(index) == 6
    assert index.rows_of([papers[0].id])[papers[0].id] >= 6  # the new row
    assert index.df.sum() == index.vectors(np.flatnonzero(index.live)).nnz
    grasping = rank(index, NicheProfile("r", ("robot grasping",), band=None)).picks
    assert [p.paper_id for p in grasping] == [papers[0].id]
    scan = rank(index, NicheProfile("s", ("selective scan",), band=None), limit=10).picks
    assert papers[0].id not in {p.paper_id for p in scan}


def test_holds_tells_a_paper_indexed_as_it_is_from_a_changed_or_missing_one(
    tmp_path: Path,
) -> None:
    papers = topic_papers("ssm", 6)
    ids, docs = [p.id for p in papers], [document(p) for p in papers]
    index = build(ids, docs, list(range(6)), [["cs.LG"]] * 6)
    assert index.holds(ids, docs, list(range(6)), [["cs.LG"]] * 6).all()
    asked = [ids[0], ids[1], ids[2], ids[3], "2501.99999"]
    changed = [docs[0] + " A new version.", docs[1], docs[2], docs[3], docs[4]]
    dates = [0, 5, 2, 3, 4]  # ids[1]: another date
    tags = [["cs.LG"], ["cs.LG"], ["cs.RO"], ["CS.LG"], ["cs.LG"]]  # ids[2]: another category
    assert index.holds(asked, changed, dates, tags).tolist() == [False, False, False, True, False]
    index.add(asked[:1], changed[:1], dates[:1], tags[:1])  # the new version replaces the old
    index.save(tmp_path / "index")
    loaded = TfidfIndex.load(tmp_path / "index")
    for merged in (index, loaded):
        assert merged.holds(asked[:1], changed[:1], dates[:1], tags[:1]).all()
        assert not merged.holds(ids[:1], docs[:1], [0], [["cs.LG"]]).any()


def test_many_small_adds_keep_few_segments_and_the_same_picks(tmp_path: Path) -> None:
    papers = corpus()
    index = _build(papers[:4])
    for i in range(4, len(papers)):
        index.add([papers[i].id], [document(papers[i])], [i])
        if i % 7 == 0:
            index.save(tmp_path / "index")
            index = TfidfIndex.load(tmp_path / "index")
    assert len(index.segments) <= 6
    assert len(list((tmp_path / "index").glob("seg-*"))) <= 6
    cold = _build(papers)
    for profile in PROFILES:
        assert rank(index, profile, limit=5) == rank(cold, profile, limit=5)
    ids, docs = [p.id for p in papers], [document(p) for p in papers]
    assert index.holds(ids, docs, list(range(len(papers)))).all()  # merges kept the hashes


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = _build(corpus())
    index.extra["note"] = "kept"
    index.add(["2502.00001"], ["Tokamak plasma"], [5])
    index.save(tmp_path / "index")
    loaded = TfidfIndex.load(tmp_path / "index")
    assert loaded.extra == {"note": "kept"} and len(loaded) == len(index)
    rows = np.arange(index.rows_total)
    assert loaded.ids_of(rows) == index.ids_of(rows)
    assert (loaded.vectors(rows) != index.vectors(rows)).nnz == 0


def test_rows_read_from_disk_in_many_batches_equal_those_in_memory(tmp_path: Path) -> None:
    """A mapped segment gathers rows ROWS_AT_ONCE at a time and releases their pages between
    batches; the rows come back whole and in the order asked for."""
    papers = [p for topic in ("ssm", "robot", "auction") for p in topic_papers(topic, 250)]
    index = _build(papers)
    index.save(tmp_path / "index")
    loaded = TfidfIndex.load(tmp_path / "index")
    assert isinstance(loaded.segments[0].indices, np.memmap)
    rows = np.random.default_rng(7).permutation(len(papers))
    assert len(rows) > 2 * ROWS_AT_ONCE
    one_by_one = sp.vstack([index.vectors([r]) for r in rows.tolist()]).tocsr()
    assert (loaded.vectors(rows) != one_by_one).nnz == 0


def test_a_streamed_build_on_disk_equals_one_in_memory(tmp_path: Path) -> None:
    papers = corpus()
    batches = [
        Batch(
            [p.id for p in part],
            [document(p) for p in part],
            [0] * len(part),
            [["cs.LG"]] * len(part),
        )
        for part in (papers[:10], papers[10:11], papers[11:])
    ]
    seen: list[int] = []
    on_disk = build_from(iter(batches), tmp_path / "index", seen.append)
    assert seen == [10, 11, len(papers)]
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no spill or staging left behind
    in_memory = build(
        [p.id for p in papers],
        [document(p) for p in papers],
        [0] * len(papers),
        [["cs.LG"]] * len(papers),
    )
    rows = np.arange(len(papers))
    assert (on_disk.vectors(rows) != in_memory.vectors(rows)).nnz == 0
    assert on_disk.tags == ["cs.lg"] and on_disk.tag_rows(rows).sum() == len(papers)


def test_load_of_a_broken_index_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "meta.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="cannot read the ranking index"):
        TfidfIndex.load(tmp_path / "index")


def test_empty_corpus_builds_and_ranks_nothing() -> None:
    index = build([], [], [])
    assert len(index) == 0
    assert rank(index, NicheProfile("x", ("anything",))).picks == ()


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate ids"):
        build(["a", "a"], ["x y", "x y"], [0, 0])


def test_tags_are_kept_apart_from_the_text() -> None:
    papers = corpus()
    tags = [("cs.RO",) if p.id[5] == "2" else ("cs.GT", "cs.RO") for p in papers]
    index = build(
        [p.id for p in papers], [document(p) for p in papers], list(range(len(papers))), tags
    )
    assert sorted(index.tags) == ["cs.gt", "cs.ro"]
    assert index.phrase("cs").own == () and index.phrase("ro").own == ()
    matrix = index.tag_rows(np.arange(len(papers)))
    assert matrix.shape == (len(papers), 2) and matrix.sum() == len(papers) + 24


def test_since_reads_a_date_sorted_segment_by_binary_search() -> None:
    papers = corpus()
    index = build([p.id for p in papers], [document(p) for p in papers], list(range(len(papers))))
    assert index.segments[0].date_sorted
    assert index.rows_since(30).tolist() == list(range(30, len(papers)))
    index.add(["2502.00001", "2502.00002"], ["late", "early"], [50, 3])
    assert not index.segments[-1].date_sorted
    expected = {p.id for p in papers[30:]} | {"2502.00001"}
    assert set(index.ids_of(index.rows_since(30))) == expected


def test_rank_can_be_restricted_to_given_ids() -> None:
    papers = corpus()
    index = _build(papers)
    robot = [p.id for p in papers if p.id[5] == "2"]
    allowed = robot[:4] + ["2599.99999"]  # an id the index lacks is ignored
    ranking = rank(
        index, NicheProfile("r", ("grasping", "tactile sensing"), band=None), ids=allowed
    )
    assert ranking.picks and {p.paper_id for p in ranking.picks} <= set(robot[:4])


def test_a_control_character_in_a_document_does_not_shift_the_rest() -> None:
    docs = ["alpha beta\x01gamma", "delta epsilon", "delta epsilon"]
    index = build(["a", "b", "c"], docs, [0, 0, 0])
    assert set(index.ids_of(index.postings(index.phrase("delta epsilon").own[0]))) == {"b", "c"}
    assert index.ids_of(index.postings(index.phrase("gamma").own[0])) == ["a"]


def test_in_a_large_store_a_one_off_word_matches_but_does_not_count_in_a_papers_length() -> None:
    filler = [f"graph learning method number {i} for node data" for i in range(600)]
    docs = ["zyxquartz graph learning for node data", *filler]
    index = build([f"p{i}" for i in range(len(docs))], docs, [0] * len(docs))
    ranking = rank(index, NicheProfile("n", ("zyxquartz",), band=None))
    assert [p.paper_id for p in ranking.picks] == ["p0"]
    [col] = index.phrase("zyxquartz").own
    row = index.vectors(index.postings(col))
    cols = row.indices.astype(np.int64)
    order = np.argsort(cols)
    counts = np.empty(len(cols), dtype=bool)
    counts[order] = index.weights_of(cols[order])[1]
    assert not counts[cols == col].any()  # the one-off word (and its phrases) are left out
    assert counts.any()
    assert np.sqrt(np.square(row.data[counts]).sum()) == pytest.approx(1.0)
