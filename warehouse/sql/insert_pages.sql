-- Raw bodies are kept once per distinct content, so re-cleaning never re-fetches.
INSERT INTO pages (content_hash, url, encoding, body_zlib, bytes, first_fetched_at)
SELECT content_hash, url, encoding, body_zlib, bytes, fetched_at FROM incoming_pages
ON CONFLICT (content_hash) DO NOTHING;
