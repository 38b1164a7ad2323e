-- A lake's signature changes since the near-duplicate index last read it ($since to $until,
-- snapshots included; warehouse.band_index): per article only its last change, whether it now
-- has a signature, and its story from the article rows written in the same commits (an article
-- whose story changes has its signature written again with it; an orphan signature files under
-- itself, as band_index_docs files it).
WITH changes AS (
    SELECT article_id,
           signature,
           change_type IN ('insert', 'update_postimage') AS present,
           row_number() OVER (
               PARTITION BY article_id
               ORDER BY snapshot_id DESC, change_type IN ('insert', 'update_postimage') DESC
           ) AS newest
    FROM table_changes('minhash_signatures', $since, $until)
),
stories AS (
    SELECT id, arg_max(cluster_id, snapshot_id) AS cluster_id
    FROM table_changes('articles', $since, $until)
    WHERE change_type IN ('insert', 'update_postimage')
    GROUP BY id
)
SELECT c.article_id, c.present, c.signature, coalesce(s.cluster_id, c.article_id) AS cluster_id
FROM changes c
LEFT JOIN stories s ON s.id = c.article_id
WHERE c.newest = 1;
