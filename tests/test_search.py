"""Every load keeps the search index current: BM25 over each article's current version."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import duckdb
import pytest

from tests.documents import cleaned_document
from tests.test_load import OTHER, REPORT, _doc, _load, _rows, _syndicated
from warehouse.db import MIGRATIONS_DIR, WarehouseError, load_extension, reader, writer
from warehouse.integrity import check_warehouse
from warehouse.queries import read_only_query, search_articles

QALA = "https://a.example/news/1"
KANDAHAR = "https://b.example/kandahar"
# The macros of 002 (27a931b) and 003 (b262769) as released, which warehouses of that time hold.
RELEASED_MACROS = r"""
CREATE MACRO local_day(published_at, utc_offset, seen_at) AS CAST(make_timestamp(
    epoch_us(coalesce(published_at, seen_at))
    + coalesce(
        CASE WHEN left(utc_offset, 1) = '-' THEN -1 ELSE 1 END
        * (TRY_CAST(substr(utc_offset, 2, 2) AS BIGINT) * 60
           + TRY_CAST(right(utc_offset, 2) AS BIGINT)),
        0) * 60000000
) AS DATE);
CREATE MACRO source_site(site_name, url, source_name) AS coalesce(
    nullif(trim(site_name), ''),
    nullif(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''),
    nullif(trim(source_name), ''),
    'unknown'
);
CREATE MACRO search_terms(body) AS list_transform(
    list_filter(
        regexp_split_to_array(
            regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.]', '', 'g'),
            '[^a-z0-9]+'),
        lambda t: length(t) > 1 AND NOT list_contains(
            ['a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into',
             'is', 'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then',
             'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with'], t)),
    lambda t: stem(t, 'porter'));
