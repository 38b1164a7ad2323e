-- The near-duplicate index's keys when it is rebuilt: one per (band, bucket) row, the band in the
-- bucket's top bits (warehouse.band_index.band_key), sorted so SQLite appends its B-tree in order.
WITH docs AS (
    SELECT row_number() OVER (ORDER BY article_id) AS doc, article_id FROM minhash_signatures
)
SELECT xor(m.bucket, m.band::UBIGINT << 58) AS key, d.doc
FROM minhash_bands m
JOIN docs d ON d.article_id = m.article_id
ORDER BY key;
