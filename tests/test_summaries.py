"""Daily summaries: sources and stories, the running total, range replacement, the flow, export."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tasks.events import extract_events, load_gazetteer, pending_articles
from tasks.summaries import daily_captures_table, days_with_captures, export_summaries
from tests.test_events import insert_articles
from warehouse import db
from warehouse.summaries import (
    capture_evidence,
    count_undated_articles,
    read_daily_captures,
    read_first_reports,
    recompute_daily_summaries,
)

SYNDICATED = (
    "Taliban fighters captured Sheberghan, the capital of Jowzjan province, on Saturday, "
    "officials said. It was the second provincial capital to fall in two days."
)
TIMELINE = [
    {
        "url": "https://a.example/zaranj",
        "site_name": "Site A",
        "published_at": datetime(2021, 8, 6, 15, tzinfo=UTC),
        "text": "Taliban fighters captured Zaranj on Friday, officials said. "
        "It was the first provincial capital to fall.",
    },
    {
        "url": "https://b.example/sheberghan",
        "site_name": "Site B",
        "published_at": datetime(2021, 8, 7, 15, tzinfo=UTC),
        "text": "A Taliban spokesman said the group captured Shibirghan on Saturday.",
    },
    {
        "url": "https://c.example/kunduz",
        "site_name": "Site C",
        "published_at": datetime(2021, 8, 8, 18, tzinfo=UTC),
        "text": "Officials confirmed that Sheberghan had fallen. Kunduz, Sar-i-Pul and Taluqan "
        "fell on Sunday. The Taliban now hold five of 34 provincial capitals.",
    },
    {
        "url": "https://a.example/kabul",
        "site_name": "Site A",
        "published_at": datetime(2021, 8, 15, 18, tzinfo=UTC),
        "text": "Taliban fighters entered Kabul on Sunday and took control of the palace.",
    },
]
# Capitals retaken (Kunduz, then taken again), and a retake of a capital never reported captured
RETAKES = [
    {
        "url": "https://d.example/kunduz-retaken",
        "site_name": "Site D",
        "published_at": datetime(2021, 8, 10, 9, tzinfo=UTC),
        "text": "Afghan commandos retook Kunduz on Monday, officials said. "
        "Government forces said Lashkar Gah was retaken.",
    },
    {
        "url": "https://a.example/kunduz-again",
        "site_name": "Site A",
        "published_at": datetime(2021, 8, 12, 9, tzinfo=UTC),
        "text": "Taliban fighters captured Kunduz on Wednesday, officials said.",
    },
    {  # the same day, one site reports Zaranj taken, another retaken: the retake wins
        "url": "https://b.example/zaranj",
        "site_name": "Site B",
        "published_at": datetime(2021, 8, 13, 9, tzinfo=UTC),
        "text": "Taliban fighters captured Zaranj, officials said.",
    },
    {
        "url": "https://c.example/zaranj",
        "site_name": "Site C",
        "published_at": datetime(2021, 8, 13, 20, tzinfo=UTC),
        "text": "Afghan forces retook Zaranj, officials said.",
    },
]
TABLE_SIZES = (
    "SELECT (SELECT count(*) FROM daily_captures), (SELECT count(*) FROM daily_capture_sources), "
    "(SELECT count(*) FROM daily_article_counts)"
)


def _extract_all(db_path: str) -> None:
    gazetteer = load_gazetteer()
    extract_events(db_path, pending_articles(db_path, gazetteer), gazetteer)


def _rows(db_path: str, query: str, params: list | None = None) -> list[tuple]:
    with db.reader(db_path) as conn:
        return conn.execute(query, params or []).fetchall()


@pytest.fixture
def timeline_db(db_path: str) -> str:
    insert_articles(db_path, TIMELINE)
    _extract_all(db_path)
    recompute_daily_summaries(db_path, None, None)
    return db_path


def test_one_report_syndicated_on_three_sites_is_three_sources_and_one_story(db_path):
    copies = [
        {"url": f"https://{site}.example/story", "site_name": f"Site {site.upper()}"}
        for site in ("a", "b", "c")
    ] + [
        {"url": "https://a.example/amp/story", "site_name": "Site A"},  # a copy on the same site
        {"url": "https://www.b.example/print/story", "site_name": None},  # that page names no site
    ]
    [first, *others] = insert_articles(
        db_path,
        [
            {**c, "text": SYNDICATED, "published_at": datetime(2021, 8, 7, 12, tzinfo=UTC)}
            for c in copies[:1]
        ],
    )
    insert_articles(
        db_path,
        [
            {**c, "text": SYNDICATED, "cluster_id": first, "duplicate_of": first,
             "published_at": datetime(2021, 8, 7, 13, tzinfo=UTC)}
            for c in copies[1:]
        ],
    )  # fmt: skip
    _extract_all(db_path)
    recompute_daily_summaries(db_path, None, None)

    assert _rows(
        db_path, "SELECT day, capital, sources, stories, site_names FROM daily_capture_sources"
    ) == [(date(2021, 8, 7), "Sheberghan", 3, 1, ["Site A", "Site B", "Site C"])]
    assert _rows(
        db_path, "SELECT site, articles, stories FROM daily_article_counts ORDER BY 1"
    ) == [
        ("Site A", 2, 1),
        ("Site B", 2, 1),  # www.b.example's page that names no site is Site B's too, one story
        ("Site C", 1, 1),
    ]
    [day] = read_daily_captures(db_path)
    assert (day["new_capital_names"], day["articles"], day["stories"]) == (["Sheberghan"], 5, 1)
    assert day["max_reported_count"] == 2


def _summarize_one_report_on(db_path: str, pages: list[dict[str, Any]], report: str) -> None:
    """Each page (its url, and site_name or canonical_url) carries the same capture report,
    published on 13 August: their events extracted and the days summarized."""
    insert_articles(
        db_path,
        [
            {
                **page,
                "text": f"{report} ({n})",
                "published_at": datetime(2021, 8, 13, 12, tzinfo=UTC),
            }
            for n, page in enumerate(pages)
        ],
    )
    _extract_all(db_path)
    recompute_daily_summaries(db_path, None, None)


def test_saved_pages_of_one_site_are_one_source_by_their_canonical_host(db_path):
    """A page on disk has no web host: its site was its site name, so one site's saved pages
    with and without a name were two sources (QA). Their canonical URL's host is the site."""
    saved = "file:///home/analyst/saved/"
    pages = [
        {"url": f"{saved}one.html", "site_name": "Asia Wire",
         "canonical_url": "https://www.asiawire.example/news/herat"},
        {"url": f"{saved}two.html", "site_name": None,
         "canonical_url": "https://asiawire.example/news/herat-2"},
        {"url": f"{saved}three.html", "site_name": "Frontier Dispatch", "canonical_url": None},
    ]  # fmt: skip
    _summarize_one_report_on(db_path, pages, "The Taliban captured Herat on Friday.")
    assert _rows(db_path, "SELECT sources, site_names FROM daily_capture_sources") == [
        (2, ["Asia Wire", "Frontier Dispatch"])
    ]
    assert _rows(db_path, "SELECT site, articles FROM daily_article_counts ORDER BY 1") == [
        ("Asia Wire", 2),
        ("Frontier Dispatch", 1),
    ]


