-- 009: capitals changing hands back. cumulative_capitals counts each capital ever reported
-- captured, so a city reported retaken stayed in it with nothing to say so. Each day now also
-- names the capitals reported retaken that day (from the captors' hands) and those taken again
-- after a retake, and counts the capitals held at its end: reported captured, and not retaken
-- since. Rows written before stay NULL until the next summarize over their days.
ALTER TABLE daily_captures ADD COLUMN IF NOT EXISTS retaken_capital_names VARCHAR[];
ALTER TABLE daily_captures ADD COLUMN IF NOT EXISTS recaptured_capital_names VARCHAR[];
ALTER TABLE daily_captures ADD COLUMN IF NOT EXISTS held_capitals INTEGER;
