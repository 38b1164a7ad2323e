-- Incoming texts already stored under another URL: the earliest such article's story.
SELECT i.idx, min_by(a.cluster_id, a.first_seen_at)
FROM incoming_ids i
JOIN articles a ON a.text_hash = i.text_hash AND a.id <> i.id
GROUP BY i.idx;
