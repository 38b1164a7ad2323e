-- Each URL's latest answer (200 or 304): when it was asked (a sitemap page whose lastmod is no
-- later is not requested again; a row of a page not requested, 0 attempts, is no answer: the
-- sitemap then may have been a cached one, older than the page) and the URL it led to, and the
-- validators of the latest fetch that had them, for a conditional GET (a 304 carries the current
-- ETag and Last-Modified, RFC 9110 15.4.5). None for a URL whose latest fetch took its extraction
-- process down (rejected clean_crash): the crash may have been the machine's (the OOM killer),
-- so the page is fetched and cleaned in full again.
--
-- A URL is known by its own fetches and by those of the URL its article (or rejected page) was
-- last fetched as, the same url_key: a feed's link with another tracking parameter
-- (?utm_campaign=day2), http for https, was fetched in full again, unconditionally.
WITH stored AS (
    SELECT url_key, fetch_id FROM articles
    UNION ALL
    SELECT url_key, fetch_id FROM rejected
), asked AS (
    SELECT url AS wanted, url AS fetched FROM wanted_urls
    UNION
    SELECT w.url, f.url
    FROM wanted_urls w
    JOIN stored s ON s.url_key = w.url_key
    JOIN fetches f ON f.fetch_id = s.fetch_id
)
SELECT a.wanted, max(f.fetched_at) FILTER (WHERE f.attempts > 0), arg_max(f.final_url, f.fetch_id),
       arg_max(f.etag, f.fetch_id), arg_max(f.last_modified, f.fetch_id)
FROM fetches f
JOIN asked a ON a.fetched = f.url
WHERE f.outcome IN ('ok', 'not_modified')
GROUP BY a.wanted
HAVING max(f.fetch_id) NOT IN (
    SELECT fetch_id FROM rejected WHERE reason = 'clean_crash' AND fetch_id IS NOT NULL
);
