-- The daily captures in [$start, $end], each day's new capitals, and those taken again after a
-- retake, with their sources that day.
SELECT
    c.day,
    c.new_capitals,
    c.new_capital_names,
    coalesce(
        list({'capital': s.capital, 'status': s.status, 'sources': s.sources} ORDER BY s.capital)
            FILTER (WHERE s.is_new AND s.capital_kind = 'provincial'),
        []) AS new_capital_sources,
    c.cumulative_capitals,
    c.claimed_only,
    c.retaken_capital_names,
    c.recaptured_capital_names,
    coalesce(
        list({'capital': s.capital, 'status': s.status, 'sources': s.sources} ORDER BY s.capital)
            FILTER (WHERE list_contains(c.recaptured_capital_names, s.capital)),
        []) AS recaptured_capital_sources,
    c.held_capitals,
    c.max_reported_count,
    c.national_capital,
    c.national_capital_status,
    c.articles,
    c.stories
FROM daily_captures AS c
LEFT JOIN daily_capture_sources AS s ON s.day = c.day
WHERE c.day BETWEEN coalesce($start, DATE '0001-01-01') AND coalesce($end, DATE '9999-12-31')
GROUP BY ALL
ORDER BY c.day
