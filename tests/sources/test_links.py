"""The link extractor: every common spelling of a paper link reduces to one key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.links import canonical, doi_key, find_links

NEW_ID = st.one_of(
    # four-digit numbers from 2007 to 2014, five from 2015 on (as arXiv numbers them)
    st.builds(
        lambda yy, mm, n: f"{yy:02d}{mm:02d}.{n:04d}",
        st.integers(7, 14),
        st.integers(1, 12),
        st.integers(0, 9999),
    ),
    st.builds(
        lambda yy, mm, n: f"{yy:02d}{mm:02d}.{n:05d}",
        st.integers(15, 29),
        st.integers(1, 12),
        st.integers(0, 99999),
    ),
)
OLD_ID = st.builds(
    lambda archive, yy, mm, n: f"{archive}/{yy:02d}{mm:02d}{n:03d}",
    st.sampled_from(["hep-th", "math", "cs", "quant-ph", "cond-mat", "astro-ph"]),
    st.sampled_from([91, 95, 99, 0, 3, 7]),
    st.integers(1, 12),
    st.integers(1, 999),
)
VERSION = st.one_of(st.just(""), st.integers(1, 30).map(lambda v: f"v{v}"))
ARXIV_SHAPES = [
    "https://arxiv.org/abs/{id}{v}",
    "http://arxiv.org/abs/{id}{v}",
    "https://arxiv.org/pdf/{id}{v}",
    "https://arxiv.org/pdf/{id}{v}.pdf",
    "https://arxiv.org/html/{id}{v}",
    "https://export.arxiv.org/abs/{id}{v}",
    "https://www.arxiv.org/abs/{id}{v}",
    "https://ar5iv.labs.arxiv.org/html/{id}{v}",
    "https://ar5iv.org/abs/{id}{v}",
    "https://www.alphaxiv.org/abs/{id}{v}",
    "https://alphaxiv.org/overview/{id}{v}",
    "https://huggingface.co/papers/{id}",
    "arxiv.org/abs/{id}{v}",
    "arXiv:{id}{v}",
    "arxiv: {id}{v}",
    "[the paper](https://arxiv.org/abs/{id}{v})",
    "<https://arxiv.org/abs/{id}{v}>",
]
TRAILING = st.sampled_from(["", ".", ",", ")", ";", "!", "?", ":", "'", '"', "...", ")."])


@given(NEW_ID | OLD_ID, VERSION, st.sampled_from(ARXIV_SHAPES), TRAILING)
def test_every_arxiv_shape_gives_the_versionless_id(
    paper: str, version: str, shape: str, end: str
) -> None:
    text = f"I liked ({shape.format(id=paper, v=version)}{end} a lot"
    if not shape.startswith("[") and end.startswith(")"):
        text = text.replace("I liked (", "I liked ")
    found = find_links(text)
    assert [f.paper_id for f in found] == [paper]
    assert found[0].url == f"https://arxiv.org/abs/{paper}"
    assert "I liked" in found[0].context


@given(st.lists(NEW_ID, min_size=1, max_size=6, unique=True))
def test_ids_come_back_once_each_in_order(ids: list[str]) -> None:
    text = " and ".join(f"https://arxiv.org/abs/{i}v2 (arXiv:{i})" for i in ids)
    assert [f.paper_id for f in find_links(text)] == ids


@given(
    st.from_regex(r"10\.\d{4,6}/[A-Za-z0-9][A-Za-z0-9.\-_/]{0,30}[A-Za-z0-9]", fullmatch=True),
    TRAILING,
)
def test_dois_round_trip_lower_cased(doi: str, end: str) -> None:
    for text in (
        f"see https://doi.org/{doi}{end}",
        f"doi: {doi}{end} here",
        f"dx.doi.org/{doi}{end}",
    ):
        [found] = find_links(text)
        assert found.paper_id == f"doi:{doi.lower()}"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://arxiv.org/abs/hep-th/9901001v3", "hep-th/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136", "math/0309136"),
        ("https://arxiv.org/pdf/2405.00001v2.pdf#page=3", "2405.00001"),
        ("https://doi.org/10.48550/arXiv.2303.08774", "2303.08774"),
        ("https://openreview.net/forum?id=rJ4km2R5t7&noteId=abc", "openreview:rJ4km2R5t7"),
        ("https://openreview.net/pdf?id=rJ4km2R5t7", "openreview:rJ4km2R5t7"),
        ("http://dx.doi.org/10.1145/3292500.3330701", "doi:10.1145/3292500.3330701"),
        ("https://dl.acm.org/doi/abs/10.1145/3292500.3330701", "doi:10.1145/3292500.3330701"),
        (
            "https://www.biorxiv.org/content/10.1101/2023.12.16.571984v2.full.pdf",
            "doi:10.1101/2023.12.16.571984",
        ),
        (
            "https://aclanthology.org/2023.acl-long.1.pdf",
            "https://aclanthology.org/2023.acl-long.1/",
        ),
        ("https://aclanthology.org/P19-1001/", "https://aclanthology.org/P19-1001/"),
        (
            "https://proceedings.neurips.cc/paper_files/paper/2023/file/"
            "0123456789abcdef0123456789abcdef-Paper-Conference.pdf",
            "https://proceedings.neurips.cc/paper_files/paper/2023/hash/"
            "0123456789abcdef0123456789abcdef-Abstract-Conference.html",
        ),
        (
            "https://proceedings.neurips.cc/paper/2020/hash/1457c0d6bfcb4967418bfb8ac142f64a-Abstract.html",
            "https://proceedings.neurips.cc/paper_files/paper/2020/hash/"
            "1457c0d6bfcb4967418bfb8ac142f64a-Abstract.html",
        ),
        (
            "http://proceedings.mlr.press/v139/radford21a/radford21a.pdf",
            "https://proceedings.mlr.press/v139/radford21a.html",
        ),
        (
            "https://proceedings.mlr.press/v139/radford21a.html",
            "https://proceedings.mlr.press/v139/radford21a.html",
        ),
        (
            "https://www.semanticscholar.org/paper/Attention-is-All-you-Need-Vaswani/"
            "204e3073870fae3d05bcbc2f6a8e263d9b72e776",
            "https://www.semanticscholar.org/paper/204e3073870fae3d05bcbc2f6a8e263d9b72e776",
        ),
        (
            "http://WWW.Example.com/papers/x.PDF?utm_source=tw#p2",
            "https://example.com/papers/x.PDF",
        ),
    ],
)
def test_canonical_keys(url: str, key: str) -> None:
    found = canonical(url)
    assert found is not None and found[0] == key


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/state-spaces/mamba",
        "https://arxiv.org/list/cs.LG/recent",
        "https://huggingface.co/models",
        "https://openreview.net/group?id=ICLR.cc",
        "https://www.reddit.com/r/MachineLearning/",
        "ftp://example.com/x.pdf",
    ],
)
def test_not_papers(url: str) -> None:
    assert canonical(url) is None
    assert find_links(f"see {url} now") == []


def test_markdown_escapes_and_link_text() -> None:
    text = r"Try [OpenReview paper](https://openreview.net/forum?id=abc\_def\_) \- it's *great*."
    [found] = find_links(text)
    assert found.paper_id == "openreview:abc_def_"
    assert found.text == "OpenReview paper"
    assert found.context == "Try OpenReview paper - it's *great*."


def test_generic_link_words_are_not_titles() -> None:
    [found] = find_links("Paper [here](https://arxiv.org/abs/2101.00001).")
    assert found.text is None


def test_html_relative_links_resolve_against_the_base() -> None:
    html = '<p>Read <a href="../files/report.pdf">Our Report</a>. Then <a href="/about">us</a>.</p>'
    found = find_links(html, html=True, base_url="https://blog.example.org/posts/1")
    assert [(f.paper_id, f.text, f.context) for f in found] == [
        ("https://blog.example.org/files/report.pdf", "Our Report", "Read Our Report.")
    ]
    on_arxiv = find_links(
        '<a href="/abs/2101.00001v2">A</a>', html=True, base_url="https://arxiv.org/list/new"
    )
    assert [f.paper_id for f in on_arxiv] == ["2101.00001"]


def test_context_is_the_sentence_around_the_link() -> None:
    text = (
        "First sentence here. The second one cites arXiv:2101.00001 in the middle. "
        "A third sentence follows.\nAnd a new line."
    )
    [found] = find_links(text)
    assert found.context == "The second one cites arXiv:2101.00001 in the middle."


def test_long_context_is_trimmed_around_the_link() -> None:
    text = "word " * 200 + "arXiv:2101.00001 " + "more " * 200
    [found] = find_links(text)
    assert len(found.context) <= 282
    assert "arXiv:2101.00001" in found.context


def test_numbers_that_look_like_ids_are_not_papers() -> None:
    assert find_links("Version 2101.00001 of the app costs 10.5/month, see cs/123.") == []


def test_doi_key_rejects_non_dois() -> None:
    assert doi_key("11.1234/x") is None
    assert doi_key("10.1234/ABC.") == ("doi:10.1234/abc", "https://doi.org/10.1234/abc")


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\-]{4,14}", fullmatch=True), TRAILING, st.booleans())
def test_openreview_ids_survive_reddit_escaping(forum: str, end: str, markdown: bool) -> None:
    escaped = forum.replace("_", "\\_")
    url = f"https://openreview.net/forum?id={escaped}"
    text = (
        f"[a paper]({url}){end} and arXiv:2101.00001"
        if markdown
        else f"{url}{end} and arXiv:2101.00001"
    )
    assert [f.paper_id for f in find_links(text)] == [f"openreview:{forum}", "2101.00001"]


@pytest.mark.parametrize(
    "text",
    [
        "see http://example.com:99999/paper.pdf and arXiv:2101.00001",
        "see https://example.com:abc/paper.pdf and arXiv:2101.00001",
        "see [a report](http://example.com:70000/r.pdf) and arXiv:2101.00001",
    ],
)
def test_a_url_with_a_bad_port_is_skipped_not_fatal(text: str) -> None:
    assert [f.paper_id for f in find_links(text)] == ["2101.00001"]


def test_an_unparseable_html_href_is_skipped_not_fatal() -> None:
    html = '<p><a href="http://[oops/x">broken</a> and <a href="/abs/2101.00001">A</a></p>'
    found = find_links(html, html=True, base_url="https://arxiv.org/list/new")
    assert [f.paper_id for f in found] == ["2101.00001"]
