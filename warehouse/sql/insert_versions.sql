INSERT INTO article_versions (article_id, version, text_hash, title, text, fetch_id, seen_at)
SELECT article_id, version, text_hash, title, text, fetch_id, seen_at FROM incoming_versions
ON CONFLICT (article_id, version) DO NOTHING;
