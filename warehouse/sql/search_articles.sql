-- BM25 (k1 = 1.2, b = 0.75) over the search index of each article's current version, one line per
-- story: each matching cluster shown by its canonical article, with its number of copies.
-- Document frequencies and lengths are those of the whole warehouse; $since only filters the hits:
-- a story whose canonical article was published before $since is shown by its best-matching copy
-- published since (every line shown was published since), and counts its copies published since.
WITH query_terms AS (
    SELECT DISTINCT term FROM search_terms($query)
),
current_docs AS (
    SELECT d.article_id, d.terms
    FROM search_docs d JOIN articles a ON a.id = d.article_id AND a.version = d.version
),
collection AS (
    SELECT count(*) AS docs, avg(terms) AS avg_terms FROM current_docs
),
postings AS (
    SELECT p.term, p.article_id, p.tf, a.cluster_id, a.published_at
    FROM search_postings p
    JOIN query_terms q ON q.term = p.term
    JOIN articles a ON a.id = p.article_id AND a.version = p.version
),
document_frequency AS (
    SELECT term, count(*) AS df FROM postings GROUP BY term
),
scored AS (
    SELECT p.cluster_id, p.article_id, sum(
        ln(1 + (c.docs - f.df + 0.5) / (f.df + 0.5))
        * p.tf * (1.2 + 1) / (p.tf + 1.2 * (1 - 0.75 + 0.75 * d.terms / c.avg_terms))
    ) AS score
    FROM postings p
    JOIN document_frequency f ON f.term = p.term
    JOIN current_docs d ON d.article_id = p.article_id
    CROSS JOIN collection c
    WHERE $since::TIMESTAMPTZ IS NULL OR p.published_at >= $since::TIMESTAMPTZ
    GROUP BY p.cluster_id, p.article_id
),
stories AS (
    SELECT cluster_id, max(score) AS score, arg_max(article_id, score) AS best_article
    FROM scored GROUP BY cluster_id
),
shown AS (
    SELECT s.cluster_id, s.score, CASE
        WHEN $since::TIMESTAMPTZ IS NULL OR k.published_at >= $since::TIMESTAMPTZ THEN s.cluster_id
        ELSE s.best_article
    END AS article_id
    FROM stories s JOIN articles k ON k.id = s.cluster_id  -- k: the canonical article
),
copies AS (
    SELECT cluster_id, count(*) AS copies FROM articles
    WHERE cluster_id IN (SELECT cluster_id FROM stories)
      AND ($since::TIMESTAMPTZ IS NULL OR published_at >= $since::TIMESTAMPTZ)
    GROUP BY cluster_id
)
SELECT round(s.score, 3) AS score, a.published_at, a.site_name, a.title, a.url, c.copies,
       s.cluster_id
FROM shown s
JOIN articles a ON a.id = s.article_id
JOIN copies c ON c.cluster_id = s.cluster_id
ORDER BY s.score DESC, a.published_at DESC NULLS LAST
LIMIT $limit;
