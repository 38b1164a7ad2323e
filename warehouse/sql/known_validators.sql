-- The validators of each URL's latest successful fetch, for conditional GET on re-fetch.
SELECT f.url, arg_max(f.etag, f.fetch_id), arg_max(f.last_modified, f.fetch_id)
FROM fetches f
WHERE f.outcome = 'ok' AND f.url IN (SELECT url FROM wanted_urls)
GROUP BY f.url;
