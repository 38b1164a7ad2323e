-- Articles and distinct stories (dedup clusters) per day and site, from article_volume.
INSERT INTO daily_article_counts
SELECT day, site, articles, stories, now() AS computed_at
FROM article_volume
WHERE all_sites = 0
