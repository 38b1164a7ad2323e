-- The committed signatures and stories of the index entries a crash (or, on a lake, a commit that
-- lost to another writer's) left pending (warehouse.band_index); an orphan files under itself.
SELECT s.article_id, s.signature, coalesce(a.cluster_id, s.article_id) AS cluster_id
FROM minhash_signatures s
LEFT JOIN articles a ON a.id = s.article_id
WHERE s.article_id = ANY($ids::VARCHAR[]);
