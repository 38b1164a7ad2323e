-- What the extractor reads of a batch of articles (the ids bound as a list).
SELECT
    id AS article_id,
    text_hash,
    version,
    title,
    text,
    local_day(published_at, published_offset, NULL) AS published_on,
    cluster_id,
    source_site(site_name, url, source_name) AS site_name
FROM articles
WHERE id IN (SELECT unnest($ids::VARCHAR[]))
ORDER BY id
