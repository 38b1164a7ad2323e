-- New or changed texts get their MinHash signature and LSH band rows: plain appends, no scan of
-- the stored rows (delete_replaced_signatures removed a changed text's old rows first).
INSERT INTO minhash_signatures (article_id, signature)
SELECT article_id, signature FROM incoming_signatures;
INSERT INTO minhash_bands (band, bucket, article_id)
SELECT band, bucket, article_id FROM incoming_buckets;
