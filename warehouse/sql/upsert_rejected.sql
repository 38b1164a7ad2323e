INSERT INTO rejected (url_key, url, source_name, reason, title, fetch_id, first_seen_at, last_seen_at)
SELECT url_key, url, source_name, reason, title, fetch_id, seen_at, seen_at FROM incoming_rejected
ON CONFLICT (url_key) DO UPDATE SET
    reason = excluded.reason, title = excluded.title, fetch_id = excluded.fetch_id,
    last_seen_at = excluded.last_seen_at;
