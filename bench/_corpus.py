"""Load the arXiv corpus the harnesses run on, straight from the .jsonl.gz (no store needed)."""

from __future__ import annotations

import gzip
import json
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
