-- The old signature and LSH band rows of articles whose text changed, before replace_signatures
-- appends the new ones: this scans minhash_bands, so it runs only for batches with new versions.
DELETE FROM minhash_signatures
WHERE article_id IN (SELECT article_id FROM incoming_signatures WHERE replaces);
DELETE FROM minhash_bands
WHERE article_id IN (SELECT article_id FROM incoming_signatures WHERE replaces);
