-- 006: search words in every script. 004's search_words split on anything but a-z and 0-9, so a
-- word in Cyrillic, Greek, Arabic, Persian, Devanagari or Chinese was no word: an article in Dari
-- was not found by its own words, and a search in them found nothing. Words now split on anything
-- but the letters, digits and combining marks of any script (\pL, \pN, \pM). Arabic and Persian
-- spellings of a letter are one (ي ى and ی, ك and ک: "كابل" is "کابل"), Arabic-Indic and Persian
-- digits are 0-9 ("۷۲" is "72"), and the tatweel that stretches a word is dropped.
CREATE OR REPLACE MACRO search_words(body) AS regexp_split_to_array(
    translate(
        regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.ـ]', '', 'g'),
        'يىك٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹', 'ییک01234567890123456789'),
    '[^\pL\pN\pM]+');

-- Index again the current versions whose text has a letter or digit outside ASCII once accents
-- are stripped: any other text gives the same terms as before.
CREATE TEMP TABLE other_script_versions AS
SELECT id AS article_id, version, title, text
FROM articles
WHERE regexp_matches(
    lower(strip_accents(concat_ws(' ', title, text))), '[^\PL\x00-\x7f]|[^\PN\x00-\x7f]');
DELETE FROM search_postings p WHERE EXISTS (
    SELECT 1 FROM other_script_versions v
    WHERE v.article_id = p.article_id AND v.version = p.version);
DELETE FROM search_docs d WHERE EXISTS (
    SELECT 1 FROM other_script_versions v
    WHERE v.article_id = d.article_id AND v.version = d.version);
CREATE TEMP TABLE other_script_terms AS
SELECT * FROM search_term_counts('other_script_versions');
INSERT INTO search_postings BY NAME SELECT * FROM other_script_terms ORDER BY term, article_id;
INSERT INTO search_docs BY NAME
SELECT v.article_id, v.version, coalesce(sum(t.tf), 0)::INTEGER AS terms
FROM other_script_versions v LEFT JOIN other_script_terms t USING (article_id, version)
GROUP BY v.article_id, v.version;
DROP TABLE other_script_terms;
DROP TABLE other_script_versions;
