-- Stored pages with what their fetch said of them, and the feed entry that first linked to each
-- URL (it fills what a page lacks, as it did when the page was fetched).
SELECT f.fetch_id, f.url, f.source_name, f.final_url, f.status, f.content_type, p.encoding,
       f.etag, f.last_modified, f.fetched_at, p.body_zlib, p.content_hash, p.bytes,
       e.feed_url, e.entry_key, e.source_name, e.link, e.title, e.summary, e.author, e.published_at
FROM fetches f
JOIN pages p ON p.content_hash = f.content_hash
LEFT JOIN (
    SELECT DISTINCT ON (link) * FROM feed_entries
    WHERE link IN (SELECT url FROM fetches WHERE fetch_id IN (SELECT fetch_id FROM wanted_fetches))
    ORDER BY link, first_seen_at, feed_url, entry_key
) e ON e.link = f.url
WHERE f.fetch_id IN (SELECT fetch_id FROM wanted_fetches)
ORDER BY f.fetch_id;
