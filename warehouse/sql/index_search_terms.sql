-- Index a batch's new article versions (incoming_versions) for search: term counts and lengths.
CREATE TEMP TABLE batch_terms AS SELECT * FROM search_term_counts('incoming_versions');
INSERT INTO search_postings BY NAME SELECT * FROM batch_terms;
INSERT INTO search_docs BY NAME
SELECT v.article_id, v.version, coalesce(sum(t.tf), 0)::INTEGER AS terms
FROM incoming_versions v LEFT JOIN batch_terms t USING (article_id, version)
GROUP BY v.article_id, v.version;
DROP TABLE batch_terms;
