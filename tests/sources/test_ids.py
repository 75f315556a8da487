"""One spelling per paper: every form of an arXiv id maps to the same version-less key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.ids import ArxivId, paper_url, parse_arxiv_id


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2405.00001", ArxivId("2405.00001", None)),
        ("2405.00001v3", ArxivId("2405.00001", 3)),
        ("arXiv:2405.00001v2", ArxivId("2405.00001", 2)),
        ("0704.0001", ArxivId("0704.0001", None)),
        ("hep-th/9901001v2", ArxivId("hep-th/9901001", 2)),
        ("math.GT/0309136", ArxivId("math/0309136", None)),
        ("cond-mat/0102536v1", ArxivId("cond-mat/0102536", 1)),
        ("  1501.00001 ", ArxivId("1501.00001", None)),
    ],
)
def test_parse_keeps_the_key_and_splits_the_version(text: str, expected: ArxivId) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text", ["abc", "2413.1234", "1413.12345", "2405.001", "hep-th/99", "2405.00001 extra"]
)
def test_parse_rejects_what_is_not_an_id(text: str) -> None:
    assert parse_arxiv_id(text) is None


@given(
    year=st.integers(15, 99),
    month=st.integers(1, 12),
    number=st.integers(0, 99999),
    version=st.none() | st.integers(1, 30),
)
def test_every_version_maps_to_one_key(
    year: int, month: int, number: int, version: int | None
) -> None:
    base = f"{year:02d}{month:02d}.{number:05d}"
    text = base if version is None else f"{base}v{version}"
    parsed = parse_arxiv_id(text)
    assert parsed is not None and parsed.base == base
    assert str(parsed) == text


@pytest.mark.parametrize(
    "key, url",
    [
        ("2405.00001", "https://arxiv.org/abs/2405.00001"),
        ("hep-th/9901001", "https://arxiv.org/abs/hep-th/9901001"),
        ("doi:10.1145/123", "https://doi.org/10.1145/123"),
        ("openreview:abc123", "https://openreview.net/forum?id=abc123"),
        ("https://aclanthology.org/2023.acl-long.1", "https://aclanthology.org/2023.acl-long.1"),
    ],
)
def test_paper_url(key: str, url: str) -> None:
    assert paper_url(key) == url