def test_an_outlets_mobile_and_amp_hosts_are_one_source(db_path):
    """m.example.com and amp.example.com are example.com, as deduplication takes them (QA: two
    sources of one capture); amp.dev, with nothing left but a name, is a site of its own."""
    urls = ["https://www.a.example/kunduz", "https://m.a.example/kunduz-2",
            "https://amp.a.example/kunduz-3", "https://amp.dev/kunduz"]  # fmt: skip
    _summarize_one_report_on(
        db_path, [{"url": url} for url in urls], "The Taliban captured Kunduz on Friday."
    )
    assert _rows(db_path, "SELECT sources, site_names FROM daily_capture_sources") == [
        (2, ["a.example", "amp.dev"])
    ]
    hosts = {  # QA's second round: a trailing dot, a user name, IPv6, a file's URI
        "https://mobile.nytimes.com/x": "nytimes.com", "http://EXAMPLE.COM./a": "example.com",
        "http://user:pw@www.example.com/a": "example.com",
        "http://[2001:db8::1]:8080/a": "[2001:db8::1]", "file://localhost/tmp/a.html": None,
    }  # fmt: skip
    for url, host in hosts.items():
        assert _rows(db_path, "SELECT url_host(?)", [url]) == [(host,)], url


def test_both_daily_tables_show_a_site_by_its_name_as_read_now(timeline_db):
    """An article seen again takes its site name as newsflow reads it then (a web address given
    as a site name gives way to the host), without a new version: its capture events are not
    read again, and daily_capture_sources showed the name they were read with while
    daily_article_counts showed the new one."""
    with db.writer(timeline_db) as conn:  # as a load's touch leaves an article seen again
        conn.execute("UPDATE articles SET site_name = 'A Daily' WHERE url LIKE '%a.example%'")
    recompute_daily_summaries(timeline_db, None, None)
    shown = "SELECT DISTINCT unnest(site_names) FROM daily_capture_sources ORDER BY 1"
    assert _rows(timeline_db, shown) == [("A Daily",), ("Site B",), ("Site C",)]
    counted = "SELECT DISTINCT site FROM daily_article_counts ORDER BY 1"
    assert _rows(timeline_db, counted) == [("A Daily",), ("Site B",), ("Site C",)]


def test_daily_captures_count_first_reports_claims_and_kabul_apart(timeline_db):
    rows = {r["day"]: r for r in read_daily_captures(timeline_db)}
    assert list(rows) == [date(2021, 8, d) for d in range(6, 16)]  # every day, quiet ones too
    view = {
        d.day: (r["new_capital_names"], r["cumulative_capitals"], r["claimed_only"])
        for d, r in rows.items()
        if d.day <= 9
    }
    assert view == {
        6: (["Zaranj"], 1, 0),
        7: (["Sheberghan"], 2, 1),  # only the Taliban said so that day
        8: (["Kunduz", "Sar-e Pul", "Taloqan"], 5, 0),  # officials confirmed it on the 8th
        9: ([], 5, 0),
    }
    assert rows[date(2021, 8, 6)]["max_reported_count"] == 1
    assert rows[date(2021, 8, 8)]["max_reported_count"] == 5
    kabul = rows[date(2021, 8, 15)]
    assert (kabul["national_capital"], kabul["national_capital_status"]) == ("Kabul", "confirmed")
    assert kabul["cumulative_capitals"] == 5  # never in the provincial count
    assert rows[date(2021, 8, 7)]["new_capital_sources"] == [
        {"capital": "Sheberghan", "status": "claimed", "sources": 1}
    ]
    # Sheberghan: claimed by site B on the 7th, confirmed by site C on the 8th (no longer new)
    assert _rows(
        timeline_db,
        "SELECT day, status, sources, sources_to_date, first_reported_on, is_new "
        "FROM daily_capture_sources WHERE capital = 'Sheberghan' ORDER BY day",
    ) == [
        (date(2021, 8, 7), "claimed", 1, 1, date(2021, 8, 7), True),
        (date(2021, 8, 8), "confirmed", 1, 2, date(2021, 8, 7), False),
    ]
    # another site's report of fighting in Kabul that day does not outrank the capture
    insert_articles(
        timeline_db,
        [{"url": "https://e.example/kabul", "site_name": "Site E",
          "published_at": datetime(2021, 8, 15, 20, tzinfo=UTC),
          "text": "Heavy fighting raged in Kabul on Sunday, residents said."}],
    )  # fmt: skip
    _extract_all(timeline_db)
    assert _rows(timeline_db, "SELECT status FROM capture_events WHERE capital = 'Kabul' "
                 "ORDER BY status") == [("confirmed",), ("contested",)]  # fmt: skip
    recompute_daily_summaries(timeline_db, date(2021, 8, 15), date(2021, 8, 15))
    [kabul] = read_daily_captures(timeline_db, date(2021, 8, 15), date(2021, 8, 15))
    assert (kabul["national_capital"], kabul["national_capital_status"]) == ("Kabul", "confirmed")


