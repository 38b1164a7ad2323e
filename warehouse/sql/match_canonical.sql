-- Incoming pages that declare a canonical URL some stored article has (as its URL or its canonical).
SELECT i.idx, min_by(a.cluster_id, a.first_seen_at)
FROM incoming_ids i
JOIN articles a
  ON i.canonical_key IS NOT NULL
 AND (a.url_key = i.canonical_key OR a.canonical_key = i.canonical_key)
 AND a.id <> i.id
GROUP BY i.idx;
