-- The articles a run just loaded (newest sightings first), for the end-of-run summary.
SELECT strftime(published_at, '%Y-%m-%d') AS published, coalesce(site_name, source_name) AS site,
       title, CASE WHEN duplicate_of IS NULL THEN '' ELSE duplicate_kind || ' duplicate' END AS note
FROM articles
WHERE first_seen_at >= $since
ORDER BY published_at NULLS LAST, title
LIMIT $limit;
