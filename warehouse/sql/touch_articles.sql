-- Articles seen again with the same text and headline: their sighting, and their byline, site name
-- and language as read now (newsflow may read them better than when the articles were stored).
UPDATE articles SET
    last_seen_at = ?, author = t.author, site_name = t.site_name, language = t.language
FROM touched_articles t
WHERE articles.id = t.id;