def test_capitals_reported_retaken_leave_the_held_count_not_the_cumulative_one(timeline_db):
    """Kunduz retaken on the 9th and taken again on the 11th; Zaranj reported taken and retaken
    on the 13th. The cumulative count keeps every capital ever reported captured; the held
    count drops a capital while its last report is a retake, and names it taken again when it
    comes back. Lashkar Gah, reported retaken but never captured, changes nothing."""
    insert_articles(timeline_db, RETAKES)
    _extract_all(timeline_db)
    recompute_daily_summaries(timeline_db, None, None)
    rows = read_daily_captures(timeline_db)
    view = {
        r["day"].day: (
            r["cumulative_capitals"],
            r["held_capitals"],
            r["retaken_capital_names"],
            r["recaptured_capital_names"],
        )
        for r in rows
    }
    assert view == {
        6: (1, 1, [], []),
        7: (2, 2, [], []),
        8: (5, 5, [], []),
        9: (5, 4, ["Kunduz"], []),
        10: (5, 4, [], []),
        11: (5, 5, [], ["Kunduz"]),  # taken again: held, not new
        12: (5, 5, [], []),
        13: (5, 4, ["Zaranj"], []),  # taken and retaken: the retake wins the tie
        14: (5, 4, [], []),
        15: (5, 4, [], []),
    }
    assert [r["new_capitals"] for r in rows] == [1, 1, 3, 0, 0, 0, 0, 0, 0, 0]
    # the artifact's and the chart page's first reports: the retakes' and the recapture's too
    changes = [r for r in read_first_reports(timeline_db) if r["day"] > date(2021, 8, 8)]
    assert [(r["day"].day, r["capital"], r["status"], r["evidence"]) for r in changes] == [
        (9, "Kunduz", "retaken", "Afghan commandos retook Kunduz on Monday, officials said."),
        (
            11,
            "Kunduz",
            "confirmed",
            "Taliban fighters captured Kunduz on Wednesday, officials said.",
        ),
        (13, "Zaranj", "retaken", "Afghan forces retook Zaranj, officials said."),
    ]
    shown = {r["day"]: r for r in daily_captures_table(timeline_db, None, None)}
    assert (shown["2021-08-09"]["retaken_capitals"], shown["2021-08-09"]["held_capitals"]) == (
        "Kunduz",
        4,
    )
    assert shown["2021-08-11"]["capitals"] == "Kunduz (again, 1)"
    assert [r["day"] for r in days_with_captures(list(shown.values()))] == [
        "2021-08-06", "2021-08-07", "2021-08-08", "2021-08-09", "2021-08-11", "2021-08-13",
        "2021-08-15"
    ]  # fmt: skip
    # the chart draws the held line beside the cumulative one, with a gap for a row summarized
    # before the held count existed; the run's summary line says how many are held
    from flows.summarize import SummaryReport
    from tasks.summaries import _captures_figure

    rows[3]["held_capitals"] = None
    axes = _captures_figure(rows, "t").axes[0]
    labels = [text.get_text() for text in axes.texts]
    assert "retaken:\nZaranj" in labels and "again:\nKunduz" in labels
    assert "retaken:\nKunduz" not in labels  # the day with no held count: no point, no label
    lines = axes.get_lines()
    held = next(line for line in lines if line.get_label() == "held")
    drawn = [None if y != y else y for y in held.get_ydata()]  # NaN: no point drawn
    assert drawn == [1, 2, 5, None, 4, 5, 5, 4, 4, 4]
    report = SummaryReport(db="news.duckdb", start=None, end=None, days=10, capitals_reported=5,
                           capitals_held=4, last_day=date(2021, 8, 15))  # fmt: skip
    assert "5 provincial capitals reported captured by 2021-08-15, since the first day (0 only " \
        "claimed; 4 held at the end, the others reported retaken)" in report.headline()  # fmt: skip


def _as_before_009(path: str) -> None:
    """The warehouse as newsflow left it before migration 009 (the held count)."""
    with db.writer(path) as conn:
        conn.execute("ALTER TABLE daily_captures DROP COLUMN retaken_capital_names")
        conn.execute("ALTER TABLE daily_captures DROP COLUMN recaptured_capital_names")
        conn.execute("ALTER TABLE daily_captures DROP COLUMN held_capitals")
        conn.execute("DELETE FROM schema_version WHERE version >= 9")


def test_a_warehouse_summarized_before_the_held_count_gets_it_at_the_next_summary(timeline_db):
    """Migration 009 on a warehouse whose daily rows were written before it: the rows show no
    held count (not a made-up one) until the days are summarized again."""
    _as_before_009(timeline_db)
    db.upgrade(timeline_db)
    with db.reader(timeline_db) as conn:
        assert db.schema_version(conn) == db.latest_version() >= 9
    rows = daily_captures_table(timeline_db, None, None)
    assert [(r["retaken_capitals"], r["held_capitals"]) for r in rows[:2]] == [("", None)] * 2
    recompute_daily_summaries(timeline_db, date(2021, 8, 6), date(2021, 8, 7))
    rows = daily_captures_table(timeline_db, None, None)
    assert [r["held_capitals"] for r in rows[:3]] == [1, 2, None]


