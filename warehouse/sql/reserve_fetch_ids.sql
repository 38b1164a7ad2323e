-- Reserve ? fetch ids so articles can point at the fetch that produced them: the next ones after
-- the highest stored, inside the write transaction (one writer commits at a time; DuckLake has no
-- sequences).
SELECT coalesce((SELECT max(fetch_id) FROM fetches), 0) + range + 1 FROM range(?);
