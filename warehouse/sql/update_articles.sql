-- A new version of a known article: same id and story, new text and metadata. A reclean's (no
-- last_seen_at) is no sighting.
UPDATE articles SET
    url = u.url, canonical_url = u.canonical_url, canonical_key = u.canonical_key,
    source_name = u.source_name, title = u.title, author = u.author, site_name = u.site_name,
    language = u.language, published_at = coalesce(u.published_at, articles.published_at),
    published_offset = coalesce(u.published_offset, articles.published_offset),
    text = u.text, text_hash = u.text_hash, version = u.version, fetch_id = u.fetch_id,
    last_seen_at = coalesce(u.last_seen_at, articles.last_seen_at)
FROM incoming_articles u
WHERE articles.id = u.id;
