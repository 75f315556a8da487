"""The analyzer: one function for papers and keywords, so a keyword matches its own variants."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from ranking import NicheProfile, build, rank
from ranking.text import STOP_WORDS, keyword_words, terms, tokens

# Nouns as they appear in abstracts, with their plurals (regular, -es, -ies, irregular).
NOUNS = {
    "process": "processes",
    "system": "systems",
    "recommender": "recommenders",
    "network": "networks",
    "auction": "auctions",
    "policy": "policies",
    "study": "studies",
    "box": "boxes",
    "patch": "patches",
    "class": "classes",
    "bias": "biases",
    "matrix": "matrices",
    "index": "indices",
    "analysis": "analyses",
    "hypothesis": "hypotheses",
    "vertex": "vertices",
    "graph": "graphs",
    "kernel": "kernels",
    "model": "models",
    "gaussian": "gaussians",
    "flight": "flights",
    "lens": "lenses",
    "search": "searches",
    "query": "queries",
    "approach": "approaches",
}
ACCENTED = {"a": "áàâäã", "e": "éèêë", "i": "íìîï", "o": "óòôöõ", "u": "úùûü", "c": "ç", "n": "ñ"}
nouns = st.sampled_from(sorted(NOUNS))


def _accent(word: str, picks: list[bool]) -> str:
    out = []
    for ch, pick in zip(word, picks + [False] * len(word), strict=False):
        out.append(ACCENTED[ch][0] if pick and ch in ACCENTED else ch)
    return "".join(out)


@given(st.lists(nouns, min_size=1, max_size=3), st.lists(st.booleans(), max_size=20))
def test_a_phrase_and_its_plural_accented_capitalised_variant_have_the_same_terms(
    words: list[str], picks: list[bool]
) -> None:
    singular = " ".join(words)
    variant = " ".join(_accent(NOUNS[w], picks).upper() for w in words)
    assert terms(variant) == terms(singular)


@given(nouns)
def test_plural_and_es_forms_of_a_keyword_find_the_paper(noun: str) -> None:
    docs = [f"A new {NOUNS[noun]} for robots", "Unrelated text about cooking pasta", "Pasta water"]
    index = build(["a", "b", "c"], docs, [0, 0, 0])
    ranking = rank(index, NicheProfile("n", (noun,), band=None))
    if noun in STOP_WORDS:  # "system" is one of sklearn's stop words, and so are its plurals
        assert ranking.picks == ()
    else:
        assert [p.paper_id for p in ranking.picks] == ["a"]


@given(st.text(alphabet="LlevyÉéèSchrödingerErdős \\'\"{}", max_size=30))
def test_accents_never_split_or_drop_a_word(text: str) -> None:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    plain = re.sub(r"[\\'\"{}]", "", folded).lower()
    assert "".join(tokens(re.sub(r"[\\'\"{}]", "", text))) == "".join(
        t for t in re.findall(r"\w\w+", plain)
    )


def test_accents_and_latex_accents_fold_to_the_plain_word() -> None:
    plain = terms("Levy flights and Schrodinger bridges by Erdos")
    assert terms("Lévy flights and Schrödinger bridges by Erdős") == plain
    assert terms(r"L\'evy flights and Schr\"odinger bridges by Erd{\H o}s") == plain
    assert terms(r"L{\'e}vy flights and Schr\"{o}dinger bridges by Erd\H{o}s") == plain


def test_stop_words_are_dropped_after_inflections_are_folded() -> None:
    assert terms("recommender systems") == terms("recommender system") == ["recommend"]
    assert terms("Gaussian processes") == terms("Gaussian process") == ["gaussian", "process"]
    assert terms("it shows severe bias") == ["sever", "bias"]  # "several" stops only itself


def test_keyword_words_keep_the_users_words_beside_their_terms() -> None:
    assert keyword_words("Lévy flights, state-space models") == [
        ("Lévy", "levi"),
        ("flights", "flight"),
        ("state-space", "state"),
        ("state-space", "space"),
        ("models", "model"),
    ]


def test_reasons_show_the_users_words_not_stems() -> None:
    docs = ["Gaussian flights over Levy lakes", "pasta", "more pasta"]
    index = build(["a", "b", "c"], docs, [0, 0, 0])
    [pick] = rank(index, NicheProfile("n", ("Lévy flights", "Gaussian processes"), band=None)).picks
    assert pick.reasons[:2] == ('matches "Lévy flights"', 'mentions "Gaussian"')


def test_stop_words_are_sklearns() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    assert STOP_WORDS == ENGLISH_STOP_WORDS
