-- DuckLake only: every write transaction updates this one row first, so that of two concurrent
-- ones the later commit conflicts and is rerun on the new snapshot (warehouse.db.write_transaction).
UPDATE write_lock SET writes = writes + 1, last_write_at = now();
