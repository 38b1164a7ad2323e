-- The committed signatures of the index entries a crash left pending (warehouse.band_index).
SELECT article_id, signature FROM minhash_signatures WHERE article_id = ANY($ids::VARCHAR[]);
