"""Which duplicates a benchmark warehouse holds that the corpus did not plant, and why.

A newsflow run over the corpus (bench.run) reports held duplicates by kind; where they outnumber
the planted copies, this names the pages: for every article with duplicate_of set that is not a
planted copy linked to its original (nor an original linked to its copy, which came first), the
plan kinds of the pair, the duplicate kind and the pair's true Jaccard on newsflow's own 5-word
shingles; then the planted copies not linked, with the reason (rejected pages, a similarity
estimated under the threshold).

Keep a warehouse first (bench.run deletes its own):
  python -m bench.corpus --n 2000 --planted /tmp/planted.json   (prints READY <port> …)
  python -m bench.ingest_job --urls urls.txt --db /tmp/news.duckdb --extraction fast --no-rerun
Run: python -m bench.unplanted --db /tmp/news.duckdb --n 2000
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

import duckdb

from bench.corpus import Corpus, PageSpec
from tasks.dedupe import _shingle_hashes, _words

_PAGE_RE = re.compile(r"/news/(\d{6})\.html")


def _page(url: str) -> int:
    return int(_PAGE_RE.search(url)[1])


def jaccard(text: str, other: str) -> float:
    """True Jaccard of the two texts' shingles as newsflow hashes them (not a MinHash estimate)."""
    a, b = (set(_shingle_hashes(_words(t)).tolist()) for t in (text, other))
    return len(a & b) / len(a | b) if a | b else 1.0


def _unique(plan: Corpus, index: int) -> PageSpec:
    """The real or mixed page that page `index` renders."""
    spec = plan.specs[index]
    return spec if spec.kind in ("real", "mixed") else plan.specs[plan._original_index(spec.source)]


def pair_kind(plan: Corpus, index: int, other: int) -> str:
    """real/real, mixed/real, mixed/mixed (same or other template) of the pages they render."""
    kinds = sorted((_unique(plan, index), _unique(plan, other)), key=lambda spec: spec.kind)
    if kinds[0].kind == kinds[1].kind == "mixed":
        same = kinds[0].source == kinds[1].source
        return f"mixed/mixed {'same' if same else 'other'} template"
    return f"{kinds[0].kind}/{kinds[1].kind}"


def report(db: str, plan: Corpus) -> None:
    with duckdb.connect(db, read_only=True) as conn:
        rows = conn.execute("SELECT id, url, duplicate_of, duplicate_kind, cluster_id, text "
                            "FROM articles").fetchall()  # fmt: skip
        rejected = {
            _page(url): why
            for url, why in conn.execute("SELECT url, reason FROM rejected").fetchall()
        }
    by_id = {row[0]: row for row in rows}
    by_page = {_page(row[1]): row for row in rows}
    cluster_of = {page: row[4] for page, row in by_page.items()}
    original_of = {copy: original for _, copy, original in plan.planted()}
    unplanted: Counter[tuple[str, str]] = Counter()
    for _, url, duplicate_of, kind, cluster, text in rows:
        if duplicate_of is None:
            continue
        page, other = _page(url), _page(by_id[duplicate_of][1])
        if page in original_of and cluster == cluster_of.get(original_of[page]):
            continue  # a planted copy, linked
        if _unique(plan, page) == _unique(plan, other):
            continue  # an original linked to its planted copy
        pair = pair_kind(plan, page, other)
        unplanted[pair, kind] += 1
        similarity = jaccard(text, by_id[duplicate_of][5])
        print(f"{page} {other}: {pair}, {kind}, Jaccard {similarity:.3f}")
    print("not planted:", sum(unplanted.values()), dict(unplanted))
    for kind, copy, original in plan.planted():
        if copy in cluster_of and cluster_of[copy] == cluster_of.get(original):
            continue
        absent = [f"{page} {rejected.get(page, 'absent')}" for page in (copy, original)
                  if page not in by_page]  # fmt: skip
        why = absent or [f"Jaccard {jaccard(by_page[copy][5], by_page[original][5]):.3f}"]
        print(f"planted {kind} {copy} of {original} not linked: {', '.join(why)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a DuckDB warehouse a benchmark run loaded")
    parser.add_argument("--n", type=int, required=True, help="the corpus's size in that run")
    args = parser.parse_args(argv)
    report(args.db, Corpus(args.n))


if __name__ == "__main__":
    main()