CREATE MACRO search_term_counts(versions) AS TABLE
SELECT article_id, version, term, count(*)::INTEGER AS tf
FROM (
    SELECT article_id, version, unnest(search_terms(concat_ws(' ', title, text))) AS term
    FROM query_table(versions)
)
GROUP BY ALL;
"""
MACROS = """
SELECT function_name, function_type, parameters, macro_definition FROM duckdb_functions()
WHERE database_name = current_database() AND function_type LIKE '%macro' ORDER BY ALL
"""


def _titles(db_path: str, query: str) -> list[str]:
    return [hit["title"] for hit in search_articles(db_path, query)]


def test_search_terms_are_lower_case_stems_without_stop_words(db_path):
    _load(db_path, [_doc(QALA, REPORT)])
    text = "The Taliban’s fighters CAPTURED the U.S. café in 2021, a 6"
    _, rows = read_only_query(db_path, f"SELECT term FROM search_terms('{text}')")
    assert [term for (term,) in rows] == ["taliban", "fighter", "captur", "u", "cafe", "2021"]


def test_a_loaded_article_is_found_by_the_words_of_its_title_and_text(db_path):
    _load(db_path, [_doc(QALA, REPORT), _doc(KANDAHAR, OTHER, title="Rockets hit airport")])
    assert _titles(db_path, "rocket fire on the airports") == ["Rockets hit airport"]
    assert _titles(db_path, "Qala-i-Naw") == ["Qala-i-Naw falls"]  # in its title and text
    assert _titles(db_path, "capturing police") == ["Qala-i-Naw falls"]  # "captured police"
    assert _titles(db_path, "the of and") == []  # stop words only
    assert _titles(db_path, "Mazar-i-Sharif") == []
    assert check_warehouse(db_path) == []


def test_scores_are_bm25_over_the_index(db_path):
    _load(db_path, [_doc(QALA, REPORT), _doc(KANDAHAR, OTHER, title="Rockets hit airport")])
    [(tf, length)] = _rows(
        db_path,
        "SELECT p.tf, d.terms FROM search_postings p JOIN search_docs d USING (article_id, version)"
        " WHERE p.term = 'airport'",
    )
    [(average,)] = _rows(db_path, "SELECT avg(terms) FROM search_docs")
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))  # two documents, one holds the term
    expected = idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
    [hit] = search_articles(db_path, "airport")
    assert tf == 3 and hit["score"] == pytest.approx(expected, abs=1e-3)


def test_a_new_version_is_found_by_its_new_text_only(db_path):
    _load(db_path, [_doc(QALA, REPORT)])
    renamed = REPORT.replace("Qala-i-Naw", "Ghormach")
    counts = _load(db_path, [_doc(QALA, renamed, title="Ghormach falls")])
    assert counts.updated == 1
    assert _titles(db_path, "Ghormach") == ["Ghormach falls"]
    assert _titles(db_path, "Qala") == []  # the first version stays indexed, but is not current
    assert _rows(db_path, "SELECT version FROM search_docs ORDER BY 1") == [(1,), (2,)]
    assert check_warehouse(db_path) == []


def test_reloading_the_same_batch_indexes_nothing_twice(db_path):
    docs = [_doc(QALA, REPORT), _doc(KANDAHAR, OTHER)]
    _load(db_path, docs)
    first = _rows(db_path, "SELECT count(*), sum(tf) FROM search_postings")
    _load(db_path, docs)
    assert _rows(db_path, "SELECT count(*), sum(tf) FROM search_postings") == first
    assert _rows(db_path, "SELECT count(*) FROM search_docs") == [(2,)]


def test_a_load_stores_its_postings_in_term_order(db_path):
    """Sorted postings give each row group a narrow term range, so a search reads the few row
    groups whose min/max holds its terms instead of every posting in the warehouse."""
    _load(db_path, [_doc(QALA, REPORT), _doc(KANDAHAR, OTHER, title="Rockets hit airport")])
    stored = [term for (term,) in _rows(db_path, "SELECT term FROM search_postings ORDER BY rowid")]
    assert len(stored) > 20 and stored == sorted(stored)


def test_upgrading_a_warehouse_indexes_its_articles_and_drops_the_rebuilt_fts_index(db_path):
    _load(db_path, [_doc(QALA, REPORT), _doc(KANDAHAR, OTHER, title="Rockets hit airport")])
    with duckdb.connect(db_path) as conn:  # back to schema 2, with the index it used to rebuild
        load_extension(conn, "fts")
        conn.execute(
            "DROP TABLE search_postings; DROP TABLE search_docs; DROP MACRO TABLE "
            "search_term_counts; DROP MACRO TABLE search_terms; DROP MACRO search_term; "
            "DROP MACRO search_words; DELETE FROM schema_version WHERE version >= 3; "
            "PRAGMA create_fts_index('articles', 'id', 'title', 'text')"
        )
    with pytest.raises(WarehouseError, match="predates its search index; run `newsflow ingest`"):
        search_articles(db_path, "airport")

    with writer(db_path):
        pass  # a writer migrates

    fts = "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'fts_main_articles'"
    assert _rows(db_path, fts) == [(0,)]
    assert _rows(db_path, "SELECT count(*) FROM search_docs") == [(2,)]
    assert _titles(db_path, "airport") == ["Rockets hit airport"]
    assert check_warehouse(db_path) == []


def test_a_warehouse_of_the_released_003_gets_the_current_macros_and_searches(db_path, tmp_path):
    """003 and 002 were once edited after release; a warehouse that ran them as released is
    brought to the current macros by 004, not left with a scalar search_terms forever."""
    _load(db_path, [_doc(QALA, REPORT), _doc(KANDAHAR, OTHER, title="Rockets hit airport")])
    with duckdb.connect(db_path) as conn:  # back to 001-003 as released (b262769)
        load_extension(conn, "fts")
        conn.execute(
            "DROP MACRO local_day; DROP MACRO source_site; DROP MACRO TABLE search_term_counts; "
            "DROP MACRO TABLE search_terms; DROP MACRO search_term; DROP MACRO search_words; "
            "DELETE FROM schema_version WHERE version > 3;" + RELEASED_MACROS
        )

    with writer(db_path):
        pass  # a writer migrates

    assert _titles(db_path, "airport") == ["Rockets hit airport"]
    _, rows = read_only_query(db_path, "SELECT term FROM search_terms('Rockets hit')")
    assert rows == [("rocket",), ("hit",)]
    fresh = str(tmp_path / "fresh.duckdb")
    _load(fresh, [_doc(QALA, REPORT)])
    with reader(db_path) as upgraded, reader(fresh) as new:
        assert upgraded.execute(MACROS).fetchall() == new.execute(MACROS).fetchall()
    assert check_warehouse(db_path) == []


DARI = (
    "طالبان امروز شهر کابل را تصرف کردند و رئیس جمهور کشور را ترک کرد. "
    "به گفته مقامات محلی ۷۲ نفر در درگیری‌های اطراف میدان هوایی کشته شدند. "
    "ساکنان شهر از ترس به خانه‌های خود پناه بردند و بازارها بسته ماندند. "
) * 4
RUSSIAN = (
    "Талибы вошли в Кабул, президент покинул страну. Жители укрылись в домах, рынки закрыты, "
    "а у аэропорта собрались тысячи людей, надеясь улететь из столицы. "
) * 4
# 004's search_words, which split on anything but a-z and 0-9
LATIN_SEARCH_WORDS = r"""
CREATE OR REPLACE MACRO search_words(body) AS regexp_split_to_array(
    regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.]', '', 'g'), '[^a-z0-9]+');
