-- 010: letters that lose no accent but are written two ways. strip_accents leaves ß, æ, œ, ø, ł,
-- đ and ı as they are, so "Strasse" (as Swiss papers write it) did not find "Straße", nor "Lodz"
-- "Łódź" (its ó and ź stripped, its Ł not). They are folded as German, Danish, French, Polish,
-- Croatian and Turkish readers type them without the key: ß ss, æ ae, œ oe, ø o, ł l, đ d, ı i.
CREATE OR REPLACE MACRO search_words(body) AS flatten(list_transform(
    regexp_split_to_array(
        regexp_replace(
            translate(
                replace(replace(replace(
                    regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.ـ]', '', 'g'),
                    'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'),
                'يىك٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹øłđı', 'ییک01234567890123456789oldi'),
            '([\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー]+)', ' \1 ', 'g'),
        '[^\pL\pN\pM]+'),
    word -> CASE
        WHEN length(word) > 2
         AND regexp_full_match(word, '[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー]+')
        THEN list_transform(range(1, length(word)), i -> substr(word, i, 2))
        ELSE [word]
    END));

-- Index again the current versions that hold such a letter: any other text gives the same terms.
CREATE TEMP TABLE folded_versions AS
SELECT id AS article_id, version, title, text
FROM articles
WHERE regexp_matches(lower(concat_ws(' ', title, text)), '[ßæœøłđı]');
DELETE FROM search_postings p WHERE EXISTS (
    SELECT 1 FROM folded_versions v WHERE v.article_id = p.article_id AND v.version = p.version);
DELETE FROM search_docs d WHERE EXISTS (
    SELECT 1 FROM folded_versions v WHERE v.article_id = d.article_id AND v.version = d.version);
CREATE TEMP TABLE folded_terms AS SELECT * FROM search_term_counts('folded_versions');
INSERT INTO search_postings BY NAME SELECT * FROM folded_terms ORDER BY term, article_id;
INSERT INTO search_docs BY NAME
SELECT v.article_id, v.version, coalesce(sum(t.tf), 0)::INTEGER AS terms
FROM folded_versions v LEFT JOIN folded_terms t USING (article_id, version)
GROUP BY v.article_id, v.version;
DROP TABLE folded_terms;
DROP TABLE folded_versions;
