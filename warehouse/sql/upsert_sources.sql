-- Record each source a run used; the last run time moves, the first sighting stays.
-- (UPDATE then INSERT of the rest: no ON CONFLICT, which DuckLake tables, having no keys, lack.)
UPDATE sources SET
    kind = s.kind, location = s.location, options = s.options::JSON, last_run_at = s.seen_at
FROM incoming_sources s
WHERE sources.name = s.name;
INSERT INTO sources (name, kind, location, options, first_seen_at, last_run_at)
SELECT name, kind, location, options::JSON, seen_at, seen_at FROM incoming_sources s
WHERE NOT EXISTS (SELECT 1 FROM sources o WHERE o.name = s.name);
