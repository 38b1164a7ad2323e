-- Replace a batch's events, counts and extraction records with the freshly extracted ones
-- (registered as batch_extractions, batch_events, batch_counts); run inside one transaction.
DELETE FROM capture_events WHERE article_id IN (SELECT article_id FROM batch_extractions);
DELETE FROM reported_counts WHERE article_id IN (SELECT article_id FROM batch_extractions);
INSERT INTO capture_events BY NAME SELECT * FROM batch_events;
INSERT INTO reported_counts BY NAME SELECT * FROM batch_counts;
INSERT OR REPLACE INTO event_extractions BY NAME SELECT * FROM batch_extractions;