"""


LATIN_TERMS = (  # the terms of the English article, which no upgrade of other scripts changes
    "SELECT term, tf FROM search_postings JOIN articles a ON a.id = article_id "
    f"WHERE a.url = '{QALA}' ORDER BY ALL"
)


def _index_as_schema(db_path: str, schema: int, search_words: str) -> None:
    """Take a warehouse back to `schema`, every article indexed again as its `search_words`
    macro indexed: the next writer applies the later migrations."""
    with writer(db_path) as conn:
        load_extension(conn, "fts")
        conn.execute(
            search_words + "DELETE FROM search_postings; DELETE FROM search_docs; "
            "CREATE TEMP VIEW v AS SELECT id AS article_id, version, title, text FROM articles; "
            "INSERT INTO search_postings BY NAME SELECT * FROM search_term_counts('v'); "
            "INSERT INTO search_docs BY NAME SELECT article_id, version, sum(tf)::INTEGER AS "
            "terms FROM search_postings GROUP BY ALL; "
            f"DELETE FROM schema_version WHERE version > {schema}"
        )


def _load_in_three_scripts(db_path: str) -> None:
    _load(db_path, [
        _doc(QALA, REPORT),
        _doc("https://fa.example/kabul", DARI, title="طالبان کابل را تصرف کردند"),
        _doc("https://ru.example/kabul", RUSSIAN, title="Талибы вошли в Кабул"),
    ])  # fmt: skip


def test_words_of_any_script_are_searched(db_path):
    """Words in Persian or Cyrillic letters were no words (split on anything but a-z and 0-9):
    an article in Dari was not found by its own words. Arabic and Persian spellings of a letter
    are one (ك and ک, ي and ی), and Persian digits are 0-9."""
    _load_in_three_scripts(db_path)
    assert _titles(db_path, "کابل") == ["طالبان کابل را تصرف کردند"]
    assert _titles(db_path, "كابل") == ["طالبان کابل را تصرف کردند"]  # Arabic kaf
    assert _titles(db_path, "72 نفر") == ["طالبان کابل را تصرف کردند"]  # ۷۲ in the text
    assert _titles(db_path, "Кабул аэропорта") == ["Талибы вошли в Кабул"]
    assert _titles(db_path, "Qala-i-Naw") == ["Qala-i-Naw falls"]
    _, rows = read_only_query(db_path, "SELECT term FROM search_terms('Кабул, كابل ۷۲ — U.S.')")
    assert rows == [("кабул",), ("کابل",), ("72",), ("u",)]  # "us", Porter-stemmed
    assert check_warehouse(db_path) == []


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_upgrading_indexes_again_the_articles_whose_words_were_not_latin(
    db_path, tmp_path, backend
):
    """Migration 006 re-indexes the current versions with letters outside ASCII, and only them."""
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _load_in_three_scripts(db_path)
    _index_as_schema(db_path, 5, LATIN_SEARCH_WORDS)
    before = _rows(db_path, LATIN_TERMS)
    assert _titles(db_path, "کابل") == [] and _titles(db_path, "Кабул") == []

    with writer(db_path):
        pass  # a writer migrates

    assert _titles(db_path, "کابل") == ["طالبان کابل را تصرف کردند"]
    assert _titles(db_path, "Кабул") == ["Талибы вошли в Кабул"]
    assert _rows(db_path, LATIN_TERMS) == before
    assert _rows(db_path, "SELECT count(*) FROM search_docs") == [(3,)]
    assert check_warehouse(db_path) == []


CHINESE = (
    "塔利班武裝人員周日進入喀布爾，阿富汗總統加尼已經離開該國。據CNN報道，數以千計的居民湧向機場，"
    "希望搭乘最後的航班離開。"
)
JAPANESE = "タリバンは日曜日、首都カブールに入った。ガニ大統領は国外に脱出したと報じられている。"
KOREAN = "탈레반이 일요일 카불에 진입했다. 가니 대통령은 해외로 탈출한 것으로 알려졌다."
# 006's search_words as released: a run of Chinese, Japanese or Korean letters was one word.
ANY_SCRIPT_SEARCH_WORDS = r"""
CREATE OR REPLACE MACRO search_words(body) AS regexp_split_to_array(
    translate(
        regexp_replace(lower(strip_accents(coalesce(body, ''))), '[''’.ـ]', '', 'g'),
        'يىك٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹', 'ییک01234567890123456789'),
    '[^\pL\pN\pM]+');
