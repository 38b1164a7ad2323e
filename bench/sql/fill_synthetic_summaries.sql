-- Synthetic input for the summaries micro-benchmark: $articles articles over 40 days (Jul 20 - Aug 28
-- 2021) from 200 sites, 1 in 4 a copy in a 2-article story, some with a UTC offset; then $events
-- capture events (34 provincial capitals, 5 statuses, 1 in 50 about Kabul as the national
-- capital) and $events / 10 reported running counts on articles' days.
INSERT INTO articles (id, url_key, url, site_name, published_at, published_offset, text,
                      text_hash, version, cluster_id, first_seen_at, last_seen_at)
SELECT 'sum' || i, 'bench.example/sum/' || i, 'https://site' || (i % 200) || '.example/a/' || i,
       CASE WHEN i % 3 = 0 THEN '' ELSE 'Site ' || (i % 200) END,
       TIMESTAMPTZ '2021-07-20 00:00:00+00' + to_seconds(hash(i) % (40 * 86400)),
       CASE WHEN i % 5 = 0 THEN '+04:30' END,
       'synthetic', md5(i::VARCHAR), 1, 'sum' || (i - i % 4 + CASE WHEN i % 4 = 3 THEN 0 ELSE i % 4 END),
       now(), now()
FROM range($articles) t(i);
INSERT INTO capture_events
SELECT 'sum' || (hash(e) % $articles), md5(e::VARCHAR), (e % 30)::INTEGER,
       CASE WHEN e % 50 = 0 THEN 'Kabul' ELSE 'Capital' || (e % 34) END,
       CASE WHEN e % 50 = 0 THEN 'Kabul' ELSE 'Province' || (e % 34) END,
       CASE WHEN e % 50 = 0 THEN 'national' ELSE 'provincial' END,
       ['confirmed', 'claimed', 'contested', 'denied', 'retaken'][1 + (hash(e, 's') % 5)::INTEGER],
       'taliban', 'bench', 'Capital' || (e % 34),
       DATE '2021-07-20' + (hash(e, 'd') % 40)::INTEGER, 'published',
       DATE '2021-07-20' + (hash(e, 'd') % 40)::INTEGER,
       'sum' || (hash(e) % $articles - hash(e) % $articles % 4), 'Site ' || (hash(e, 'site') % 200),
       'synthetic evidence', now()
FROM range($events) t(e);
INSERT INTO reported_counts
SELECT 'sum' || (hash(r) % $articles), md5(r::VARCHAR), 0, (1 + hash(r, 'c') % 34)::INTEGER,
       'the nth provincial capital', 'ordinal', DATE '2021-07-20' + (hash(r, 'd') % 40)::INTEGER,
       NULL, 'Site ' || (hash(r, 'site') % 200), 'synthetic evidence', now()
FROM range($events // 10) t(r);
