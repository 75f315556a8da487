"""Ranking at scale: import, cold build, index size, warm queries and daily adds, 75k to 750k papers.

For each size (75k, then --papers, and any --sizes between), on a store made with `midlist import`
from a deterministic replicated corpus (bench/_corpus.py, cached in ~/.cache/midlist-bench):
- import: `midlist import` wall time;
- cold build: `midlist index --rebuild` wall time and peak RSS (goal at 750k: <= 270 s, <= 2.4 GB);
- index on disk;
- warm query: median wall time of `midlist query` from a fresh process (goal at 750k: <= 1.5 s),
  and with a 30-day `--since` window (goal <= 1.0 s);
- add 1k: 1,000 new papers imported, then one `midlist query` that appends them to the index
  and ranks (goal at 750k: <= 3 s, <= 1 GB RSS);
then a projection to 2.5M and 5M papers (those larger than --papers): a line, fixed cost plus cost
per paper, fitted to the measured sizes. The goals are checked on the 750k row when it is measured.
At 75k the in-memory build is also timed against fitting arxiv-sanity-lite's vectoriser on the
same texts (goal: >= 4x faster). Each measured command runs in its own process.

    python bench/ranking.py [--papers 750000] [--sizes 300000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._corpus import CACHE, extra_papers, load_corpus, replicated  # noqa: E402

BASE = 74_728
QUERY = "robot manipulation, grasping, motion planning"
GOALS_AT = 750_000


def measured(*args: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of a command run in its own process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "if done.returncode: sys.exit(done.stderr[-2000:])\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(f'{wall} {rss}'); print(done.stdout, end='')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *args], check=True, capture_output=True, text=True
    ).stdout
    first, _, rest = out.partition("\n")
    wall, rss = (float(v) for v in first.split())
    return wall, rss, rest


def measure_size(papers: int, runs: int, workdir: Path, keep: bool) -> dict[str, float]:
    corpus = replicated(papers)
    config = workdir / "config.yaml"
    midlist = [str(Path(sys.executable).with_name("midlist")), "--config", str(config)]
    out: dict[str, float] = {"papers": papers}
    done = workdir / "imported.json"
    if keep and done.exists():  # the store from an earlier run: its import time is reused
        out["import_s"] = json.loads(done.read_text("utf-8"))["import_s"]
        shutil.rmtree(workdir / "index", ignore_errors=True)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        config.write_text("storage:\n  url: sqlite:///midlist.db\n  index_dir: index\n", "utf-8")
        out["import_s"], _, _ = measured(*midlist, "import", str(corpus))
        if keep:
            done.write_text(json.dumps({"import_s": out["import_s"]}), "utf-8")
    out["build_s"], out["build_mb"], _ = measured(*midlist, "index", "--rebuild")
    index = workdir / "index"
    out["disk_mb"] = sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 2**20
    since = "2026-06-01"  # the newest 30 days of the corpus (copies are years older)
    for name, extra in (("query_s", []), ("query30_s", ["--since", since])):
        walls = []
        for _ in range(runs):
            wall, rss, stdout = measured(*midlist, "query", QUERY, "--json", *extra)
            assert stdout.lstrip().startswith("["), stdout[:200]
            walls.append(wall)
        out[name] = statistics.median(walls)
        out[name.replace("_s", "_mb")] = rss
    if not keep:
        measured(*midlist, "import", str(extra_papers(1000)))
        out["add_s"], out["add_mb"], _ = measured(*midlist, "query", QUERY, "--json")
        out["after_add_s"], _, _ = measured(*midlist, "query", QUERY, "--json")
        shutil.rmtree(workdir, ignore_errors=True)
        return out
    # Keeping the store: add the 1,000 papers, time it, then take them out again.
    measured(*midlist, "import", str(extra_papers(1000)))
    out["add_s"], out["add_mb"], _ = measured(*midlist, "query", QUERY, "--json")
    out["after_add_s"], _, _ = measured(*midlist, "query", QUERY, "--json")
    _forget_extra(workdir / "midlist.db")
    return out


def _fit(rows: list[dict[str, float]], key: str, papers: int) -> float:
    """A figure at `papers` from a least-squares line (a fixed cost plus a cost per paper)
    through the measured sizes. Starting Python and opening the store are most of a query at
    75k, so scaling the largest size in proportion would overstate a query several times."""
    if len(rows) < 2:
        return rows[-1][key] * papers / rows[-1]["papers"]
    slope, intercept = np.polyfit([r["papers"] for r in rows], [r[key] for r in rows], 1)
    return float(max(intercept + slope * papers, rows[-1][key]))


def _forget_extra(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM papers WHERE id LIKE 'bench/99%'")


def _build_child(out: mp.Queue) -> None:  # type: ignore[type-arg]
    from ranking import build

    corpus = load_corpus()
    start = time.perf_counter()
    build(corpus.ids, corpus.docs, corpus.dates, [sorted(c) for c in corpus.categories])
    out.put((time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _asl_child(out: mp.Queue) -> None:  # type: ignore[type-arg]
    from bench.quality import asl_vectorizer

    docs = load_corpus().docs
    start = time.perf_counter()
    asl_vectorizer().fit_transform(docs)
    out.put((time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def in_child(target):  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
    child = mp.get_context("spawn").Process(target=target, args=(queue,))
    child.start()
    result = queue.get()
    child.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=GOALS_AT, help="largest corpus measured")
    parser.add_argument("--sizes", type=int, nargs="*", default=[], help="sizes in between")
    parser.add_argument("--runs", type=int, default=5, help="queries timed per size")
    parser.add_argument(
        "--keep", action="store_true", help="keep the imported stores and reuse them next time"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the arxiv-sanity-lite comparison"
    )
    args = parser.parse_args(argv)
    print(
        f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} "
        f"(machine shared; figures from this run); corpora cached in {CACHE}"
    )
    ok = True
    if not args.no_baseline:
        ours, ours_kb = in_child(_build_child)
        asl, asl_kb = in_child(_asl_child)
        ok = asl / ours >= 4
        print(
            f"75k in-memory build {ours:.1f} s ({ours_kb / 1024:.0f} MB) vs arxiv-sanity-lite "
            f"fit {asl:.1f} s ({asl_kb / 1024:.0f} MB): {asl / ours:.1f}x, goal >= 4x "
            f"{'PASS' if ok else 'FAIL'}"
        )

    sizes = sorted({BASE, *args.sizes, args.papers})
    rows = []
    for n in sizes:
        row = measure_size(n, args.runs, CACHE / f"run-{n}", args.keep)
        rows.append(row)
        print(json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)

    columns = [
        ("import", "import_s", "s"),
        ("cold build", "build_s", "s"),
        ("build peak RSS", "build_mb", "MB"),
        ("index on disk", "disk_mb", "MB"),
        ("warm query (median)", "query_s", "s"),
        ("query, 30-day window", "query30_s", "s"),
        ("add 1k + query", "add_s", "s"),
        ("add 1k + query RSS", "add_mb", "MB"),
    ]
    targets = [t for t in (2_500_000, 5_000_000) if t > rows[-1]["papers"]]
    projected = {t: {key: _fit(rows, key, t) for _, key, _ in columns} for t in targets}
    header = f"{'':<24}" + "".join(f"{r['papers']:>11,}" for r in rows)
    header += "".join(f"{f'{t / 1e6:g}M*':>11}" for t in targets)
    print("\n" + header)
    for name, key, unit in columns:
        cells = [r[key] for r in rows] + [projected[t][key] for t in targets]
        print(f"{name + ' (' + unit + ')':<24}" + "".join(f"{c:>11.1f}" for c in cells))
    if targets:
        print(
            "* projected: a straight line (fixed cost + cost per paper) fitted to the measured "
            "sizes, never below the largest measured figure"
        )

    big = next((r for r in rows if r["papers"] == GOALS_AT), None)
    if big is not None:
        goals = [
            ("build <= 270 s", big["build_s"] <= 270),
            ("build peak RSS <= 2.4 GB", big["build_mb"] <= 2.4 * 1024),
            ("warm query <= 1.5 s", big["query_s"] <= 1.5),
            ("30-day query <= 1.0 s", big["query30_s"] <= 1.0),
            ("add 1k + query <= 3 s", big["add_s"] <= 3),
            ("add 1k + query RSS <= 1 GB", big["add_mb"] <= 1024),
        ]
        for name, passed in goals:
            print(f"{'PASS' if passed else 'FAIL'}: {name} at {big['papers']:,} papers")
            ok &= passed
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
