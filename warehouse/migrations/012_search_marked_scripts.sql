-- 012: words whose marks are letters, and characters typed two ways. strip_accents dropped every
-- combining mark, and in Indic scripts and Thai the marks are vowels: सेबी (SEBI) was सब ("all"),
-- कुल ("total") कल ("yesterday"); in Japanese, the voicing marks: バス (bus) was ハス (lotus). Their
-- words keep their marks now; accents are stripped from the other words, as before. Thai, Lao,
-- Khmer and Burmese, which put no space between words, are indexed as pairs of characters, as
-- Chinese, Japanese and Korean are (008): a Thai word found nothing inside its run. Full-width
-- letters and digits (３０９, ＮＢＡ) are the ASCII ones, and the apostrophes ʼ and ʻ (Ukrainian
-- мʼясо, Hawaiʻi) are dropped as ' and ’ are. search_term lower-cases its word, as search_words
-- does, so `search_term('Captured')` is `captur` and `search_term('The')` nothing.
CREATE OR REPLACE MACRO search_words(body) AS flatten(list_transform(
    regexp_split_to_array(
        regexp_replace(
            translate(
                replace(replace(replace(
                    regexp_replace(lower(coalesce(body, '')), '[''’ʼʻ.ـ]', '', 'g'),
                    'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'),
                'يىك٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹øłđı０１２３４５６７８９ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ',
                'ییک01234567890123456789oldi0123456789abcdefghijklmnopqrstuvwxyz'),
            '([\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}ー]+)', ' \1 ', 'g'),
        '[^\pL\pN\pM]+'),
    word -> CASE
        WHEN length(word) > 2 AND regexp_full_match(word, '[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}ー]+')
        THEN list_transform(range(1, length(word)), i -> substr(word, i, 2))
        WHEN regexp_matches(word, '[\p{Devanagari}\p{Bengali}\p{Gurmukhi}\p{Gujarati}\p{Oriya}\p{Tamil}\p{Telugu}\p{Kannada}\p{Malayalam}\p{Sinhala}\p{Tibetan}\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}ー]') THEN [word]
        ELSE [strip_accents(word)]
    END));

CREATE OR REPLACE MACRO search_term(word) AS CASE
    WHEN length(word) > 1 AND lower(word) NOT IN (
        'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is',
        'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there',
        'these', 'they', 'this', 'to', 'was', 'will', 'with')
    THEN stem(lower(word), 'porter')
END;

-- Index again the current versions that hold such a character: any other text gives the same
-- terms as before.
CREATE TEMP TABLE marked_versions AS
SELECT id AS article_id, version, title, text
FROM articles
WHERE regexp_matches(
    concat_ws(' ', title, text),
    '[\p{Devanagari}\p{Bengali}\p{Gurmukhi}\p{Gujarati}\p{Oriya}\p{Tamil}\p{Telugu}\p{Kannada}\p{Malayalam}\p{Sinhala}\p{Tibetan}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}ʼʻ０-９ａ-ｚＡ-Ｚ]');
DELETE FROM search_postings p WHERE EXISTS (
    SELECT 1 FROM marked_versions v WHERE v.article_id = p.article_id AND v.version = p.version);
DELETE FROM search_docs d WHERE EXISTS (
    SELECT 1 FROM marked_versions v WHERE v.article_id = d.article_id AND v.version = d.version);
CREATE TEMP TABLE marked_terms AS SELECT * FROM search_term_counts('marked_versions');
INSERT INTO search_postings BY NAME SELECT * FROM marked_terms ORDER BY term, article_id;
INSERT INTO search_docs BY NAME
SELECT v.article_id, v.version, coalesce(sum(t.tf), 0)::INTEGER AS terms
FROM marked_versions v LEFT JOIN marked_terms t USING (article_id, version)
GROUP BY v.article_id, v.version;
DROP TABLE marked_terms;
DROP TABLE marked_versions;
