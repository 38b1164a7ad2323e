UPDATE articles SET last_seen_at = ? WHERE id IN (SELECT id FROM touched_ids);
