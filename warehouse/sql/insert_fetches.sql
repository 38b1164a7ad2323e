INSERT INTO fetches
    (fetch_id, run_id, source_name, url, final_url, status, outcome, error, bytes, elapsed_ms,
     attempts, content_type, etag, last_modified, content_hash, fetched_at)
SELECT fetch_id, run_id, source_name, url, final_url, status, outcome, error, bytes, elapsed_ms,
       attempts, content_type, etag, last_modified, content_hash, fetched_at
FROM incoming_fetches;
