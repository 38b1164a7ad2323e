-- 008: search words inside Chinese, Japanese and Korean text. These scripts put no space between
-- words, so 006 took a whole run for one word ("年來第", "次戰勝詹姆斯", "nba歷史第二差紀錄終結"): a
-- search for 詹姆斯, or for NBA in that headline, found nothing. A run of Han, Hiragana, Katakana
-- or Hangul (with the katakana long vowel mark ー) is now split from the letters and digits beside
-- it and indexed as its overlapping pairs of characters, as Lucene's CJK analyzer does: 詹姆斯 is
-- 詹姆 and 姆斯, and a search for it matches both pairs. A lone character stays one word, which
-- search_term leaves out as it does any one-character word.
CREATE OR REPLACE MACRO search_words(body) AS flatten(list_transform(
    regexp_split_to_array(
        regexp_replace(
            translate(
                regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.ـ]', '', 'g'),
                'يىك٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹', 'ییک01234567890123456789'),
            '([\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー]+)', ' \1 ', 'g'),
        '[^\pL\pN\pM]+'),
    word -> CASE
        WHEN length(word) > 2
         AND regexp_full_match(word, '[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー]+')
        THEN list_transform(range(1, length(word)), i -> substr(word, i, 2))
        ELSE [word]
    END));

-- Index again the current versions that hold such a character: any other text gives the same
-- terms as before.
CREATE TEMP TABLE cjk_versions AS
SELECT id AS article_id, version, title, text
FROM articles
WHERE regexp_matches(concat_ws(' ', title, text), '[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]');
DELETE FROM search_postings p WHERE EXISTS (
    SELECT 1 FROM cjk_versions v WHERE v.article_id = p.article_id AND v.version = p.version);
DELETE FROM search_docs d WHERE EXISTS (
    SELECT 1 FROM cjk_versions v WHERE v.article_id = d.article_id AND v.version = d.version);
CREATE TEMP TABLE cjk_terms AS SELECT * FROM search_term_counts('cjk_versions');
INSERT INTO search_postings BY NAME SELECT * FROM cjk_terms ORDER BY term, article_id;
INSERT INTO search_docs BY NAME
SELECT v.article_id, v.version, coalesce(sum(t.tf), 0)::INTEGER AS terms
FROM cjk_versions v LEFT JOIN cjk_terms t USING (article_id, version)
GROUP BY v.article_id, v.version;
DROP TABLE cjk_terms;
DROP TABLE cjk_versions;
