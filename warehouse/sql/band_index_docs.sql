-- The near-duplicate index's documents when it is rebuilt: every stored signature, numbered in
-- article id order as band_index_keys numbers them (an orphan signature files under itself).
SELECT row_number() OVER (ORDER BY s.article_id) AS doc,
       s.article_id,
       coalesce(a.cluster_id, s.article_id) AS cluster_id,
       s.signature
FROM minhash_signatures s
LEFT JOIN articles a ON a.id = s.article_id
ORDER BY doc;
