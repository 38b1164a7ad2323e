-- Record each source a run used; the last run time moves, the first sighting stays.
INSERT INTO sources (name, kind, location, options, first_seen_at, last_run_at)
SELECT name, kind, location, options::JSON, seen_at, seen_at FROM incoming_sources
ON CONFLICT (name) DO UPDATE SET
    kind = excluded.kind, location = excluded.location, options = excluded.options,
    last_run_at = excluded.last_run_at;
