"""`midlist tune` speed on the 74.7k-paper corpus, against `midlist query` in the same run.

For each development niche (the first NICHES of dev_niches.yaml): the wall time of
`midlist tune NICHE` and of `midlist query --niche NICHE` from fresh processes against the same
prepared store and index (best of RUNS), and in-process the time of `ranking.explain.explain`
against `ranking.rank` on the loaded index. tune scores the niche again without its exclusions
and seeds when it has them, and writes a ~1 MB page; the goals:
- explain <= 3x rank (in-process)
- `midlist tune` <= 3x `midlist query` wall time, once the Vega script is cached

    python bench/tune_speed.py [--runs 3] [--niches 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._corpus import CORPUS, load_niches  # noqa: E402
from ranking import NicheProfile, TfidfIndex, rank  # noqa: E402
from ranking.explain import explain  # noqa: E402


def prepare(workdir: Path, niches: list[dict]) -> list[str]:
    """A config with the niches, the corpus imported and the index built (skipped if there)."""
    config = workdir / "config.yaml"
    data = {
        "storage": {"url": "sqlite:///midlist.db", "index_dir": "index"},
        "niches": [{"name": n["name"], "keywords": n["keywords"]} for n in niches],
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    midlist = [str(Path(sys.executable).with_name("midlist")), "--config", str(config)]
    if not (workdir / "midlist.db").exists():
        subprocess.run([*midlist, "import", str(CORPUS)], check=True, capture_output=True)
    # the first query builds the index, the first tune bundles and caches the Vega script
    subprocess.run(
        [*midlist, "query", "--niche", niches[0]["name"]], check=True, capture_output=True
    )
    out = workdir / "warm.html"
    subprocess.run(
        [*midlist, "tune", niches[0]["name"], "-o", str(out)], check=True, capture_output=True
    )
    return midlist


def best_wall(command: list[str], runs: int) -> float:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    return min(walls)


def best_call(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
    return min(walls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--niches", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="reuse a prepared store (default: a temp dir)")
    args = parser.parse_args(argv)
    niches = load_niches()[: args.niches]
    with tempfile.TemporaryDirectory(prefix="midlist-tune-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        midlist = prepare(workdir, niches)
        print(f"prepared store and index in {time.perf_counter() - started:.1f} s")
        index = TfidfIndex.load(workdir / "index")
        print(f"{len(index):,} papers\n")
        print(
            f"{'niche':<16} {'rank':>8} {'explain':>8} {'ratio':>6} {'query':>8} {'tune':>8} {'ratio':>6}"
        )
        worst_explain = worst_tune = 0.0
        for n in niches:
            profile = NicheProfile(n["name"], tuple(n["keywords"]))
            ranked = best_call(lambda p=profile: rank(index, p, limit=7), args.runs)
            explained = best_call(lambda p=profile: explain(index, p, limit=7), args.runs)
            query = best_wall([*midlist, "query", "--niche", n["name"]], args.runs)
            page = workdir / f"{n['name']}.html"
            tune = best_wall([*midlist, "tune", n["name"], "-o", str(page)], args.runs)
            worst_explain = max(worst_explain, explained / ranked)
            worst_tune = max(worst_tune, tune / query)
            print(
                f"{n['name']:<16} {ranked:>7.2f}s {explained:>7.2f}s {explained / ranked:>5.1f}x"
                f" {query:>7.2f}s {tune:>7.2f}s {tune / query:>5.1f}x"
            )
        ok_explain, ok_tune = worst_explain <= 3, worst_tune <= 3
        print(
            f"\nexplain / rank, worst: {worst_explain:.1f}x (goal <= 3x): {'PASS' if ok_explain else 'FAIL'}"
        )
        print(
            f"tune / query wall, worst: {worst_tune:.1f}x (goal <= 3x): {'PASS' if ok_tune else 'FAIL'}"
        )
    return 0 if ok_explain and ok_tune else 1


if __name__ == "__main__":
    raise SystemExit(main())
