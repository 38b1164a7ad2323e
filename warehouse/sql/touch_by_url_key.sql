UPDATE articles SET last_seen_at = ? WHERE url_key IN (SELECT url_key FROM touched_keys);
