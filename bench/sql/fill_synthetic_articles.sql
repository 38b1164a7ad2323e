-- Synthetic stored articles for bench.micro: $1 articles, each with a random 128-slot MinHash
-- signature and 32 random LSH band buckets (ids 'syn…' never collide with real 16-hex ids).
INSERT INTO articles (id, url_key, url, text, text_hash, version, cluster_id, first_seen_at,
                      last_seen_at)
SELECT 'syn' || i, 'bench.example/syn/' || i, 'https://bench.example/syn/' || i, 'synthetic',
       md5(i::VARCHAR), 1, 'syn' || i, now(), now()
FROM range($1) t(i);
INSERT INTO minhash_signatures (article_id, signature)
SELECT 'syn' || i, list_transform(range(128), x -> (hash(i, x) % 4294967296)::UINTEGER)
FROM range($1) t(i);
INSERT INTO minhash_bands (band, bucket, article_id)
SELECT b::USMALLINT, hash(i, b, 'band'), 'syn' || i
FROM range($1) t(i), range(32) u(b);
