-- 013: an outlet's mobile and AMP hosts are its site. url_host dropped only "www.", so a story
-- on example.com and m.example.com counted as two sources of a capture, while deduplication
-- (url_key, tasks/dedupe.py) takes the two for one site. Leading www., amp., m. and mobile.
-- labels are dropped now, as url_key drops them, while a dot is left (amp.dev stays amp.dev);
-- so are a trailing dot (`example.com.`) and a user name (`user@example.com`), and an IPv6
-- address is kept whole (`[2001:db8::1]`; it was `[2001`). A file on disk has no host, whatever
-- its URI names (`file://localhost/…`).

-- A URL's host as written, lower case: no user name, port or trailing dot.
CREATE OR REPLACE MACRO raw_host(url) AS CASE
    WHEN lower(url) LIKE 'file:%' THEN NULL
    ELSE nullif(rtrim(lower(regexp_extract(
        url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]/]*\]|[^/:?#]+)', 1)), '.'), '')
END;

CREATE OR REPLACE MACRO url_host(url) AS CASE
    WHEN contains(regexp_replace(raw_host(url), '^((www|amp|m|mobile)\.)+', ''), '.')
    THEN regexp_replace(raw_host(url), '^((www|amp|m|mobile)\.)+', '')
    ELSE regexp_replace(raw_host(url), '^www\.', '')
END;

-- A page without a site name is shown by its host as url_host reads it (004's source_site read
-- it again, keeping m. and amp.: a mobile page named the site `m.example.com`).
CREATE OR REPLACE MACRO source_site(site_name, url, source_name) AS CASE
    WHEN site_name <> '' THEN site_name
    ELSE coalesce(url_host(url), nullif(source_name, ''), 'unknown')
END;
