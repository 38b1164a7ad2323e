-- The validators of each URL's latest fetch that had them (200 or 304: a 304 carries the current
-- ETag and Last-Modified, RFC 9110 15.4.5), for conditional GET on re-fetch.
SELECT f.url, arg_max(f.etag, f.fetch_id), arg_max(f.last_modified, f.fetch_id)
FROM fetches f
WHERE f.outcome IN ('ok', 'not_modified') AND f.url IN (SELECT url FROM wanted_urls)
GROUP BY f.url;
