"""The hand-run benchmarks still work: corpus plan and server, baseline, micro-benchmarks, tiny."""

from __future__ import annotations

import pytest
import requests

from bench.baseline import run_baseline
from bench.corpus import COPY_SHARE, NEAR_SHARE, Corpus, serve
from bench.load_growth import measure_growth
from bench.micro import RESULTS, _print_table, measure, measure_summaries


def test_corpus_plan_has_the_stated_shares_and_renders_stable_pages(corpus):
    plan = Corpus(400, corpus)
    counts = plan.counts()
    assert counts["copy"] == int(400 * COPY_SHARE)
    assert counts["near"] == int(400 * NEAR_SHARE)
    assert counts["real"] + counts.get("mixed", 0) == 400 - counts["copy"] - counts["near"]
    copy = next(i for i, spec in enumerate(plan.specs) if spec.kind == "copy")
    original = plan._original_index(plan.specs[copy].source)
    assert plan.render(copy) == plan.render(original)  # an exact copy under another URL
    near = next(i for i, spec in enumerate(plan.specs) if spec.kind == "near")
    assert plan.render(near) != plan.render(plan._original_index(plan.specs[near].source))
    assert plan.render(near) == plan.render(near)  # the same page on every request


def test_corpus_server_answers_conditional_requests_and_the_baseline_loads_it(corpus, tmp_path):
    plan = Corpus(24, corpus)
    server = serve(plan)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        urls = [f"{base}/news/{i:06d}.html" for i in range(24)]
        first = requests.get(urls[0], timeout=10)
        assert first.status_code == 200 and first.headers["ETag"]
        again = requests.get(urls[0], headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
        assert again.status_code == 304
        assert requests.get(f"{base}/news/999999.html", timeout=10).status_code == 404
        result = run_baseline(urls, str(tmp_path / "baseline.duckdb"))
    finally:
        server.shutdown()
    assert result["pages"] == 24
    assert 20 <= result["extracted"] <= 24
    assert result["unique_texts"] < result["extracted"]  # the plan's copies hash alike


@pytest.mark.parametrize("lake", [False, True], ids=["duckdb", "ducklake"])
def test_near_duplicate_micro_benchmark_finds_every_planted_copy(tmp_path, lake):
    row = measure(stored=2_000, batch=20, folder=str(tmp_path), lake=lake)
    assert row["signatures"] == row["stored"] == 2_000  # the planted copies are among them
    assert row["near_found"] == row["near_planted"] == 10
    assert row["lookup_ms_per_article"] > 0 and row["load_ms_per_article"] > 0
    assert row["warehouse"] == ("ducklake" if lake else "duckdb")
    assert row["band_index_mb"] > 0  # beside the warehouse file or the lake's catalog


def test_near_duplicate_micro_benchmark_reports_the_peak_of_the_lookups_and_loads(tmp_path):
    """Not the memory of the process that built the warehouse: 400 MB held here (as a build
    over a million signatures leaves) are not in it, and the lookups' and loads' growth is."""
    held = bytearray(400 * 2**20)  # zero-filled: every page touched, resident
    row = measure(stored=2_000, batch=20, folder=str(tmp_path))
    assert len(held) and 0 < row["start_rss_mb"] < row["peak_rss_mb"] < 400
    assert "rss_mb" not in row  # the builder's RSS, as results files before the fix hold it


def test_the_micro_table_prints_every_results_file(capsys):
    """Figures a file predates print as a dash: the files before the separate lookup process
    hold `rss_mb` (the builder's RSS) and no peak; the first holds no warm lookup."""
    import json

    files = sorted(RESULTS.glob("micro-*.json"))
    for path in files:
        report = json.loads(path.read_text())
        _print_table(report["near_duplicates"], report.get("summaries"))  # the first: none
    printed = capsys.readouterr().out
    assert len(files) >= 12
    assert "1000000          0.149        0.132        2.067 100/100        –        – " in printed
    assert "peak RSS – MB of a process running only the summaries (– MB before" in printed
    assert "peak RSS 366 MB of a process running only the summaries (93 MB before" in printed


def test_a_skipped_micro_benchmark_part_prints_nothing(capsys):
    """--skip near: no table header and no ratios of the near-duplicate rows, only summaries."""
    from bench.micro import main

    main(["--skip", "near", "--articles", "2000", "--events", "200", "--no-save"])
    printed = capsys.readouterr().out
    assert "summaries: 2000 articles, 200 events" in printed
    assert "stored" not in printed and "ratios" not in printed


def test_summaries_micro_benchmark_writes_the_daily_tables(tmp_path):
    row = measure_summaries(articles=5_000, events=500, folder=str(tmp_path))
    assert row["rows_written"]["daily_article_counts"] > 0
    assert row["rows_written"]["daily_captures"] > 0


def test_summaries_micro_benchmark_reports_the_peak_of_the_summaries_runs(tmp_path):
    """Not the memory of the process that built the warehouse: 400 MB held here (as a build
    over a million articles leaves) are not in it, and the runs' own growth is."""
    held = bytearray(400 * 2**20)  # zero-filled: every page touched, resident
    row = measure_summaries(articles=20_000, events=2_000, folder=str(tmp_path))
    assert len(held) and 0 < row["start_rss_mb"] < row["peak_rss_mb"] < 400


def test_load_growth_benchmark_reports_each_step(tmp_path):
    rows = measure_growth(str(tmp_path), batches=5, batch=4, small_bodies=False, memory_limit=None)
    assert [row["stored_articles"] for row in rows] == [20]
    assert rows[0]["load_s"] > 0 and rows[0]["rss_before_mb"] > 0


def test_the_ratio_is_taken_against_the_mean_of_the_two_baseline_runs():
    """The baseline runs before and after newsflow; one run of it drifts by a fifth here."""
    from bench.run import _summarize, markdown_table

    memory = {"peak_pss_mb": 600, "peak_rss_mb": 800}
    first = {"wall_s": 5.0, "task_runs": 7, "orchestration_share": 0.01, "orchestration_s": 0.05,
             "stage_s": {"extract": 4.0}}  # fmt: skip
    row = _summarize(
        {
            "n": 100,
            "extraction": "fast",
            "baseline": {"wall_s": 2.0, **memory},
            "baseline_after": {"wall_s": 2.5, **memory},
            "newsflow": {"first": first, "rerun": {"wall_s": 0.2}, **memory},
        }
    )
    assert row["baseline_runs_pages_s"] == [50.0, 40.0]
    assert row["baseline_pages_s"] == 44.44  # 100 pages in the mean 2.25 s
    assert row["ratio"] == round(20.0 / 44.44, 3)
    table = markdown_table([row])
    assert "| 100 | fast | 44.44 (50.0, 40.0) | 20.0 | 0.45 |" in table
    assert table.endswith("| – |")  # a row of a results file without duplicates found


def test_the_results_hold_typed_counts_and_the_planted_copies_newsflow_found(
    corpus, prefect_harness
):
    """bench.run at a toy size: the plan's counts are numbers, not the text of a dict, and each
    newsflow run reports how many planted copies its warehouse links to their original."""
    import json

    from bench.run import _prefect_env, markdown_table, measure_size, parse_args

    args = parse_args(["--sizes", "60", "--skip-baseline", "--extraction", "fast", "--no-save"])
    [row] = json.loads(json.dumps(measure_size(60, args, _prefect_env()), default=str))
    assert row["corpus"] == {"real": 48, "copy": 6, "near": 6}
    assert row["duplicates"]["found"] == {"copy": 6, "near": 6}
    held = row["duplicates"]["held"]
    assert set(held) <= {"exact", "canonical_url", "near"} and held["near"] >= 6
    assert sum(held.values()) >= 12  # the planted copies, and any pages of the corpus alike
    assert "| copies 6/6, near 6/6 (" in markdown_table([row])


@pytest.fixture(scope="module")
def plan_2000(corpus) -> Corpus:
    """The default seed's plan of 2000 pages: every real page and mixed ones (templates found)."""
    return Corpus(2000, corpus)


def test_corpus_uses_every_real_page_of_extraction_and_dates(corpus, plan_2000):
    """All of extraction/* and dates/* (Readability's source pages, not its expected output)."""
    real_files = [
        path
        for folder in ("extraction", "dates")
        for path in (corpus / folder).rglob("*.html.gz")
        if path.name != "expected.html.gz"
    ]
    plan = plan_2000
    assert len(plan.real) == len(real_files) == 511
    assert sorted(s.source for s in plan.specs if s.kind == "real") == list(range(len(plan.real)))
    small = Corpus(500, corpus)  # 400 unique pages: a sample across all three folders
    sampled = [s.source for s in small.specs if s.kind == "real"]
    assert len(sampled) == len(set(sampled)) == 400
    assert max(sampled) > 450 and min(sampled) < 50


def test_the_default_seed_gives_the_same_pages(plan_2000):
    """The digest of the 2000 pages the benchmark has served since four real pages written in
    UTF-8 under an old charset declaration are read as UTF-8 (2026-12-06, night: 165 of the 2000
    pages changed). If a change means to alter the pages, runs before and after it no longer
    compare: say so in bench/HISTORY.md, then update the digest."""
    import hashlib

    digest = hashlib.sha256()
    for index in range(2000):
        digest.update(hashlib.sha256(plan_2000.render(index).encode()).digest())
    assert digest.hexdigest() == "c8199a3e140f6da225294c4404ec44d618e12427025170996eff03f8e3739624"


def test_corpus_plan_extracts_each_real_page_once_outside_this_process(
    corpus, tmp_path, monkeypatch
):
    """The template checks, the plan's whole cost, run in worker processes, and the article
    check and the template check share one extraction of each real page."""
    import hashlib
    import os
    import shutil

    import bench.corpus

    html_files = sorted((corpus / "extraction/scrapinghub-aeb/html").glob("*.html.gz"))[:12]
    folder = tmp_path / "extraction/scrapinghub-aeb/html"
    folder.mkdir(parents=True)
    for path in html_files:
        shutil.copy(path, folder)
    log = tmp_path / "extractions.log"
    extract = bench.corpus._extract

    def logged_extract(page: str, precision: bool = True) -> str:
        with log.open("a") as fh:  # from the forked workers too
            fh.write(f"{os.getpid()} {precision} {hashlib.sha1(page.encode()).hexdigest()}\n")
        return extract(page, precision)

    monkeypatch.setattr(bench.corpus, "_extract", logged_extract)
    plan = Corpus(40, tmp_path)  # 32 unique pages: the 12 real ones and 20 mixed
    assert plan.counts()["mixed"] == 20 and plan.templates
    calls = [line.split() for line in log.read_text().splitlines()]
    real = {hashlib.sha1(page.encode()).hexdigest() for page in plan.real}
    extracted = sorted((precision, digest) for _, precision, digest in calls if digest in real)
    assert extracted == sorted(("True", digest) for digest in real)  # each once, precise
    assert str(os.getpid()) not in {pid for pid, _, _ in calls}


def test_saved_template_checks_are_read_only_for_the_pages_they_were_made_from(corpus, tmp_path):
    """A plan reads the saved checks (no extraction: the 30 s of checks on the real corpus) and
    finds the same templates and articles as checking; a changed page checks again."""
    import gzip
    import shutil

    import bench.corpus

    folder = tmp_path / "extraction/scrapinghub-aeb/html"
    folder.mkdir(parents=True)
    for path in sorted((corpus / "extraction/scrapinghub-aeb/html").glob("*.html.gz"))[:12]:
        shutil.copy(path, folder)
    checks = tmp_path / "checks.json"
    checked = Corpus(40, tmp_path, checks_file=checks)
    assert checked.save_template_checks() == checks
    fresh = Corpus(40, tmp_path, checks_file=tmp_path / "none.json")
    extract = bench.corpus._extract
    try:
        bench.corpus._extract = None  # any extraction now fails
        saved = Corpus(40, tmp_path, checks_file=checks)
        assert saved.templates == fresh.templates and saved.templates
        assert saved._articles == fresh._articles  # read, not extracted
        assert [saved.render(i) for i in range(40)] == [fresh.render(i) for i in range(40)]
    finally:
        bench.corpus._extract = extract
    first = sorted(folder.iterdir())[0]
    first.write_bytes(gzip.compress(gzip.decompress(first.read_bytes()) + b"<p>edited</p>"))
    edited = Corpus(40, tmp_path, checks_file=checks)
    assert bench.corpus._saved_checks(checks, bench.corpus.template_checks_key(edited.real)) is None


def test_the_saved_template_checks_are_those_of_the_shared_corpus(corpus):
    """bench/template_checks.json is current: else every test run checks the templates again
    (30 s), and the benchmark each size. Refresh: python -m bench.corpus --save-template-checks."""
    import bench.corpus

    real = Corpus(0, corpus).real
    key = bench.corpus.template_checks_key(real)
    assert bench.corpus._saved_checks(bench.corpus.TEMPLATE_CHECKS, key) is not None


def test_corpus_near_copies_are_near_by_newsflows_own_measure(corpus):
    """Each near copy's text differs from its original's (one of the article's paragraphs was
    rewritten, not a cookie notice, a comment form or a second copy of the article that no
    extractor keeps) and is still within the near-duplicate threshold of it."""
    from tasks.dedupe import NEAR_THRESHOLD, estimate_similarity, minhash_signature, text_hash
    from tasks.extraction import clean_html
    from tasks.settings import ExtractionMode

    plan = Corpus(400, corpus)
    nears = [i for i, spec in enumerate(plan.specs) if spec.kind == "near"]
    assert len(nears) == 40

    def text(index: int) -> str:
        url = f"http://127.0.0.1/news/{index:06d}.html"
        return clean_html(plan.render(index), url, mode=ExtractionMode.fast).text

    not_edited, too_far = [], []
    for index in nears:
        near, original = text(index), text(plan._original_index(plan.specs[index].source))
        if text_hash(near) == text_hash(original):
            not_edited.append(index)
        elif estimate_similarity(minhash_signature(near), minhash_signature(original)) < (
            NEAR_THRESHOLD
        ):
            too_far.append(index)
    assert not_edited == [] and too_far == []


def test_corpus_mixed_pages_are_new_unique_pages(plan_2000):
    """A mixed page, a template's layout with other pages' paragraphs, reads as neither its
    template nor another mixed page of it: not where the template's article is outside its <p>s,
    or held a second time where the extractor falls back on it."""
    from tasks.dedupe import NEAR_THRESHOLD, estimate_similarity, minhash_signature, text_hash
    from tasks.extraction import clean_html
    from tasks.settings import ExtractionMode

    plan = plan_2000
    mixed = [i for i, spec in enumerate(plan.specs) if spec.kind == "mixed"][:49]  # a sample
    assert len(mixed) == 49

    def text(page: str) -> str:
        return clean_html(page, "http://127.0.0.1/news/1.html", mode=ExtractionMode.fast).text

    templates = {plan.specs[i].source for i in mixed}
    signatures = {("real", t): minhash_signature(text(plan.real[t])) for t in templates}
    hashes = {}
    for i in mixed:
        page = text(plan.render(i))
        assert page and text_hash(page) not in hashes
        hashes[text_hash(page)] = i
        signatures[("mixed", i)] = minhash_signature(page)
    alike = [
        (a, b)
        for a in signatures
        for b in signatures
        if a < b and estimate_similarity(signatures[a], signatures[b]) >= NEAR_THRESHOLD
    ]
    assert alike == []


def test_no_two_mixed_pages_share_most_of_their_paragraphs(plan_2000):
    """Mixed pages drawing the same very long paragraph of the pool (a 7 536-word list of names,
    700 words of Bartleby) were near copies of each other at N = 2000: 8 of the duplicates the
    benchmark found that it had not planted."""
    import numpy as np

    from bench.corpus import _paragraph_text, _paragraphs
    from tasks.dedupe import NEAR_THRESHOLD, minhash_signature

    mixed = [i for i, spec in enumerate(plan_2000.specs) if spec.kind == "mixed"]
    drawn = [
        " ".join(_paragraph_text(m[2]) for m in _paragraphs(plan_2000.render(i))) for i in mixed
    ]
    signatures = np.array([minhash_signature(text) for text in drawn])
    alike = []
    for a in range(len(mixed)):
        similarity = (signatures[a + 1 :] == signatures[a]).mean(axis=1)
        alike += [
            (mixed[a], mixed[a + 1 + b]) for b in np.flatnonzero(similarity >= NEAR_THRESHOLD)
        ]
    assert alike == []


def test_a_template_whose_own_text_the_fast_mode_keeps_is_not_used(corpus, plan_2000):
    """On this page the fast mode keeps about 400 words of the site's text (more news, comment
    form) around a short article: two mixed pages of it were near copies of each other."""
    import numpy as np

    from bench.corpus import REAL_GLOBS, _mixed_page
    from tasks.dedupe import NEAR_THRESHOLD, estimate_similarity, minhash_signature
    from tasks.extraction import clean_html
    from tasks.settings import ExtractionMode

    real_files = sorted(path for pattern in REAL_GLOBS for path in corpus.glob(pattern))
    index = real_files.index(corpus / "dates/mediacloud-2020/test_set/1789664619.html.gz")
    template = plan_2000.real[index]

    def signature(page: str) -> np.ndarray:
        text = clean_html(page, "http://127.0.0.1/news/1.html", mode=ExtractionMode.fast).text
        return minhash_signature(text)

    first, second = (signature(_mixed_page(template, plan_2000.pool, seed)) for seed in (1, 2))
    assert estimate_similarity(first, second) >= NEAR_THRESHOLD  # why it may not be a template
    assert index not in plan_2000.templates


def test_the_baseline_extracts_with_newsflows_trafilatura_options():
    """Not trafilatura's defaults: those keep readers' comments, which newsflow leaves out."""
    from bench.baseline import EXTRACT_OPTIONS, _extract
    from tasks.extraction import _TRAFILATURA_OPTIONS

    assert EXTRACT_OPTIONS == _TRAFILATURA_OPTIONS
    body = " ".join(
        f"Sentence {i} of the article says something about the council." for i in range(30)
    )
    page = (
        f"<html><body><article><h1>Headline</h1><p>{body}</p><p>{body[:400]}</p></article>"
        '<div id="comments" class="comments"><h3>Comments</h3><ul><li class="comment"><p>A reader'
        " wrote that the article was wrong about the council, entirely and completely.</p></li>"
        "</ul></div></body></html>"
    )
    url, text = _extract(("http://127.0.0.1/news/000001.html", page))
    assert "Sentence 29" in text and "A reader wrote" not in text


def test_clean_cost_splits_both_sides_of_each_page_by_step(corpus, tmp_path):
    """bench.clean_cost times the real calls: its wrappers find each step where it is made (a
    renamed import fails here), and every family of real pages is measured."""
    import json

    from bench.clean_cost import main

    out = tmp_path / "clean_cost.json"
    main(["--pages", "6", "--repeats", "1", "--top", "2", "--json", str(out)])
    figures = json.loads(out.read_text())
    assert len(figures["pages"]) == 6
    assert set(figures["summary"]) == {"scrapinghub-aeb", "readability", "mediacloud-2020", "all"}
    for page in figures["pages"]:
        ours, baseline = page["ours_steps"], page["baseline_steps"]
        assert ours["parse"] > 0 and ours["trafilatura"] > 0 and ours["htmldate"] > 0
        assert baseline["parse"] > 0
        assert sum(ours.values()) - ours["total"] == pytest.approx(ours["total"])


def test_clean_outputs_compares_every_field_of_every_page_in_both_modes(corpus, tmp_path, capsys):
    """bench.clean_outputs: what a CPU change must leave as it was. A second run of the same code
    finds nothing changed; a field that differs is named, with its mode and page."""
    import json

    from bench.clean_outputs import main

    before = tmp_path / "before.json"
    main(["--pages", "3", "--write", str(before)])
    outputs = json.loads(before.read_text())
    assert set(outputs) == {"thorough", "fast"}
    assert all(len(pages) == 3 for pages in outputs.values())
    with pytest.raises(SystemExit) as unchanged:
        main(["--pages", "3", "--compare", str(before)])
    assert unchanged.value.code == 0
    path = next(iter(outputs["fast"]))
    outputs["fast"][path]["author"] = "Someone Else"
    before.write_text(json.dumps(outputs))
    with pytest.raises(SystemExit) as changed:
        main(["--pages", "3", "--compare", str(before)])
    assert changed.value.code == 1
    assert f"fast {path} author: 'Someone Else' -> " in capsys.readouterr().out
