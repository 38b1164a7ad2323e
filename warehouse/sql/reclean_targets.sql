-- What each page a reclean read stands for now: the article whose current version was read from
-- it, else its URL's rejected row while that URL has no article. A page in neither was replaced
-- meanwhile (a run fetched the article again) and is left alone.
SELECT w.fetch_id, a.id, a.url_key, a.title, r.first_seen_at, r.last_seen_at
FROM wanted_fetches w
LEFT JOIN articles a ON a.fetch_id = w.fetch_id
LEFT JOIN rejected r ON r.fetch_id = w.fetch_id
    AND NOT EXISTS (SELECT 1 FROM articles x WHERE x.url_key = r.url_key)
WHERE a.id IS NOT NULL OR r.url_key IS NOT NULL;
