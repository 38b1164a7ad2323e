-- The lake snapshot this transaction reads, the oldest one whose changes it can still read (older
-- ones may have been expired), and when the lake was made: warehouse.band_index catches up between
-- the first two, and rebuilds an index made for another lake under the same URL.
SELECT (SELECT id FROM ducklake_current_snapshot(current_database())) AS current,
       (SELECT min(snapshot_id) FROM ducklake_snapshots(current_database())) AS oldest,
       (SELECT min(applied_at)::VARCHAR FROM schema_version) AS made_at;
