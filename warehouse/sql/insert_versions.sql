INSERT INTO article_versions (article_id, version, text_hash, title, text, fetch_id, seen_at)
SELECT article_id, version, text_hash, title, text, fetch_id, seen_at FROM incoming_versions i
WHERE NOT EXISTS (
    SELECT 1 FROM article_versions v WHERE v.article_id = i.article_id AND v.version = i.version
);
