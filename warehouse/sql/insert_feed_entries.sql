-- Each feed entry once: the first sighting is kept (incoming_entries holds each key once).
INSERT INTO feed_entries
    (feed_url, entry_key, source_name, link, title, summary, author, published_at, first_seen_at)
SELECT feed_url, entry_key, source_name, link, title, summary, author, published_at, seen_at
FROM incoming_entries i
WHERE NOT EXISTS (
    SELECT 1 FROM feed_entries f WHERE f.feed_url = i.feed_url AND f.entry_key = i.entry_key
);
