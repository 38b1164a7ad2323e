-- The articles a run just added (first seen since it started and, when its run id is known,
-- fetched by it: not those another run loaded meanwhile), oldest publication first.
SELECT strftime(published_at, '%Y-%m-%d') AS published, coalesce(site_name, source_name) AS site,
       title, CASE WHEN duplicate_of IS NULL THEN '' ELSE duplicate_kind || ' duplicate' END AS note
FROM articles
WHERE first_seen_at >= $since
  AND ($run_id IS NULL OR fetch_id IN (SELECT fetch_id FROM fetches WHERE run_id = $run_id))
ORDER BY published_at NULLS LAST, title
LIMIT $limit;
