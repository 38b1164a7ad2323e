-- 005: one macro for an article's web host, which the summaries count a site by; each of their
-- queries spelled the regular expression out before.

-- An article's web host, in lower case and without "www.": its pages with and without a site
-- name are one site. NULL when the URL has no host (a file on disk).
CREATE OR REPLACE MACRO url_host(url) AS
    nullif(lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1)), '');
