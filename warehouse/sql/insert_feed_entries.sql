INSERT INTO feed_entries
    (feed_url, entry_key, source_name, link, title, summary, author, published_at, first_seen_at)
SELECT feed_url, entry_key, source_name, link, title, summary, author, published_at, seen_at
FROM incoming_entries
ON CONFLICT (feed_url, entry_key) DO NOTHING;