def test_the_evidence_of_a_capital_is_each_storys_first_sentence_earliest_first(timeline_db):
    """What the daily table rests on: Sheberghan claimed by a Taliban spokesman on the 7th,
    confirmed by officials on the 8th; retakes and contested reports are there too."""
    insert_articles(timeline_db, RETAKES)
    _extract_all(timeline_db)
    columns, rows, more = capture_evidence(timeline_db, capital="Sheberghan")
    assert columns == [
        "day", "capital", "status", "reported_by", "sites", "articles", "site", "evidence", "url"
    ]  # fmt: skip
    assert [row[:7] for row in rows] == [
        (date(2021, 8, 7), "Sheberghan", "claimed", "taliban", 1, 1, "Site B"),
        (date(2021, 8, 8), "Sheberghan", "confirmed", "officials", 1, 1, "Site C"),
    ]
    assert rows[0][7:] == (
        "A Taliban spokesman said the group captured Shibirghan on Saturday.",
        "https://b.example/sheberghan",
    )
    assert not more
    _, rows, _ = capture_evidence(timeline_db, statuses=["retaken"])
    assert [(row[0].day, row[1]) for row in rows] == [
        (9, "Kunduz"),
        (10, "Lashkar Gah"),
        (13, "Zaranj"),
    ]
    _, rows, more = capture_evidence(timeline_db, start=date(2021, 8, 8), end=date(2021, 8, 8))
    assert {row[0] for row in rows} == {date(2021, 8, 8)} and len(rows) == 4 and not more
    _, rows, more = capture_evidence(timeline_db, start=date(2021, 8, 8), limit=3)
    assert len(rows) == 3 and more


def test_a_syndicated_report_is_one_line_of_evidence_with_its_sites(db_path):
    sites = [("a", "Site A"), ("b", "Site B"), ("c", "Site C")]
    [first] = insert_articles(
        db_path,
        [{"url": "https://a.example/story", "site_name": "Site A", "text": SYNDICATED,
          "published_at": datetime(2021, 8, 7, 12, tzinfo=UTC)}],
    )  # fmt: skip
    insert_articles(
        db_path,
        [{"url": f"https://{host}.example/copy", "site_name": name, "text": SYNDICATED,
          "cluster_id": first, "duplicate_of": first,
          "published_at": datetime(2021, 8, 7, 13, tzinfo=UTC)} for host, name in sites],
    )  # fmt: skip
    _extract_all(db_path)
    _, rows, _ = capture_evidence(db_path)
    assert [row[1:8] for row in rows] == [
        ("Sheberghan", "confirmed", "officials", 3, 4, "Site A", SYNDICATED.split(". ")[0] + ".")
    ]
    assert rows[0][8] == "https://a.example/story"  # the first published


def test_evidence_command_takes_any_spelling_or_the_province_and_suggests_a_name(timeline_db):
    from typer.testing import CliRunner

    from flows.cli import app

    def evidence(*args: str) -> Any:
        return CliRunner().invoke(app, ["evidence", *args, "--db", timeline_db, "-f", "json"])

    for name in ("Shibirghan", "Jowzjan", "sheberghan", "Shibirghán"):  # an accent: a letter
        result = evidence(name)
        assert result.exit_code == 0, result.stderr
        assert [r["status"] for r in json.loads(result.stdout)] == ["claimed", "confirmed"]
    result = evidence("--status", "confirmed", "--start", "2021-08-08", "--end", "2021-08-08")
    assert {r["capital"] for r in json.loads(result.stdout)} == {
        "Kunduz", "Sar-e Pul", "Sheberghan", "Taloqan"
    }  # fmt: skip
    result = evidence("Kandahr")
    assert result.exit_code == 1
    assert "no capital or province is called 'Kandahr'; did you mean Kandahar?" in result.stderr
    result = CliRunner().invoke(app, ["evidence", "Farah", "--db", timeline_db])
    assert (result.exit_code, result.stdout) == (
        0, "no reports match; the daily table runs 2021-08-06 … 2021-08-15\n"
    )  # fmt: skip
    result = evidence("--limit", "2")  # a script is told of the cut too, on stderr
    assert len(json.loads(result.stdout)) == 2
    assert result.stderr == "note: the first 2 rows; pass --limit for more\n"
    result = CliRunner().invoke(app, ["captures", "--start", "2021-09-01", "--db", timeline_db])
    assert result.stdout == "no day in that range; the daily table runs 2021-08-06 … 2021-08-15\n"
    # CSV and JSON: the data on stdout, the why on stderr (a script was told nothing)
    result = evidence("Farah")
    assert (result.stdout, result.stderr) == (
        "[]\n", "no reports match; the daily table runs 2021-08-06 … 2021-08-15\n"
    )  # fmt: skip
    result = CliRunner().invoke(
        app, ["captures", "--start", "2021-09-01", "--db", timeline_db, "-f", "csv"]
    )
    assert result.stdout.count("\n") == 1  # the header alone
    assert result.stderr == "no day in that range; the daily table runs 2021-08-06 … 2021-08-15\n"
    with db.writer(timeline_db) as conn:  # as before any summarize
        conn.execute("DELETE FROM daily_captures; DELETE FROM capture_events")
    for command in ("evidence", "captures"):
        result = CliRunner().invoke(app, [command, "--db", timeline_db])
        assert result.stdout == "the daily table is empty: `newsflow summarize` computes it\n"
        result = CliRunner().invoke(app, [command, "--db", timeline_db, "-f", "json"])
        assert (result.stdout, result.stderr) == (
            "[]\n", "the daily table is empty: `newsflow summarize` computes it\n"
        )  # fmt: skip


