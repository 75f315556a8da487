"""Load the arXiv corpus the harnesses run on, straight from the .jsonl.gz (no store needed)."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "data" / "arxiv-cs-2025-2026.jsonl.gz"
DEV_NICHES = SHARED / "eval" / "dev_niches.yaml"


@dataclass(frozen=True, slots=True)
class Corpus:
    ids: list[str]
    titles: list[str]
    docs: list[str]  # what the ranker indexes: title + abstract
    categories: list[frozenset[str]]
    dates: list[int]  # epoch seconds of update_date


def load_corpus(path: Path = CORPUS) -> Corpus:
    if not path.exists():
        raise SystemExit(
            f"{path} not found: the harnesses need the shared arXiv corpus beside the project"
        )
    ids, titles, docs, cats, dates = [], [], [], [], []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            title = " ".join(rec["title"].split())
            ids.append(rec["id"])
            titles.append(title)
            docs.append(f"{title}\n{rec['abstract']}")
            cats.append(frozenset(rec.get("categories", "").split()))
            day = rec.get("update_date") or "1970-01-01"
            dates.append(int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()))
    return Corpus(ids, titles, docs, cats, dates)


def load_niches(path: Path = DEV_NICHES) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["niches"]


# ---- replicated corpora for measuring at scale -------------------------------------------------

CACHE = Path(os.environ.get("MIDLIST_BENCH_CACHE", Path.home() / ".cache" / "midlist-bench"))
_WORD = re.compile(r"[A-Za-z]{3,}")


def replicated(papers: int, cache: Path = CACHE) -> Path:
    """A Kaggle-format JSONL of `papers` papers built from the real corpus, made once and cached.

    Copy 0 is the corpus itself; copy r > 0 has ids `bench/RRNNNNN`, dates r * 2 years earlier,
    its abstract's sentences shuffled (seeded by r and the paper), and every word that at most
    two papers of the corpus use made distinct per copy (so the vocabulary grows with the corpus
    as a real one does instead of repeating). Deterministic: the same file on every machine.
    """
    path = cache / f"corpus-{papers}.jsonl"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    records = _records()
    rare = _rare_words(records)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for n, rec in enumerate(_copies(records, rare)):
            if n == papers:
                break
            out.write(json.dumps(rec) + "\n")
    tmp.rename(path)
    return path


def extra_papers(count: int, cache: Path = CACHE) -> Path:
    """`count` papers no replicated corpus holds (copy 99), dated like the newest copy."""
    path = cache / f"extra-{count}.jsonl"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        records = _records()
        rare = _rare_words(records)
        with open(path, "w", encoding="utf-8") as out:
            for i, rec in enumerate(records[:count]):
                out.write(json.dumps(_copy(rec, i, 99, rare, shift_years=0)) + "\n")
    return path


def _records(path: Path = CORPUS) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _rare_words(records: list[dict[str, str]]) -> frozenset[str]:
    df: Counter[str] = Counter()
    for rec in records:
        df.update({w.lower() for w in _WORD.findall(rec["abstract"])})
    return frozenset(w for w, n in df.items() if n <= 2)


def _copies(records: list[dict[str, str]], rare: frozenset[str]) -> Iterator[dict[str, str]]:
    for r in range(99):
        for i, rec in enumerate(records):
            yield rec if r == 0 else _copy(rec, i, r, rare, shift_years=2 * r)


def _copy(
    rec: dict[str, str], i: int, r: int, rare: frozenset[str], shift_years: int
) -> dict[str, str]:
    tag = "q" + "".join(chr(ord("a") + int(d)) for d in str(r))
    sentences = rec["abstract"].split(". ")
    random.Random(r * 1_000_003 + i).shuffle(sentences)
    abstract = _WORD.sub(
        lambda m: m.group() + tag if m.group().lower() in rare else m.group(), ". ".join(sentences)
    )
    day = rec.get("update_date") or "2025-01-01"
    return {
        **rec,
        "id": f"bench/{r:02d}{i:05d}",
        "abstract": abstract,
        "update_date": f"{int(day[:4]) - shift_years:04d}{day[4:]}",
    }
