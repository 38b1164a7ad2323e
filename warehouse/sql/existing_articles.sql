-- The stored articles among a batch's ids, and whether this run ($1) reached them before this
-- batch (fetch ids from $2 on): it stored their text, or an earlier batch's page was theirs (two
-- links redirecting to one page). A page reaching one again is repeated, not unchanged.
SELECT a.id, a.text_hash, a.version, a.cluster_id, a.title,
       coalesce(f.run_id = $1, false) OR EXISTS (
           SELECT 1 FROM fetches g
           WHERE g.run_id = $1 AND g.fetch_id < $2 AND g.outcome = 'ok'
             AND coalesce(g.final_url, g.url) = a.url)
FROM articles a
JOIN (SELECT DISTINCT id FROM incoming_ids) i ON a.id = i.id
LEFT JOIN fetches f ON f.fetch_id = a.fetch_id;