def test_the_reports_artifact_cuts_long_sentences_and_keeps_the_last_reports():
    from tasks.summaries import EVIDENCE_CHARS, FIRST_REPORTS_SHOWN, first_reports_markdown

    report = {"day": date(2021, 8, 6), "capital": "Zaranj", "status": "confirmed",
              "reported_by": None, "site": "Site A", "url": "https://a.example/z"}  # fmt: skip
    long = first_reports_markdown([{**report, "evidence": "Zaranj fell.\n" + "x " * 400}])
    [line] = [line for line in long.splitlines() if line.startswith("- ")]
    assert line.startswith("- 2021-08-06 **Zaranj** (confirmed; Site A): “Zaranj fell. x x")
    cut = line.split("“")[1].split("”")[0]
    assert EVIDENCE_CHARS - 2 <= len(cut) <= EVIDENCE_CHARS and cut.endswith("x…")
    many = [{**report, "capital": f"C{i}", "evidence": "Fell."} for i in range(101)]
    text = first_reports_markdown(many)
    assert f"The last {FIRST_REPORTS_SHOWN} of 101" in text
    assert "**C0**" not in text and "**C100**" in text
    assert first_reports_markdown([]) == ""
    from tasks.summaries import _html_first_reports

    page = _html_first_reports([{**report, "evidence": "<script>x</script> & Zaranj fell."}])
    assert "<script" not in page and "&lt;script&gt;x&lt;/script&gt; &amp; Zaranj fell." in page
    # the page says what it leaves out, as the artifact does (it dropped them without a word)
    assert f"The last {FIRST_REPORTS_SHOWN} of 101" in _html_first_reports(many)
    # Markdown shows a site's name and a sentence as written: not styled, linked or run as HTML
    # in Prefect's UI (QA)
    styled = {**report, "site": "*Bold* [click](javascript:alert(1)) <img src=x>",
              "evidence": "They **celebrated** in the `main` square.",
              "url": "https://a.example/a b>c"}  # fmt: skip
    [line] = [ln for ln in first_reports_markdown([styled]).splitlines() if ln.startswith("- ")]
    assert line == (
        r"- 2021-08-06 **Zaranj** (confirmed; \*Bold\* \[click\]\(javascript:alert\(1\)\) "
        r"\<img src=x\>): “They \*\*celebrated\*\* in the \`main\` square.” "
        "[source](<https://a.example/a%20b%3Ec>)"
    )


def test_the_chart_marks_kabuls_confirmed_fall_and_says_when_no_day_is_dated(timeline_db):
    """A claim on Kabul before its fall was the chart's only mark; a chart with no dated day
    showed an empty axis dated 1 January 1970 (QA)."""
    from tasks.summaries import _captures_figure

    claim = "A Taliban spokesman said the group captured Kabul on Tuesday."
    tuesday = datetime(2021, 8, 10, 9, tzinfo=UTC)
    insert_articles(
        timeline_db,
        [{"url": "https://d.example/kabul-claim", "published_at": tuesday, "text": claim}],
    )
    _extract_all(timeline_db)
    recompute_daily_summaries(timeline_db, None, None)
    axes = _captures_figure(read_daily_captures(timeline_db), "t").axes[0]
    marks = [text.get_text() for text in axes.texts if text.get_text().startswith("Kabul")]
    assert marks == ["Kabul (claimed)", "Kabul (confirmed)"]
    assert all(tick == int(tick) for tick in axes.get_yticks())  # counts: no half ticks
    empty = _captures_figure([], "t").axes[0]
    assert list(empty.get_xticks()) == []
    assert [text.get_text() for text in empty.texts] == ["No article has a publication day yet"]


def test_recomputing_a_range_replaces_it_and_leaves_other_days_alone(timeline_db):
    before = dict(_rows(timeline_db, "SELECT day, computed_at FROM daily_captures"))
    totals = _rows(timeline_db, TABLE_SIZES)
    insert_articles(
        timeline_db,
        [{"url": "https://d.example/ghazni", "site_name": "Site D",
          "published_at": datetime(2021, 8, 8, 9, tzinfo=UTC),
          "text": "The Taliban captured Ghazni on Sunday, residents said. "
                  "It was the third provincial capital to fall."}],
    )  # fmt: skip
    _extract_all(timeline_db)
    written = recompute_daily_summaries(timeline_db, date(2021, 8, 7), date(2021, 8, 8))
    assert written == {"daily_captures": 2, "daily_capture_sources": 6, "daily_article_counts": 3}

    after = dict(_rows(timeline_db, "SELECT day, computed_at FROM daily_captures"))
    assert len(after) == len(before)
    assert after[date(2021, 8, 6)] == before[date(2021, 8, 6)]
    assert after[date(2021, 8, 8)] > before[date(2021, 8, 8)]
    [eighth] = read_daily_captures(timeline_db, date(2021, 8, 8), date(2021, 8, 8))
    assert eighth["new_capital_names"] == ["Ghazni", "Kunduz", "Sar-e Pul", "Taloqan"]
    assert eighth["cumulative_capitals"] == 6
    assert eighth["max_reported_count"] == 5  # the day's highest, not the new article's third
    assert _rows(timeline_db, TABLE_SIZES) == [(totals[0][0], totals[0][1] + 1, totals[0][2] + 1)]


def test_an_undated_article_stays_off_the_daily_tables(timeline_db):
    """Its "on Sunday" could be any Sunday, and the day it was fetched (here 20 August) may be
    years after it was written: it neither reports a capture nor widens the tables' span."""
    [undated] = insert_articles(
        timeline_db,
        [{"url": "https://d.example/undated", "site_name": "Site D", "published_at": None,
          "text": "Ghazni fell to the Taliban on Sunday, officials said."}],
    )  # fmt: skip
    _extract_all(timeline_db)
    recompute_daily_summaries(timeline_db, None, None)
    assert _rows(timeline_db, "SELECT count(*) FROM event_extractions WHERE article_id = ?",
                 [undated]) == [(1,)]  # fmt: skip
    assert _rows(timeline_db, "SELECT count(*) FROM capture_events WHERE article_id = ?",
                 [undated]) == [(0,)]  # fmt: skip
    assert _rows(timeline_db, "SELECT min(day), max(day), count(*) FROM daily_captures") == [
        (date(2021, 8, 6), date(2021, 8, 15), 10)
    ]
    assert count_undated_articles(timeline_db) == 1


def test_a_reversed_range_is_refused_naming_both_days(timeline_db):
    with pytest.raises(ValueError, match="start 2021-08-09 is after end 2021-08-08"):
        recompute_daily_summaries(timeline_db, date(2021, 8, 9), date(2021, 8, 8))


