-- Items without usable text: the latest reason and sighting move, the first sighting stays.
UPDATE rejected SET
    reason = r.reason, title = r.title, fetch_id = r.fetch_id, last_seen_at = r.seen_at
FROM incoming_rejected r
WHERE rejected.url_key = r.url_key;
INSERT INTO rejected (url_key, url, source_name, reason, title, fetch_id, first_seen_at, last_seen_at)
SELECT url_key, url, source_name, reason, title, fetch_id, seen_at, seen_at FROM incoming_rejected r
WHERE NOT EXISTS (SELECT 1 FROM rejected o WHERE o.url_key = r.url_key);
