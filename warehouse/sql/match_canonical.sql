-- Incoming pages that share a canonical URL with a stored article: the incoming page declares
-- the stored one's URL or canonical, or the stored page declared the incoming URL its canonical
-- (a copy that arrived before its original). One equi-join each, so each is a hash join. Each
-- with the stored article's text, so that a match counts only where one text holds the other.
WITH shared AS (
    SELECT i.idx, a.id, a.cluster_id, a.first_seen_at, a.text
    FROM incoming_ids i JOIN articles a ON a.url_key = i.canonical_key AND a.id <> i.id
    UNION
    SELECT i.idx, a.id, a.cluster_id, a.first_seen_at, a.text
    FROM incoming_ids i JOIN articles a ON a.canonical_key = i.canonical_key AND a.id <> i.id
    UNION
    SELECT i.idx, a.id, a.cluster_id, a.first_seen_at, a.text
    FROM incoming_ids i JOIN articles a ON a.canonical_key = i.url_key AND a.id <> i.id
)
SELECT shared.idx, shared.id, shared.cluster_id, shared.text
FROM shared
ORDER BY shared.idx, shared.first_seen_at, shared.id;
