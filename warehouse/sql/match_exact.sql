-- Incoming texts already stored under another URL: the earliest such article's story. Not an
-- article whose text the batch replaces with another story's ($1): it no longer holds the text.
SELECT i.idx, min_by(a.cluster_id, a.first_seen_at)
FROM incoming_ids i
JOIN articles a ON a.text_hash = i.text_hash AND a.id <> i.id
WHERE NOT list_contains($1::VARCHAR[], a.id)
GROUP BY i.idx;