def test_captures_table_rows_for_the_cli(timeline_db):
    rows = daily_captures_table(timeline_db, date(2021, 8, 7), date(2021, 8, 8))
    assert [
        (
            r["day"],
            r["capitals"],
            r["cumulative_capitals"],
            r["retaken_capitals"],
            r["held_capitals"],
        )
        for r in rows
    ] == [
        ("2021-08-07", "Sheberghan (claimed, 1)", 2, "", 2),
        ("2021-08-08", "Kunduz (1), Sar-e Pul (1), Taloqan (1)", 5, "", 5),
    ]
    # nothing retaken: the chart has no held line, and the summary line no held count
    from flows.summarize import SummaryReport
    from tasks.summaries import _captures_figure

    figure = _captures_figure(read_daily_captures(timeline_db), "t")
    assert figure.axes[0].get_legend_handles_labels()[1] == ["cumulative", "new that day"]
    report = SummaryReport(db="news.duckdb", start=None, end=None, days=10, capitals_reported=5,
                           capitals_held=5)  # fmt: skip
    assert "(0 only claimed);" in report.headline()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_each_summary_table(timeline_db, tmp_path, fmt):
    paths = export_summaries(timeline_db, tmp_path / "out", fmt)
    assert sorted(p.name for p in paths) == sorted(
        f"{t}.{fmt}" for t in ("daily_captures", "daily_capture_sources", "daily_article_counts")
    )
    captures = tmp_path / "out" / f"daily_captures.{fmt}"
    if fmt == "csv":
        with captures.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert json.loads(rows[2]["new_capital_names"]) == ["Kunduz", "Sar-e Pul", "Taloqan"]
        with (captures.parent / "daily_capture_sources.csv").open(newline="") as fh:
            sources = list(csv.DictReader(fh))
        assert [json.loads(row["site_names"]) for row in sources][:2] == [["Site A"], ["Site B"]]
    else:
        rows = pq.read_table(captures).to_pylist()
        assert rows[2]["new_capital_names"] == ["Kunduz", "Sar-e Pul", "Taloqan"]
    assert len(rows) == 10
    # the table's order, the retakes and held count beside the counts (not last, as appended)
    assert list(rows[0]) == [
        "day", "new_capitals", "new_capital_names", "cumulative_capitals", "claimed_only",
        "retaken_capital_names", "recaptured_capital_names", "held_capitals",
        "max_reported_count", "national_capital", "national_capital_status", "articles",
        "stories",
    ]  # fmt: skip


