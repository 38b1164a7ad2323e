-- Every source name the warehouse has fetches of (a reclean selects pages by it).
SELECT DISTINCT source_name FROM fetches WHERE source_name IS NOT NULL ORDER BY source_name;
