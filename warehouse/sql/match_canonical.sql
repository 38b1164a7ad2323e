-- Incoming pages that share a canonical URL with a stored article: the incoming page declares
-- the stored one's URL or canonical, or the stored page declared the incoming URL its canonical
-- (a copy that arrived before its original). One equi-join each, so each is a hash join.
WITH shared AS (
    SELECT i.idx, a.cluster_id, a.first_seen_at
    FROM incoming_ids i JOIN articles a ON a.url_key = i.canonical_key AND a.id <> i.id
    UNION ALL
    SELECT i.idx, a.cluster_id, a.first_seen_at
    FROM incoming_ids i JOIN articles a ON a.canonical_key = i.canonical_key AND a.id <> i.id
    UNION ALL
    SELECT i.idx, a.cluster_id, a.first_seen_at
    FROM incoming_ids i JOIN articles a ON a.canonical_key = i.url_key AND a.id <> i.id
)
SELECT idx, min_by(cluster_id, first_seen_at)
FROM shared
GROUP BY idx;
