SELECT a.id, a.text_hash, a.version, a.cluster_id, a.title
FROM articles a JOIN (SELECT DISTINCT id FROM incoming_ids) i ON a.id = i.id;
