-- New or changed texts get their MinHash signature and LSH buckets (replacing any older ones).
UPDATE minhash_signatures SET signature = s.signature
FROM incoming_signatures s WHERE minhash_signatures.article_id = s.article_id;
INSERT INTO minhash_signatures (article_id, signature)
SELECT s.article_id, s.signature FROM incoming_signatures s
WHERE s.article_id NOT IN (SELECT article_id FROM minhash_signatures);
DELETE FROM minhash_bands WHERE article_id IN (SELECT article_id FROM incoming_signatures);
INSERT INTO minhash_bands (band, bucket, article_id)
SELECT band, bucket, article_id FROM incoming_buckets;
