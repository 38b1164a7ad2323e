-- The stored texts of articles a batch brings a new text of ($ids), to tell whether the new one
-- still tells their story.
SELECT id, text FROM articles WHERE id = ANY($ids::VARCHAR[]);