def test_export_refuses_an_unknown_format(timeline_db, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        export_summaries(timeline_db, tmp_path, "xlsx")  # type: ignore[arg-type]


STRAY = {  # a page dated years before the story (an archive page, a misread date)
    "url": "https://d.example/archive/2019",
    "site_name": "Site D",
    "published_at": datetime(2019, 3, 1, 12, tzinfo=UTC),
    "text": "An archived report on the provincial council elections in Herat.",
}


def test_a_range_of_years_is_summarized_on_one_screen_and_charted_by_month(
    prefect_harness, tmp_path
):
    """One stray article from 2019 made the range 900 days long: `summarize` printed a row for
    each, and the chart labelled each day (a black smear, most of a minute to draw)."""
    db_path = str(tmp_path / "years.duckdb")  # its artifacts' keys: daily-captures-years, …
    from typer.testing import CliRunner

    from flows.cli import app
    from tasks.summaries import _captures_figure
    from warehouse.summaries import read_daily_captures

    insert_articles(db_path, [*TIMELINE, STRAY])
    result = CliRunner().invoke(app, ["summarize", "--db", db_path])
    assert result.exit_code == 0, result.stderr
    rows = read_daily_captures(db_path, None, None)
    captured = [r["day"].isoformat() for r in rows if r["new_capitals"] or r["national_capital"]]
    assert (len(rows), captured) == (899, ["2021-08-06", "2021-08-07", "2021-08-08", "2021-08-15"])
    assert f"4 of {len(rows)} days, those with captures" in " ".join(result.stdout.split())
    printed = [line.split("│")[1].strip() for line in result.stdout.splitlines() if "│ 20" in line]
    assert printed == captured
    ticks = _captures_figure(rows, "t").axes[0].get_xticks()
    assert 2 <= len(ticks) <= 20
    # the run's artifacts in the UI: the days with captures (they held all 899)
    table, report = _latest_artifacts("daily-captures-years", "daily-captures-report-years")
    assert [row["day"] for row in json.loads(table.data)] == captured
    assert table.description.startswith(
        f"Provincial capitals reported captured, by day: the 4 of {len(rows)} days with captures"
    )
    assert [line.split("|")[1].strip() for line in report.data.splitlines()[4:8]] == captured
    table_part, first_reports = report.data.split("## First reports")
    assert len(table_part.splitlines()) < 12
    assert first_reports.count("\n- ") == 5  # the capitals new on those days, one line each
    # a long range with no capture in it: a sentence, not a table of one row of dashes
    before = ["summarize", "--start", "2019-01-01", "--end", "2021-08-05", "--db", db_path]
    assert CliRunner().invoke(app, before).exit_code == 0
    table, report = _latest_artifacts("daily-captures-years", "daily-captures-report-years")
    days = len(read_daily_captures(db_path, date(2019, 1, 1), date(2021, 8, 5)))
    assert json.loads(table.data) == [] and days > 45
    assert report.data.startswith(
        "# Provincial capitals reported captured, by day, 2019-01-01 … 2021-08-05: the 0 of "
        f"{days} days with captures (every day: `newsflow captures`, or the daily_captures "
        f"table)\n\nNone of its {days} days has a capital reported captured or retaken.\n"
    )


def _latest_artifacts(*keys: str) -> list[Any]:
    """The latest artifact of each key, as Prefect's UI shows it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    with get_client(sync_client=True) as client:
        keyed = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=list(keys)))
        latest = {a.key: a for a in client.read_latest_artifacts(artifact_filter=keyed)}
    return [latest[key] for key in keys]


def test_a_warehouse_from_before_the_held_count_says_how_to_upgrade_and_summarize_does(
    prefect_harness, timeline_db
):
    """`captures` after an upgrade of newsflow, on a warehouse from before migration 009, failed
    with a traceback (a column not found): now it names the fix, and `summarize` upgrades the
    warehouse (a read-only command leaves it as it is)."""
    from typer.testing import CliRunner

    from flows.cli import app

    _as_before_009(timeline_db)
    result = CliRunner().invoke(app, ["captures", "--db", timeline_db])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: warehouse {timeline_db} has schema version 8, older than this newsflow's "
        f"({db.latest_version()}): "
        f"run `newsflow summarize --db {timeline_db}` once to upgrade it (the read failed: "
        "Binder Error: "
    )
    query = ["query", "SELECT max(held_capitals) FROM daily_captures", "--db", timeline_db]
    result = CliRunner().invoke(app, query)
    assert result.exit_code == 1 and "schema version 8, older" in result.stderr
    articles = ["query", "SELECT count(*) FROM articles", "--db", timeline_db, "-f", "csv"]
    result = CliRunner().invoke(app, articles)
    assert (result.exit_code, result.stdout.split()) == (0, ["count_star()", "4"])  # as before
    result = CliRunner().invoke(app, ["summarize", "--db", timeline_db])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(app, [*query, "-f", "csv"])
    assert (result.exit_code, result.stdout.split()) == (0, ["max(held_capitals)", "5"])


def test_the_flows_upgrade_a_warehouse_of_the_first_release_before_they_read_it(
    prefect_harness, tmp_path
):
    """summarize and reclean read before they write: a warehouse with only migration 001 made
    their first read fail (no events table), and the reader's advice (run summarize) circular."""
    import duckdb

    from flows.reclean import reclean
    from flows.summarize import summarize

    path = str(tmp_path / "first.duckdb")
    with duckdb.connect(path) as conn:
        conn.execute(db._SCHEMA_VERSION_DDL["duckdb"])
        conn.execute(db.migrations()[0][2])
        conn.execute("INSERT INTO schema_version VALUES (1, 'init', now())")
    with pytest.raises(db.WarehouseError, match="schema version 1, older than this newsflow's"):
        pending_articles(path)
    assert (summarize(db=path).articles_read, reclean(db=path).pages) == (0, 0)
    with db.reader(path) as conn:
        assert db.schema_version(conn) == db.latest_version()


def test_summarize_flow_extracts_summarizes_charts_and_publishes(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.summarize import summarize

    db_path = str(tmp_path / "timeline.duckdb")
    insert_articles(db_path, TIMELINE)
    report = summarize(db=db_path, batch_size=2)
    assert (report.articles_read, report.days, report.capitals_reported) == (4, 10, 5)
    assert report.events_found == 7 and report.counts_found == 2
    png, chart = Path(report.chart_png).read_bytes(), report.chart_html
    page = Path(chart).read_text(encoding="utf-8")
    assert png.startswith(b"\x89PNG")
    assert "<svg" in page and "Sar-e Pul" in page and "<script" not in page
    first = page.split("<h2>First reports</h2>", 1)[1]
    assert (
        "<strong>Sheberghan</strong> (claimed, taliban; Site B): “A Taliban spokesman said the "
        'group captured Shibirghan on Saturday.” <a href="https://b.example/sheberghan">'
    ) in first
    with get_client(sync_client=True) as client:
        keys = {
            a.key
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="daily-captures"))
            )
        }
    # each warehouse its own keys: a run on another warehouse does not replace this one's report
    assert {"daily-captures-timeline", "daily-captures-report-timeline"} <= keys
    assert not keys & {"daily-captures", "daily-captures-report"}
    [report] = _latest_artifacts("daily-captures-report-timeline")
    first = report.data.split("## First reports\n\n", 1)[1].splitlines()
    assert first[1] == (  # claimed on the 7th: only the Taliban said so that day
        "- 2021-08-07 **Sheberghan** (claimed, taliban; Site B): “A Taliban spokesman said the "
        "group captured Shibirghan on Saturday.” [source](<https://b.example/sheberghan>)"
    )
    assert [line.split("**")[1] for line in first if line.startswith("- ")] == [
        "Zaranj", "Sheberghan", "Kunduz", "Sar-e Pul", "Taloqan"
    ]  # fmt: skip

    again = summarize(start=date(2021, 8, 7), end=date(2021, 8, 8), db=db_path)
    assert (again.articles_read, again.days) == (0, 2)
    assert again.headline().startswith("summarized 2021-08-07 … 2021-08-08: read 0 new")
    wider = summarize(start=date(2021, 8, 14), end=date(2021, 8, 30), db=db_path)
    assert wider.last_day is not None and wider.last_day < date(2021, 8, 30)
    headline, days = wider.headline(), f"{wider.days} day{'s' * (wider.days != 1)}"
    assert headline.startswith("summarized 2021-08-14 … 2021-08-30: read 0 new")
    assert f"); {days} with data (2021-08-14 … {wider.last_day}), " in headline  # not "1 days"
    # the count is of every day up to the last, not of the range's (QA: read as the range's)
    assert f"capitals reported captured by {wider.last_day}, since the first day (" in headline
    # the chart beside the warehouse stays of every day (it was redrawn with the range's two)
    assert again.chart_html == chart
    assert "10 days; generated" in Path(again.chart_html).read_text(encoding="utf-8")
    beyond = summarize(start=date(2021, 9, 1), end=date(2021, 9, 3), db=db_path)
    assert beyond.days == 0 and beyond.headline().startswith(
        "summarized 2021-09-01 … 2021-09-03: read 0 new or changed articles (0 capture events, "
        "0 running counts); no day in that range has articles or capture reports; chart: "
    )  # not "0 provincial capitals reported captured", with five reported by then
    assert "10 days; generated" in Path(beyond.chart_html).read_text(encoding="utf-8")
    # its artifacts say the same (the report was a table of one row of dashes)
    table, report = _latest_artifacts("daily-captures-timeline", "daily-captures-report-timeline")
    assert json.loads(table.data) == []
    assert table.description == (
        "Provincial capitals reported captured, by day, 2021-09-01 … 2021-09-03: no day in this "
        "range has articles or capture reports."
    )
    assert report.data.startswith(
        "# Provincial capitals reported captured, by day, 2021-09-01 … 2021-09-03\n\n"
        "No day in this range has articles or capture reports.\n\nChart: `"
    )
    assert (
        _rows(db_path, "SELECT day, count(*) FROM daily_captures GROUP BY day HAVING count(*) > 1")
        == []
    )
    assert _rows(db_path, "SELECT count(*) FROM daily_captures") == [(10,)]

    # A new article reports a capture days before the range asked for: the days from then on
    # are recomputed, so the running total stays the sum of the days' new capitals.
    insert_articles(
        db_path,
        [{"url": "https://d.example/ghazni", "site_name": "Site D",
          "published_at": datetime(2021, 8, 12, 9, tzinfo=UTC),
          "text": "Officials said the Taliban had captured Ghazni on Monday."}],
    )  # fmt: skip
    late = summarize(start=date(2021, 8, 11), end=date(2021, 8, 12), db=db_path)
    assert (late.articles_read, late.days, late.capitals_reported) == (1, 2, 6)
    days = _rows(
        db_path,
        "SELECT day, new_capital_names, cumulative_capitals FROM daily_captures ORDER BY day",
    )
    assert days[3] == (date(2021, 8, 9), ["Ghazni"], 6)
    assert [row[2] for row in days] == [1, 2, 5, 6, 6, 6, 6, 6, 6, 6]

    # a scheduled run's last_days: the N days up to the end, that one included
    recent = summarize(end=date(2021, 8, 15), last_days=3, db=db_path)
    assert (recent.start, recent.days, recent.articles_read) == (date(2021, 8, 13), 3, 0)
    # with a start too, a deployment run took the start and dropped last_days without a word
    with pytest.raises(ValueError, match="pass start or last_days, not both"):
        summarize(start=date(2021, 8, 10), last_days=2, db=db_path)
    # without an end, up to today: the days after it, which an article dated wrongly reports,
    # were in "the last 2 days" (QA)
    later = datetime.now(UTC) + timedelta(days=3)
    insert_articles(
        db_path,
        [{"url": "https://d.example/later", "site_name": "Site D", "published_at": later,
          "text": "Officials said the Taliban had captured Zaranj on Friday."}],
    )  # fmt: skip
    run_on = date.today()
    today = summarize(last_days=2, db=db_path)
    assert today.end in {run_on, date.today()}  # (the run may cross midnight)
    assert today.end is not None and today.start == today.end - timedelta(days=1)
    assert today.last_day is not None and today.last_day <= today.end


