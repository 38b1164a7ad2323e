SELECT
    (SELECT count(*) FROM articles) AS articles,
    (SELECT count(DISTINCT cluster_id) FROM articles) AS stories,
    (SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL) AS duplicates,
    (SELECT count(*) FROM rejected) AS rejected,
    (SELECT count(*) FROM feed_entries) AS feed_entries,
    (SELECT count(*) FROM fetches) AS fetches;