"""


def _load_in_east_asian_scripts(db_path: str) -> None:
    _load(db_path, [
        _doc(QALA, REPORT),
        _doc("https://zh.example/kabul", CHINESE, title="塔利班進入喀布爾"),
        _doc("https://ja.example/kabul", JAPANESE, title="タリバン、カブールに入る"),
        _doc("https://ko.example/kabul", KOREAN, title="탈레반, 카불 진입"),
    ])  # fmt: skip


def test_chinese_japanese_and_korean_words_are_found_inside_a_run_of_text(db_path):
    """These scripts write no space between words: a whole run ("塔利班武裝人員周日進入喀布爾")
    was one word, so a search for 喀布爾 (Kabul), or for CNN in "據CNN報道", found nothing. Runs
    are indexed as pairs of characters, the words beside them apart."""
    _load_in_east_asian_scripts(db_path)
    assert _titles(db_path, "喀布爾") == ["塔利班進入喀布爾"]
    assert _titles(db_path, "加尼 機場") == ["塔利班進入喀布爾"]
    assert _titles(db_path, "CNN") == ["塔利班進入喀布爾"]
    assert _titles(db_path, "カブール") == ["タリバン、カブールに入る"]  # ー is in the word
    assert _titles(db_path, "大統領") == ["タリバン、カブールに入る"]
    assert _titles(db_path, "카불") == ["탈레반, 카불 진입"]  # in "카불에", Kabul with a particle
    assert _titles(db_path, "Qala-i-Naw") == ["Qala-i-Naw falls"]
    _, rows = read_only_query(db_path, "SELECT term FROM search_terms('據CNN報道 喀布爾 城')")
    assert rows == [("cnn",), ("報道",), ("喀布",), ("布爾",)]  # a lone 據 or 城 is left out
    assert check_warehouse(db_path) == []


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_upgrading_indexes_again_the_articles_in_chinese_japanese_or_korean(
    db_path, tmp_path, backend
):
    """Migration 008 re-indexes the current versions with such letters, and only them."""
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _load_in_east_asian_scripts(db_path)
    _index_as_schema(db_path, 7, ANY_SCRIPT_SEARCH_WORDS)
    before = _rows(db_path, LATIN_TERMS)
    assert _titles(db_path, "喀布爾") == [] and _titles(db_path, "カブール") == []

    with writer(db_path):
        pass  # a writer migrates

    assert _titles(db_path, "喀布爾") == ["塔利班進入喀布爾"]
    assert _titles(db_path, "카불") == ["탈레반, 카불 진입"]
    assert _rows(db_path, LATIN_TERMS) == before
    assert _rows(db_path, "SELECT count(*) FROM search_docs") == [(4,)]
    assert check_warehouse(db_path) == []


# 008's search_words as released: ß, æ, œ, ø, ł, đ and ı were letters of their own.
CJK_SEARCH_WORDS = r"""
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
"""
GERMAN = "Die Taliban sperrten die Straße zum Flughafen. Die Botschaft in Kabul schloss."
POLISH = "Łódź przyjmie uchodźców z Afganistanu, zapowiedział prezydent miasta."
SWISS = "Die Strasse zum Flughafen war gesperrt, berichtete die Zeitung aus Zürich."


def _load_with_letters_two_ways(db_path: str) -> None:
    _load(db_path, [
        _doc(QALA, REPORT),
        _doc("https://de.example/kabul", GERMAN, title="Taliban sperren Straße"),
        _doc("https://pl.example/lodz", POLISH, title="Łódź przyjmie uchodźców"),
        _doc("https://ch.example/kabul", SWISS, title="Strasse gesperrt"),
    ])  # fmt: skip


def test_letters_written_two_ways_are_one_in_search(db_path):
    """ß, æ, œ, ø, ł, đ and ı keep no accent to strip: "Strasse" (as Swiss papers write it) did
    not find "Straße", nor "Lodz" "Łódź"."""
    _load_with_letters_two_ways(db_path)
    both = ["Strasse gesperrt", "Taliban sperren Straße"]
    assert sorted(_titles(db_path, "Strasse")) == sorted(_titles(db_path, "STRASSE")) == both
    assert sorted(_titles(db_path, "Straße")) == both
    assert _titles(db_path, "Lodz") == _titles(db_path, "Łódź") == ["Łódź przyjmie uchodźców"]
    _, rows = read_only_query(db_path, "SELECT term FROM search_terms('Straße Łódź Ærø œuvre')")
    assert rows == [("strass",), ("lodz",), ("aero",), ("oeuvr",)]  # Porter-stemmed
    assert check_warehouse(db_path) == []


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_upgrading_indexes_again_the_articles_with_letters_written_two_ways(
    db_path, tmp_path, backend
):
    """Migration 010 re-indexes the current versions with such letters, and only them."""
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _load_with_letters_two_ways(db_path)
    _index_as_schema(db_path, 9, CJK_SEARCH_WORDS)
    before = _rows(db_path, LATIN_TERMS)
    assert _titles(db_path, "Strasse") == ["Strasse gesperrt"] and _titles(db_path, "Lodz") == []

    with writer(db_path):
        pass  # a writer migrates

    assert sorted(_titles(db_path, "Strasse")) == ["Strasse gesperrt", "Taliban sperren Straße"]
    assert _titles(db_path, "Lodz") == ["Łódź przyjmie uchodźców"]
    assert _rows(db_path, LATIN_TERMS) == before
    assert _rows(db_path, "SELECT count(*) FROM search_docs") == [(4,)]
    assert check_warehouse(db_path) == []


def test_since_shows_a_story_by_a_copy_published_since_when_its_first_article_is_older(db_path):
    """A story matched through a copy published after --since is shown by that copy, not by its
    older canonical article: every line shown was published since the cutoff."""
    first = _doc(QALA, REPORT)  # published 2021-08-13 06:30 UTC
    copy = cleaned_document(
        "https://c.example/wire/qala",
        _syndicated(REPORT),
        source_name="test",
        title="Qala-i-Naw falls (wire)",
        published_at=datetime(2021, 8, 15, 9, tzinfo=UTC),
    )
    _load(db_path, [first])
    _load(db_path, [copy])
    [(kind, cluster)] = _rows(db_path, f"SELECT duplicate_kind, cluster_id FROM articles "
                                       f"WHERE url = '{copy.url}'")  # fmt: skip
    assert kind == "near"
    since = datetime(2021, 8, 14, tzinfo=UTC)
    [hit] = search_articles(db_path, "Qala-i-Naw", since=since)
    # copies: those published since, as for the line shown (it counted the older article too)
    assert (hit["url"], hit["copies"], hit["cluster_id"]) == (copy.url, 1, cluster)
    assert hit["published_at"] >= since
    [hit] = search_articles(db_path, "Qala-i-Naw")  # without --since, the canonical article
    assert (hit["url"], hit["copies"]) == (QALA, 2)
    [hit] = search_articles(db_path, "Qala-i-Naw", since=datetime(2021, 8, 1, tzinfo=UTC))
    assert (hit["url"], hit["copies"]) == (QALA, 2)
    assert search_articles(db_path, "Qala-i-Naw", since=datetime(2021, 8, 16, tzinfo=UTC)) == []


# The search_words of migration 010, which a warehouse of schema 11 indexed with.
FOLDED_SEARCH_WORDS = (
    (MIGRATIONS_DIR / "010_search_fold_letters.sql")
    .read_text(encoding="utf-8")
    .split("-- Index again")[0]
)
HINDI = "सेबी ने कहा कि कुल 32 मामले निपटाए गए।"
JAPANESE_BUS = "市営バスの運賃が来月から値上げされる。"
THAI = "ราคาพลาสติกเพิ่มขึ้นในกรุงเทพ เมื่อวันจันทร์"
FULL_WIDTH = "酷道３０９を走るＮＢＡの選手。"
UKRAINIAN = "Ціни на мʼясо зросли у Києві."


def _load_marked_scripts(db_path: str) -> None:
    _load(db_path, [
        _doc(QALA, REPORT),
        _doc("https://hi.example/sebi", HINDI, title="सेबी ने मामले निपटाए"),
        _doc("https://ja.example/bus", JAPANESE_BUS, title="市営バスの運賃が値上げへ"),
        _doc("https://th.example/plastic", THAI, title="ราคาพลาสติก"),
        _doc("https://ja.example/road", FULL_WIDTH, title="酷道３０９"),
        _doc("https://uk.example/meat", UKRAINIAN, title="Ціни зросли"),
    ])  # fmt: skip


def test_words_whose_marks_are_letters_keep_them_and_width_is_folded(db_path):
    """Indic vowel signs and Japanese voicing marks were stripped as accents: सेबी (SEBI) was
    सब ("all"), バス (bus) ハス (lotus). A Thai word inside its run found nothing; full-width
    ３０９ was not 309; мʼясо with ʼ was not м'ясо (QA)."""
    _load_marked_scripts(db_path)
    assert _titles(db_path, "सेबी") == ["सेबी ने मामले निपटाए"]
    assert _titles(db_path, "सब") == [] and _titles(db_path, "कल") == []
    assert _titles(db_path, "バス") == ["市営バスの運賃が値上げへ"]
    assert _titles(db_path, "ハス") == []
    assert _titles(db_path, "พลาสติก") == _titles(db_path, "กรุงเทพ") == ["ราคาพลาสติก"]
    assert _titles(db_path, "309") == _titles(db_path, "NBA") == ["酷道３０９"]
    assert _titles(db_path, "м'ясо") == _titles(db_path, "мʼясо") == ["Ціни зросли"]
    _, rows = read_only_query(db_path, "SELECT search_term('Captured'), search_term('The')")
    assert rows == [("captur", None)]
    assert check_warehouse(db_path) == []


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_upgrading_indexes_again_the_articles_in_scripts_whose_marks_are_letters(
    db_path, tmp_path, backend
):
    """Migration 012 re-indexes the current versions with such characters, and only them."""
    if backend == "ducklake":
        db_path = f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}"
    _load_marked_scripts(db_path)
    _index_as_schema(db_path, 11, FOLDED_SEARCH_WORDS)
    before = _rows(db_path, LATIN_TERMS)
    assert (
        _titles(db_path, "ハス") == ["市営バスの運賃が値上げへ"] and _titles(db_path, "309") == []
    )

    with writer(db_path):
        pass  # a writer migrates

    assert _titles(db_path, "ハス") == [] and _titles(db_path, "309") == ["酷道３０９"]
    assert _titles(db_path, "सेबी") == ["सेबी ने मामले निपटाए"] and _titles(db_path, "सब") == []
    assert _rows(db_path, LATIN_TERMS) == before
    assert _rows(db_path, "SELECT count(*) FROM search_docs") == [(6,)]
    assert check_warehouse(db_path) == []
