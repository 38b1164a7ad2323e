-- LSH candidates: stored articles sharing at least one (band, bucket) with an incoming signature.
WITH pairs AS (
    SELECT DISTINCT b.idx, m.article_id
    FROM incoming_bands b
    JOIN minhash_bands m ON m.band = b.band AND m.bucket = b.bucket
    WHERE m.article_id <> b.id
)
SELECT p.idx, p.article_id, a.cluster_id, s.signature
FROM pairs p
JOIN minhash_signatures s ON s.article_id = p.article_id
JOIN articles a ON a.id = p.article_id;
