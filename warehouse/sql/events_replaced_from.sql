-- The earliest day a batch's replaced events and counts were on: the daily tables from that day
-- on change when they go.
SELECT min(day) FROM (
    SELECT min(event_date) AS day FROM capture_events
    WHERE article_id IN (SELECT article_id FROM batch_extractions)
    UNION ALL
    SELECT min(published_on) FROM reported_counts
    WHERE article_id IN (SELECT article_id FROM batch_extractions)
);
