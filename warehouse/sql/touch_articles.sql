-- Articles seen again with the same text and headline: their sighting, and their metadata as read
-- now (a byline, site name or language newsflow reads better than when they were stored).
UPDATE articles SET
    last_seen_at = ?, author = t.author, site_name = t.site_name, language = t.language,
    published_at = coalesce(t.published_at, articles.published_at),
    published_offset = coalesce(t.published_offset, articles.published_offset)
FROM touched_articles t
WHERE articles.id = t.id;
