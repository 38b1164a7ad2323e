"""Documents as the clean stage hands them to a load, for tests that load without fetching."""

from __future__ import annotations

from datetime import UTC, datetime

from tasks.records import Document, FetchResult


def cleaned_document(
    url: str,
    text: str,
    *,
    source_name: str,
    title: str,
    site_name: str | None = None,
    published_at: datetime | None = None,
    published_offset: str | None = None,
    canonical_url: str | None = None,
    fetched_at: datetime | None = None,
) -> Document:
    """An article with `text` as its body, and the fetch of a page holding that text."""
    fetch = FetchResult(
        url=url,
        source_name=source_name,
        outcome="ok",
        final_url=url,
        status=200,
        bytes=len(text),
        fetched_at=fetched_at or datetime.now(UTC),
        content_type="text/html",
        html=f"<html><body><article><p>{text}</p></article></body></html>",
    )
    return Document(
        url=url,
        source_name=source_name,
        canonical_url=canonical_url,
        title=title,
        author=None,
        site_name=site_name,
        language="en",
        published_at=published_at,
        published_offset=published_offset,
        text=text,
        fetch=fetch,
    )
