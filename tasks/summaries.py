"""Daily summaries for people: recompute them; render the captures table, chart and artifacts."""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from warehouse.db import artifact_key, make_folder, parse_warehouse
from warehouse.summaries import (
    read_daily_captures,
    recompute_daily_summaries,
    write_summary_tables,
)

REPORTS_DIRNAME = "reports"
CHART_STEM = "daily_captures"
COLUMNS = {
    "day": "day",
    "new_capitals": "new",
    "capitals": "capitals reported captured (status, sources)",
    "cumulative_capitals": "cumulative",
    "claimed_only": "claimed only",
    "retaken_capitals": "retaken",
    "held_capitals": "held",
    "max_reported_count": "max count reported",
    "national_capital": "national capital",
    "articles": "articles",
    "stories": "stories",
}
# The longest range shown day by day: a chart labels each day and the artifacts hold each one;
# a longer range gets months or years on the chart, and its days with captures in the artifacts
DAY_BY_DAY_UP_TO = 45
FIRST_REPORTS_SHOWN = 100  # first reports in the artifact and on the chart's page, the last ones
EVIDENCE_CHARS = 300  # a first report's sentence there, cut after
_NAME_LINE_INCHES = 0.13  # one 7-point line of capital names on the chart
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; }}
svg {{ max-width: 100%; height: auto; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{subtitle}</p>
{svg}
<h2>By day</h2>
{table}
{first_reports}
</body></html>
"""


@dataclass(frozen=True)
class ChartFiles:
    """The chart of cumulative capitals, as a PNG and as a self-contained HTML page."""

    png: Path
    html: Path


def reports_dir(db: str) -> Path:
    """Where a warehouse's charts go: reports/<its name>/ beside the warehouse file, or beside a
    DuckLake's catalog file (two warehouses in one folder drew over each other's chart); in the
    working directory for a lake on PostgreSQL, which has no file, named after its database."""
    warehouse = parse_warehouse(db)
    catalog = warehouse.catalog_file
    folder = catalog.resolve().parent if catalog else Path.cwd()
    return folder / REPORTS_DIRNAME / warehouse.name


def _capitals_cell(row: dict[str, Any]) -> str:
    """Each new capital, its status when only claimed, and its sources: "Kandahar (claimed, 1)";
    then each one taken again after a retake: "Kunduz (again, 2)"."""
    parts = []
    for key, again in (("new_capital_sources", ""), ("recaptured_capital_sources", "again, ")):
        for item in row.get(key) or []:
            status = "" if item["status"] == "confirmed" else f"{item['status']}, "
            parts.append(f"{item['capital']} ({again}{status}{item['sources']})")
    return ", ".join(parts)


def display_row(row: dict[str, Any]) -> dict[str, Any]:
    """One daily_captures row as the CLI, the artifacts and the HTML page show it."""
    national = row.get("national_capital")
    return {
        "day": row["day"].isoformat() if isinstance(row["day"], date) else row["day"],
        "new_capitals": row["new_capitals"],
        "capitals": _capitals_cell(row),
        "cumulative_capitals": row["cumulative_capitals"],
        "claimed_only": row["claimed_only"],
        "retaken_capitals": ", ".join(row.get("retaken_capital_names") or []),
        "held_capitals": row.get("held_capitals"),
        "max_reported_count": row["max_reported_count"],
        "national_capital": f"{national}: {row['national_capital_status']}" if national else "",
        "articles": row["articles"],
        "stories": row["stories"],
    }


def daily_captures_table(db: str, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """The daily captures in [start, end] as display rows (for `newsflow captures`)."""
    return [display_row(row) for row in read_daily_captures(db, start, end)]


def export_summaries(
    db: str, out_dir: str | Path, fmt: Literal["csv", "parquet"] = "csv"
) -> dict[Path, int]:
    """Write daily_captures, daily_capture_sources and daily_article_counts as CSV or Parquet.

    Returns:
        the files written, one per table, named <table>.<fmt> in out_dir, each with its rows.
    """
    return write_summary_tables(db, Path(out_dir), fmt)


def captures_markdown(rows: Sequence[dict[str, Any]], title: str, empty: str = "") -> str:
    """The daily captures as a Markdown table under a heading; with no row, the sentence
    `empty` says why in its place (a table of dashes read as a day of blanks)."""
    if not rows:
        return f"# {title}\n\n{empty}\n"
    header = "| " + " | ".join(COLUMNS.values()) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    lines = [f"# {title}", "", header, rule]
    for row in rows:
        cells = ("" if row[key] is None else str(row[key]) for key in COLUMNS)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _html_table(rows: Sequence[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for label in COLUMNS.values())
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if r[k] is None else str(r[k]))}</td>" for k in COLUMNS)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _captures_figure(rows: Sequence[dict[str, Any]], title: str) -> Figure:
    """Cumulative capitals by day (line), new ones (bars), each day's names above its point;
    where a capital was reported retaken, the capitals held too (a second line)."""
    figure = Figure(figsize=(12, 7), layout="constrained")
    axes = figure.add_subplot()
    days = [r["day"] for r in rows]
    cumulative = [r["cumulative_capitals"] for r in rows]
    axes.bar(days, [r["new_capitals"] for r in rows], color="#f0b27a", label="new that day")
    marker = "o" if len(rows) <= DAY_BY_DAY_UP_TO else None
    axes.plot(days, cumulative, marker=marker, color="#922b21", label="cumulative")
    if any(r.get("retaken_capital_names") for r in rows):
        # rows summarized before the held count existed have none: a gap in the line
        held = [math.nan if r["held_capitals"] is None else r["held_capitals"] for r in rows]
        axes.plot(days, held, marker=marker, color="#1f618d", linestyle=":", label="held")
        for row, count in zip(rows, held, strict=True):
            changed = [
                f"{label}:\n" + "\n".join(row.get(key) or [])
                for label, key in (
                    ("retaken", "retaken_capital_names"),
                    ("again", "recaptured_capital_names"),
                )
                if row.get(key)
            ]
            if changed and not math.isnan(count) and len(rows) <= DAY_BY_DAY_UP_TO:
                low = count < 2  # under the point it would sit on the dates (QA)
                axes.annotate(
                    "\n".join(changed),
                    (row["day"], count),
                    xytext=(0, 8 if low else -8),
                    textcoords="offset points",
                    ha="center",
                    va="bottom" if low else "top",
                    fontsize=7,
                    color="#1f618d",
                )
    lines = max((len(r["new_capital_names"]) for r in rows), default=0)
    spare = 1 - min(0.7, lines * _NAME_LINE_INCHES / 5.0)
    axes.set_ylim(0, (max(cumulative, default=0) + 1) / spare + 1)
    for row in rows:
        if row["new_capital_names"]:
            axes.annotate(
                "\n".join(row["new_capital_names"]),
                (row["day"], row["cumulative_capitals"]),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
            )
    _mark_national_capital(axes, rows)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 ticks
    if not rows:  # matplotlib's default axis showed a day, 1 January 1970, that is no one's
        axes.set_xticks([])
        axes.text(0.5, 0.5, "No article has a publication day yet", ha="center",
                  transform=axes.transAxes, color="#555")  # fmt: skip
        axes.set_title(title)
        return figure
    if len(rows) <= DAY_BY_DAY_UP_TO:
        axes.xaxis.set_major_locator(DayLocator())
        axes.xaxis.set_major_formatter(DateFormatter("%b %d"))
    else:  # a tick a day over years was a black smear, and took most of a minute to draw
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_ylabel("provincial capitals reported captured")
    axes.set_title(title)
    axes.legend(loc="upper left")
    return figure


def _mark_national_capital(axes: Any, rows: Sequence[dict[str, Any]]) -> None:
    """A dashed line on the first day the national capital was reported taken (kept apart),
    and on the first day it was confirmed when a claim came first: a claim years before its
    fall was the only mark, and the fall had none (QA)."""
    taken = [r for r in rows if r["national_capital_status"] in ("confirmed", "claimed")]
    confirmed = [r for r in taken if r["national_capital_status"] == "confirmed"]
    marks = taken[:1] + [r for r in confirmed[:1] if r is not taken[0]]
    for height, mark in zip((0.5, 0.6), marks, strict=False):
        axes.axvline(mark["day"], color="#555", linestyle="--", linewidth=1)
        axes.annotate(
            f"{mark['national_capital']} ({mark['national_capital_status']})",
            (mark["day"], height),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            color="#555",
            xycoords=("data", "axes fraction"),
        )


def _html_first_reports(reports: Sequence[dict[str, Any]]) -> str:
    """The first reports as an HTML list, as first_reports_markdown words them."""
    if not reports:
        return ""
    items = []
    cut = ""
    if len(reports) > FIRST_REPORTS_SHOWN:  # as the Markdown says: the list is not all of them
        cut = f"<p>{html.escape(_first_reports_cut(len(reports)).replace('`', ''))}</p>\n"
    for report in reports[-FIRST_REPORTS_SHOWN:]:
        by = f", {report['reported_by']}" if report["reported_by"] else ""
        items.append(
            f"<li>{report['day']} <strong>{html.escape(report['capital'])}</strong> "
            f"({html.escape(report['status'] + by)}; {html.escape(report['site'])}): "
            f"“{html.escape(_cut(report['evidence']))}” "
            f'<a href="{html.escape(report["url"])}">source</a></li>'
        )
    return "<h2>First reports</h2>\n" + cut + "<ul>\n" + "\n".join(items) + "\n</ul>"


def draw_captures_chart(
    rows: Sequence[dict[str, Any]],
    out_dir: Path,
    title: str = "Provincial capitals reported captured",
    first_reports: Sequence[dict[str, Any]] = (),
) -> ChartFiles:
    """Write the chart of daily_captures rows (as read_daily_captures returns them) as
    <out_dir>/daily_captures.png and a self-contained daily_captures.html (inline SVG), the
    page with the first report of each new capital and retake under its table."""
    make_folder(
        out_dir,
        lambda why: (
            f"cannot create the chart's folder {out_dir}: {why}; move what is in its way "
            "(the summaries are written; rerun to draw the chart)"
        ),
    )
    figure = _captures_figure(rows, title)
    png = out_dir / f"{CHART_STEM}.png"
    figure.savefig(png, dpi=110)
    svg = io.StringIO()
    figure.savefig(svg, format="svg")
    page = out_dir / f"{CHART_STEM}.html"
    subtitle = f"{len(rows)} days; generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by newsflow"
    page.write_text(
        _PAGE.format(
            title=html.escape(title),
            subtitle=html.escape(subtitle),
            svg=svg.getvalue().split("?>", 1)[-1],
            table=_html_table([display_row(r) for r in rows]),
            first_reports=_html_first_reports(first_reports),
        ),
        encoding="utf-8",
    )
    return ChartFiles(png=png, html=page)


@task(name="compute_daily_summaries")
def compute_daily_summaries(db: str, start: date | None, end: date | None) -> dict[str, int]:
    """Task: replace the daily summary rows in [start, end]; returns rows per table."""
    written = recompute_daily_summaries(db, start, end)
    get_run_logger().info(
        "daily summaries for %s … %s: %s", start or "start", end or "end", written
    )
    return written


@task(name="render_captures_chart")
def render_captures_chart(
    rows: list[dict[str, Any]], out_dir: Path, first_reports: list[dict[str, Any]]
) -> ChartFiles:
    """Task: the PNG and HTML chart of cumulative capitals (the page with the first reports)."""
    files = draw_captures_chart(rows, out_dir, first_reports=first_reports)
    get_run_logger().info("chart written to %s and %s", files.png, files.html)
    return files


def days_with_captures(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The days something was reported captured (new, or again) or retaken: what shows a range
    too long to show whole."""
    return [
        row
        for row in rows
        if row["new_capitals"]
        or row["capitals"]
        or row["retaken_capitals"]
        or row["national_capital"]
    ]


def first_reports_markdown(reports: Sequence[dict[str, Any]]) -> str:
    """The first report of each capital new, taken again or retaken, as a Markdown list: day,
    capital, status, who reported it, the site, the sentence (cut at EVIDENCE_CHARS) and a link;
    the last FIRST_REPORTS_SHOWN."""
    if not reports:
        return ""
    lines = ["", "## First reports", ""]
    if len(reports) > FIRST_REPORTS_SHOWN:
        lines += [_first_reports_cut(len(reports)), ""]
    for report in reports[-FIRST_REPORTS_SHOWN:]:
        by = f", {report['reported_by']}" if report["reported_by"] else ""
        words = (
            f"**{_markdown_text(report['capital'])}** "
            f"({_markdown_text(report['status'] + by)}; {_markdown_text(report['site'])}): "
            f"“{_markdown_text(_cut(report['evidence']))}”"
        )
        lines.append(f"- {report['day']} {words} [source](<{_markdown_url(report['url'])}>)")
    return "\n".join(lines) + "\n"


def _first_reports_cut(count: int) -> str:
    """What a list of the last FIRST_REPORTS_SHOWN first reports says it leaves out."""
    return (
        f"The last {FIRST_REPORTS_SHOWN} of {count}: `newsflow evidence` prints the reports "
        "behind them all (with a `--limit` over its 100 rows)."
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|!~&])")


