-- The committed signatures and stories of the index entries a crash left pending
-- (warehouse.band_index); an orphan signature files under itself.
SELECT s.article_id, s.signature, coalesce(a.cluster_id, s.article_id) AS cluster_id
FROM minhash_signatures s
LEFT JOIN articles a ON a.id = s.article_id
WHERE s.article_id = ANY($ids::VARCHAR[]);
