-- One row per day in [$start, $end] (within the data's span): provincial capitals first reported
-- captured (confirmed or claimed) that day, the running total, how many rest on claims alone,
-- those reported retaken that day, those taken again, how many were held at its end, the
-- highest running count articles reported, the national capital apart, and article volume
-- (from article_volume, computed first in the same transaction).
INSERT INTO daily_captures BY NAME
WITH reports AS (
    SELECT capital, status, event_date AS day
    FROM capture_events
    WHERE capital_kind = 'provincial' AND status IN ('confirmed', 'claimed')
),
firsts AS (
    SELECT
        capital,
        min(day) AS first_day,
        min(day) FILTER (WHERE status = 'confirmed') AS confirmed_day
    FROM reports
    GROUP BY capital
),
-- Who held each capital at the end of each day it was reported on: the captors if its last report
-- that day (by publication day) was a capture, not if it was a retake. On a tie the retake wins:
-- it says more (a city retaken had been taken).
standing AS (
    SELECT capital, event_date AS day, status = 'retaken' AS lost
    FROM capture_events
    WHERE capital_kind = 'provincial' AND status IN ('confirmed', 'claimed', 'retaken')
    QUALIFY row_number() OVER (
        PARTITION BY capital, event_date ORDER BY published_on DESC, status = 'retaken' DESC) = 1
),
-- The days a capital changed hands, and until when each holding lasted (a retake before any
-- capture is no change: the capital was never counted).
changes AS (
    SELECT capital, day, lost
    FROM (
        SELECT *, lag(lost) OVER (PARTITION BY capital ORDER BY day) AS before FROM standing
    )
    WHERE lost IS DISTINCT FROM coalesce(before, true)
),
holdings AS (
    SELECT capital, day AS from_day, lead(day) OVER (PARTITION BY capital ORDER BY day) AS to_day, lost
    FROM changes
),
volume AS (
    SELECT day, articles, stories FROM article_volume WHERE all_sites = 1
),
counts AS (
    SELECT published_on AS day, max(count) AS max_reported_count
    FROM reported_counts
    GROUP BY published_on
),
national AS (
    SELECT
        event_date AS day,
        any_value(capital) AS capital,
        arg_min(status, CASE status
            WHEN 'confirmed' THEN 1 WHEN 'claimed' THEN 2 WHEN 'denied' THEN 3
            WHEN 'contested' THEN 4 ELSE 5 END) AS status
    FROM capture_events
    WHERE capital_kind = 'national'
    GROUP BY event_date
),
span AS (
    SELECT
        greatest(coalesce($start, min(day)), min(day)) AS first_day,
        least(coalesce($end, max(day)), max(day)) AS last_day
    FROM (
        SELECT day FROM volume
        UNION ALL SELECT day FROM reports
        UNION ALL SELECT day FROM national
    )
),
days AS (
    SELECT CAST(unnest(generate_series(first_day, last_day, INTERVAL 1 DAY)) AS DATE) AS day
    FROM span
    WHERE first_day <= last_day
),
captured AS (
    SELECT
        d.day,
        count(f.capital) FILTER (WHERE f.first_day = d.day) AS new_capitals,
        coalesce(
            list(f.capital ORDER BY f.capital) FILTER (WHERE f.first_day = d.day),
            []::VARCHAR[]) AS new_capital_names,
        count(f.capital) AS cumulative_capitals,
        count(f.capital) FILTER (
            WHERE f.confirmed_day IS NULL OR f.confirmed_day > d.day) AS claimed_only
    FROM days AS d
    LEFT JOIN firsts AS f ON f.first_day <= d.day
    GROUP BY d.day
),
held AS (
    SELECT d.day, count(h.capital) AS held_capitals
    FROM days AS d
    JOIN holdings AS h ON h.from_day <= d.day AND (h.to_day IS NULL OR d.day < h.to_day)
    WHERE NOT h.lost
    GROUP BY d.day
),
-- Each day's changes of hands: retakes, and captures of a capital retaken before (its first
-- capture is its first change)
retaken AS (
    SELECT
        day,
        list(capital ORDER BY capital) FILTER (WHERE lost) AS retaken_capital_names,
        list(capital ORDER BY capital) FILTER (WHERE NOT lost AND turn > 1)
            AS recaptured_capital_names
    FROM (SELECT *, row_number() OVER (PARTITION BY capital ORDER BY day) AS turn FROM changes)
    GROUP BY day
)
SELECT
    c.day,
    c.new_capitals,
    c.new_capital_names,
    c.cumulative_capitals,
    c.claimed_only,
    coalesce(r.retaken_capital_names, []::VARCHAR[]) AS retaken_capital_names,
    coalesce(r.recaptured_capital_names, []::VARCHAR[]) AS recaptured_capital_names,
    coalesce(h.held_capitals, 0) AS held_capitals,
    n.max_reported_count,
    nat.capital AS national_capital,
    nat.status AS national_capital_status,
    coalesce(v.articles, 0) AS articles,
    coalesce(v.stories, 0) AS stories,
    now() AS computed_at
FROM captured AS c
LEFT JOIN counts AS n USING (day)
LEFT JOIN national AS nat USING (day)
LEFT JOIN volume AS v USING (day)
LEFT JOIN held AS h USING (day)
LEFT JOIN retaken AS r USING (day)
ORDER BY c.day
