-- BM25 full-text index over titles and texts (DuckDB fts), rebuilt after a run that changed articles.
PRAGMA create_fts_index('articles', 'id', 'title', 'text', overwrite = 1);
