-- Raw bodies are kept once per distinct content, so re-cleaning never re-fetches.
INSERT INTO pages (content_hash, url, encoding, body_zlib, bytes, first_fetched_at)
SELECT content_hash, url, encoding, body_zlib, bytes, fetched_at FROM incoming_pages i
WHERE NOT EXISTS (SELECT 1 FROM pages p WHERE p.content_hash = i.content_hash);
