-- Replace a batch's events, counts and extraction records with the freshly extracted ones
-- (registered as batch_extractions, batch_events, batch_counts); run inside one transaction.
-- (Delete then insert rather than INSERT OR REPLACE: DuckLake tables have no keys.)
DELETE FROM capture_events WHERE article_id IN (SELECT article_id FROM batch_extractions);
DELETE FROM reported_counts WHERE article_id IN (SELECT article_id FROM batch_extractions);
DELETE FROM event_extractions WHERE article_id IN (SELECT article_id FROM batch_extractions);
INSERT INTO capture_events BY NAME SELECT * FROM batch_events;
INSERT INTO reported_counts BY NAME SELECT * FROM batch_counts;
INSERT INTO event_extractions BY NAME SELECT * FROM batch_extractions;
