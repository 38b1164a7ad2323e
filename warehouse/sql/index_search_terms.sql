-- Index a batch's new article versions (incoming_versions) for search: term counts and lengths.
CREATE TEMP TABLE batch_terms AS SELECT * FROM search_term_counts('incoming_versions');
-- In term order: each row group then holds a narrow range of terms, and a search skips the row
-- groups whose min/max cannot hold its terms (0.44 -> 0.16 s on 10 000 articles; no slower to write).
INSERT INTO search_postings BY NAME SELECT * FROM batch_terms ORDER BY term, article_id;
INSERT INTO search_docs BY NAME
SELECT v.article_id, v.version, coalesce(sum(t.tf), 0)::INTEGER AS terms
FROM incoming_versions v LEFT JOIN batch_terms t USING (article_id, version)
GROUP BY v.article_id, v.version;
DROP TABLE batch_terms;
