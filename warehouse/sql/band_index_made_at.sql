-- When the warehouse was made (its first migration): the identity its band index is checked
-- against, since another warehouse copied over the file keeps the name and may hold as many
-- signatures.
SELECT min(applied_at)::VARCHAR AS made_at FROM schema_version;