def _markdown_text(text: str) -> str:
    """Text shown as written in Markdown: its punctuation escaped, so a site named `*Bold*` or
    `<img …>` and a quoted sentence are not styled, linked or run as HTML in Prefect's UI."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _markdown_code(text: str) -> str:
    """Text as a Markdown code span, fenced by more backticks than it holds in a row (a path
    with a backtick ended the span)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _markdown_url(url: str) -> str:
    """A URL as a Markdown link's <destination>: the characters that would end it encoded."""
    return url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


def _cut(sentence: str) -> str:
    """An evidence sentence on one line, cut to EVIDENCE_CHARS at most."""
    sentence = " ".join(sentence.split())
    if len(sentence) > EVIDENCE_CHARS:
        sentence = sentence[: EVIDENCE_CHARS - 1].rstrip() + "…"
    return sentence


@task(name="publish_captures_artifacts")
def publish_captures_artifacts(
    db: str,
    rows: list[dict[str, Any]],
    chart: ChartFiles,
    first_reports: list[dict[str, Any]],
    start: date | None = None,
    end: date | None = None,
) -> None:
    """Task: a table artifact and a Markdown artifact of the daily captures (display rows) from
    start to end, the Markdown with the first report of each new capital and retake; over more
    than DAY_BY_DAY_UP_TO days, of the days with captures (a stray page from years before made
    thousands of empty days). A range with no row says so, in the description and the report."""
    title = "Provincial capitals reported captured, by day"
    if start or end:
        title += f", {start or 'first day'} … {end or 'last day'}"
    empty = (
        "No day in this range has articles or capture reports."
        if start or end
        else "No article in the warehouse has a publication day yet."
    )
    if len(rows) > DAY_BY_DAY_UP_TO:
        shown = days_with_captures(rows)
        title += (
            f": the {len(shown)} of {len(rows)} days with captures (every day: `newsflow "
            "captures`, or the daily_captures table)"
        )
        empty = f"None of its {len(rows)} days has a capital reported captured or retaken."
        rows = shown
    description = title if rows else f"{title}: {empty[0].lower()}{empty[1:]}"
    create_table_artifact(
        table=rows, key=artifact_key("daily-captures", db), description=description
    )
    markdown = captures_markdown(rows, title, empty)
    markdown += first_reports_markdown(first_reports)
    markdown += f"\nChart: {_markdown_code(str(chart.png))} and {_markdown_code(str(chart.html))}\n"
    create_markdown_artifact(markdown=markdown, key=artifact_key("daily-captures-report", db))
