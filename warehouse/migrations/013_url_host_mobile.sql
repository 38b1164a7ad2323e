-- 013: an outlet's mobile and AMP hosts are its site. url_host dropped only "www.", so a story
-- on example.com and m.example.com counted as two sources of a capture, while deduplication
-- (url_key, tasks/dedupe.py) takes the two for one site. Leading www., amp., m. and mobile.
-- labels are dropped now, as url_key drops them, while a dot is left (amp.dev stays amp.dev).
CREATE OR REPLACE MACRO url_host(url) AS CASE
    WHEN contains(
        regexp_replace(
            lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)),
            '^((www|amp|m|mobile)\.)+', ''),
        '.')
    THEN regexp_replace(
        lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)),
        '^((www|amp|m|mobile)\.)+', '')
    ELSE nullif(
        lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1)), '')
END;

-- A page without a site name is shown by its host as url_host reads it (004's source_site read
-- it again, keeping m. and amp.: a mobile page named the site `m.example.com`).
CREATE OR REPLACE MACRO source_site(site_name, url, source_name) AS CASE
    WHEN site_name <> '' THEN site_name
    ELSE coalesce(url_host(url), nullif(source_name, ''), 'unknown')
END;