@pytest.mark.parametrize(
    ("db", "folder"),
    [
        ("/data/news.duckdb", "/data/reports/news"),
        ("/data/test.duckdb", "/data/reports/test"),
        ("ducklake:sqlite:/data/lake/catalog.sqlite", "/data/lake/reports/catalog"),
        ("ducklake:/data/lake/catalog.ducklake?data=/mnt/parquet", "/data/lake/reports/catalog"),
        ("ducklake:postgres:dbname=news host=db", "{cwd}/reports/news"),
        ("ducklake:postgres:host=db", "{cwd}/reports/ducklake"),
    ],
)
def test_charts_go_beside_the_warehouse_file_or_the_lakes_catalog(db, folder):
    """Not into a folder named after the URL ("ducklake:sqlite:/…") under the working directory;
    each warehouse in a folder of its own (two in one folder drew over each other's chart)."""
    from tasks.summaries import reports_dir

    assert reports_dir(db) == Path(folder.format(cwd=Path.cwd()))


@pytest.mark.parametrize(
    ("db", "key"),
    [
        ("warehouse/news.duckdb", "daily-captures-news"),
        ("/data/Kabul_2021.duckdb", "daily-captures-kabul-2021"),
        ("ducklake:sqlite:/data/lake/catalog.sqlite", "daily-captures-catalog"),
        ("ducklake:postgres:dbname=news host=db", "daily-captures-news"),
        ("/data/___.duckdb", "daily-captures-warehouse"),
    ],
)
def test_each_warehouse_has_artifact_keys_of_its_own(db, key):
    """Named after the warehouse, as its chart folder is, in the letters Prefect's keys allow:
    with one key for all, a summarize of a test warehouse replaced the main one's report."""
    from warehouse.db import artifact_key

    assert artifact_key("daily-captures", db) == key


def test_an_edit_that_moves_a_capture_to_a_later_day_clears_the_day_it_left(
    prefect_harness, db_path
):
    """A corrected article reports the capture on Monday, not Friday: a summarize of the days
    around the new one recomputes from the Friday too, so no day keeps the withdrawn report."""
    from flows.summarize import summarize

    [article_id] = insert_articles(
        db_path,
        [{"url": "https://a.example/zaranj", "site_name": "Site A",
          "published_at": datetime(2021, 8, 10, 9, tzinfo=UTC),
          "text": "Taliban fighters captured Zaranj on Friday, officials said."}],
    )  # fmt: skip
    assert summarize(db=db_path).articles_read == 1
    assert _rows(db_path, "SELECT min(day) FROM daily_captures WHERE new_capitals = 1") == [
        (date(2021, 8, 6),)
    ]
    with db.writer(db_path) as conn:
        conn.execute(
            "UPDATE articles SET text = replace(text, 'Friday', 'Monday'), text_hash = 'v2', "
            "version = 2 WHERE id = ?",
            [article_id],
        )
    again = summarize(start=date(2021, 8, 9), end=date(2021, 8, 10), db=db_path)
    assert (again.articles_read, again.capitals_reported) == (1, 1)
    assert _rows(
        db_path,
        "SELECT day, new_capital_names, cumulative_capitals FROM daily_captures ORDER BY day",
    ) == [(date(2021, 8, 9), ["Zaranj"], 1), (date(2021, 8, 10), [], 1)]
    assert _rows(db_path, "SELECT day, capital FROM daily_capture_sources") == [
        (date(2021, 8, 9), "Zaranj")
    ]
