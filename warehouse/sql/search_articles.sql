-- One line per story: each matching cluster shown by its canonical article, with its number of copies.
WITH scored AS (
    SELECT a.cluster_id, fts_main_articles.match_bm25(a.id, $query) AS score
    FROM articles a
    WHERE $since::TIMESTAMPTZ IS NULL OR a.published_at >= $since::TIMESTAMPTZ
),
stories AS (
    SELECT cluster_id, max(score) AS score FROM scored WHERE score IS NOT NULL GROUP BY cluster_id
),
copies AS (
    SELECT cluster_id, count(*) AS copies FROM articles
    WHERE cluster_id IN (SELECT cluster_id FROM stories) GROUP BY cluster_id
)
SELECT round(s.score, 3) AS score, a.published_at, a.site_name, a.title, a.url, c.copies,
       s.cluster_id
FROM stories s
JOIN articles a ON a.id = s.cluster_id
JOIN copies c ON c.cluster_id = s.cluster_id
ORDER BY s.score DESC, a.published_at DESC NULLS LAST
LIMIT $limit;
