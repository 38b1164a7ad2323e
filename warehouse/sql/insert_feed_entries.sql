-- A feed entry seen again with another link, title, summary or byline (the feed corrected it):
-- the feed's latest word; its first sighting stays, and its publication time unless it had none.
UPDATE feed_entries SET
    link = i.link, title = i.title, summary = i.summary, author = i.author,
    published_at = coalesce(feed_entries.published_at, i.published_at)
FROM incoming_entries i
WHERE feed_entries.feed_url = i.feed_url AND feed_entries.entry_key = i.entry_key
  AND (feed_entries.link IS DISTINCT FROM i.link
       OR feed_entries.title IS DISTINCT FROM i.title
       OR feed_entries.summary IS DISTINCT FROM i.summary
       OR feed_entries.author IS DISTINCT FROM i.author
       OR (feed_entries.published_at IS NULL AND i.published_at IS NOT NULL));
-- Each feed entry once (incoming_entries holds each key once).
INSERT INTO feed_entries
    (feed_url, entry_key, source_name, link, title, summary, author, published_at, first_seen_at)
SELECT feed_url, entry_key, source_name, link, title, summary, author, published_at, seen_at
FROM incoming_entries i
WHERE NOT EXISTS (
    SELECT 1 FROM feed_entries f WHERE f.feed_url = i.feed_url AND f.entry_key = i.entry_key
);
