"""Capture events: gazetteer, statuses, spellings, hedges, dates, counts, the founding article."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from tasks import events
from tasks.events import (
    ArticleText,
    extract_article,
    extract_events,
    extract_sentence_counts,
    extract_sentence_events,
    load_gazetteer,
    pending_articles,
    split_sentences,
)
from warehouse import db

FOUNDING = "seed/000_cf0c220304eb5a48.txt"
FRIDAY = date(2021, 8, 13)  # publication day for the short reports below


@pytest.fixture(scope="module")
def gazetteer() -> events.Gazetteer:
    return load_gazetteer()


def insert_articles(db_path: str, articles: list[dict[str, Any]]) -> list[str]:
    """Bulk-insert article rows as the load stage leaves them; returns their ids.

    Each dict needs url, text and published_at; title, site_name, canonical_url, cluster_id,
    duplicate_of, published_offset and version are optional.
    """
    seen = datetime(2021, 8, 20, tzinfo=UTC)
    rows = []
    for article in articles:
        article_id = hashlib.sha1(article["url"].encode()).hexdigest()[:16]
        rows.append(
            {
                "id": article_id,
                "url_key": article["url"],
                "url": article["url"],
                "canonical_url": article.get("canonical_url"),
                "source_name": "tests",
                "title": article.get("title"),
                "site_name": article.get("site_name"),
                "published_at": article["published_at"],
                "published_offset": article.get("published_offset"),
                "text": article["text"],
                "text_hash": hashlib.sha1(article["text"].encode()).hexdigest(),
                "version": article.get("version", 1),
                "cluster_id": article.get("cluster_id", article_id),
                "duplicate_of": article.get("duplicate_of"),
                "first_seen_at": seen,
                "last_seen_at": seen,
            }
        )
    with db.writer(db_path) as conn:
        conn.register("new_articles", pa.Table.from_pylist(rows))
        conn.execute("INSERT INTO articles BY NAME SELECT * FROM new_articles")
    return [row["id"] for row in rows]


def _events(sentence: str, gazetteer: events.Gazetteer, published_on: date = FRIDAY):
    return {
        f.capital: f.status for f in extract_sentence_events(sentence, 1, published_on, gazetteer)
    }


# --- gazetteer ----------------------------------------------------------------------------------


def test_gazetteer_has_34_provinces_nine_sharing_names_and_kabul_apart(gazetteer):
    assert len(gazetteer.places) == 34
    shared = {p.capital for p in gazetteer.places if p.shares_name}
    assert shared == {
        "Bamyan", "Farah", "Ghazni", "Herat", "Kabul", "Kandahar", "Khost", "Kunduz", "Sar-e Pul"
    }  # fmt: skip
    national = [p for p in gazetteer.places if p.capital_kind == "national"]
    assert [p.capital for p in national] == ["Kabul"]
    assert gazetteer.place("Pul-e Khumri").province == "Baghlan"


def test_a_bad_gazetteer_row_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "province,capital,capital_kind,shares_name,capital_spellings,province_spellings,notes\n"
        "Nimroz,Zaranj,city,false,Zaranj,Nimroz,\n"
    )
    with pytest.raises(ValueError, match=r"bad\.csv:2: capital_kind"):
        load_gazetteer(path)


SPELLING_FAMILIES = {
    "Sheberghan": ["Sheberghan", "Shebergan", "Shibirghan", "Shibergan"],
    "Kunduz": ["Kunduz", "Kondoz"],
    "Pul-e Khumri": ["Pul-e Khumri", "Pul-i-Khumri", "Puli Khumri", "Pol-i-Khumri"],
    "Sar-e Pul": ["Sar-e Pul", "Sar-i-Pul", "Sari Pul"],
    "Lashkar Gah": ["Lashkar Gah", "Lashkargah"],
    "Qala-i-Naw": ["Qala-i-Naw", "Qala-e-Naw", "Qala-e-Now"],
    "Taloqan": ["Taloqan", "Taluqan", "Talokan"],
    "Tarinkot": ["Tarinkot", "Tirin Kot", "Tarin Kowt"],
    "Chaghcharan": ["Chaghcharan", "Firozkoh", "Feroz Koh"],
    "Mehtarlam": ["Mehtarlam", "Mihtarlam", "Mehterlam"],
    "Pul-e Alam": ["Pul-e Alam", "Pul-i-Alam"],
    "Maymana": ["Maymana", "Maimana"],
    "Fayzabad": ["Fayzabad", "Faizabad"],
    "Mazar-i-Sharif": ["Mazar-i-Sharif", "Mazar-e-Sharif"],
    "Gardez": ["Gardez", "Gardiz"],
    "Zaranj": ["Zaranj", "Zarang"],
    "Jalalabad": ["Jalalabad", "Jalal-Abad", "Jalal Abad"],
}


@pytest.mark.parametrize(
    ("capital", "spelling"),
    [(capital, s) for capital, spellings in SPELLING_FAMILIES.items() for s in spellings],
)
def test_every_spelling_family_names_its_capital(gazetteer, capital, spelling):
    assert _events(f"Taliban fighters captured {spelling} on Sunday.", gazetteer) == {
        capital: "confirmed"
    }


# --- statuses -----------------------------------------------------------------------------------

STATUS_CASES = [
    ("A Taliban spokesman said the group had captured Sheberghan.", "Sheberghan", "claimed"),
    ("The Taliban claimed the capture of Chaghcharan but officials said fighting continued.",
     "Chaghcharan", "claimed"),
    ("Taliban say they took Farah, a claim that could not be independently verified.",
     "Farah", "claimed"),
    ("A provincial council member confirmed that Zaranj had fallen to the Taliban.",
     "Zaranj", "confirmed"),
    ("Officials confirmed Taliban claims that Aybak had been captured.", "Aybak", "confirmed"),
    ("Maimana is now in Taliban hands, residents said.", "Maymana", "confirmed"),
    ("Herat is now in the hands of the Taliban.", "Herat", "confirmed"),
    ("The militants now control Kunduz.", "Kunduz", "confirmed"),
    ("The Taliban captured Kunduz, Sar-e Pul and Taloqan on Sunday.", "Taloqan", "confirmed"),
    ("Heavy fighting raged in Lashkar Gah overnight.", "Lashkar Gah", "contested"),
    ("The Taliban besieged Lashkargah.", "Lashkar Gah", "contested"),
    ("The insurgents seized the police headquarters in Herat.", "Herat", "contested"),
    ("The Taliban took Kandahar's central prison.", "Kandahar", "contested"),
    ("Taliban fighters captured the jail in Kandahar.", "Kandahar", "contested"),
    ("Officials denied Taliban claims that Lashkar Gah had fallen.", "Lashkar Gah", "denied"),
    ("Lashkar Gah remains under government control, a spokesman for the governor said.",
     "Lashkar Gah", "denied"),
    ("Afghan commandos retook Pul-e Khumri on Monday.", "Pul-e Khumri", "retaken"),
    ("Government forces said Lashkar Gah was retaken.", "Lashkar Gah", "retaken"),
    # QA: a capture in a relative clause was missed; a claim denied after it stayed "claimed"
    ("Mazar-i-Sharif, which the Taliban captured on Wednesday, was calm on Thursday, residents "
     "said.", "Mazar-i-Sharif", "confirmed"),
    ("The Taliban claimed to have captured Ghazni on Friday, but officials denied the claim and "
     "said government forces still held the city.", "Ghazni", "denied"),
    ("Government forces in Sharana surrendered to the Taliban on Tuesday, handing over the city "
     "without a fight, officials said.", "Sharana", "confirmed"),
]  # fmt: skip


@pytest.mark.parametrize(("sentence", "capital", "status"), STATUS_CASES)
def test_each_status(gazetteer, sentence, capital, status):
    assert _events(sentence, gazetteer)[capital] == status


def test_several_capitals_listed_together_are_each_reported(gazetteer):
    found = _events("Kunduz, Sar-i-Pul and Taluqan fell on Sunday.", gazetteer)
    assert found == {"Kunduz": "confirmed", "Sar-e Pul": "confirmed", "Taloqan": "confirmed"}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The Taliban captured Ghazni province on Thursday.", {"Ghazni": "confirmed"}),
        ("Kunduz province fell to the Taliban.", {"Kunduz": "confirmed"}),
        ("The Taliban captured the capital of Baghlan province.", {"Pul-e Khumri": "confirmed"}),
        ("Taliban fighters captured Baghlan city after clashes.", {}),
        ("The Taliban overran Helmand province.", {}),
        ("The Taliban captured several districts in Ghazni province.", {}),
    ],
)
def test_a_province_name_stands_for_its_capital_only_where_they_share_it(
    gazetteer, sentence, expected
):
    assert _events(sentence, gazetteer) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "Mazar-i-Sharif has not fallen, officials insisted.",
        "The Taliban did not capture Kandahar.",
        "Kabul could fall within 90 days, US intelligence officials warned.",
        "The Taliban threaten to seize Kandahar.",
        "Residents fear Herat will fall.",
        "The militants are poised to take Jalalabad.",
        "Kunduz fell briefly to the Taliban in 2015.",
        "The Taliban captured Kunduz in September 2015 and held it for two weeks.",
        # a month alone, not the publication's (Friday 13 August): a past episode no day dates
        # (QA: "Before the Taliban captured Zaranj in August, …" in October was new that day)
        "Before the Taliban captured Zaranj in July, the city had been a busy trading post.",
        "Kabul fell to the Taliban last month.",
        "Taliban forces in Kandahar surrendered to government forces.",  # theirs surrendered
        "The city is located just 150 kilometers (95 miles) from Kabul.",
    ],
)
def test_negations_forecasts_past_years_and_mere_mentions_are_ignored(gazetteer, sentence):
    assert _events(sentence, gazetteer) == {}


@pytest.mark.parametrize(
    "sentence",
    [
        "The Taliban captured Kandahar's Spin Boldak district on Wednesday, officials said.",
        "Taliban fighters overran Kunduz's Imam Sahib district.",
        "The Taliban captured the former governor of Herat, Ismail Khan.",
        "Herat's famous warlord Ismail Khan was captured.",
        # (the dates corpus: two kidnapped professors, Kabul confirmed captured in 2019)
        "American Kevin King and Australian Timothy Weeks, both professors at the American "
        "University of Kabul, were handed over to US forces in the country's southern Zabul "
        "province, an insurgent source told Agence France-Presse.",
        "The Taliban said the Bank of Kandahar was seized on Friday.",
        "The Taliban seized the Kabul-Kandahar highway on Tuesday, officials said.",
        "The Taliban seized the Kunduz-Takhar road.",
        "Kabul was taken by surprise by the speed of the Taliban advance.",
        "The Taliban took Kabul by surprise.",
        "Afghan forces launched a counteroffensive to retake Lashkar Gah.",
        "Government troops hope to recapture Kunduz.",
        "The Taliban launched an offensive to capture Kandahar.",
        "In 2015, the Taliban captured Kunduz for two weeks.",
    ],
)
def test_a_district_road_or_person_of_a_city_an_aim_or_an_idiom_is_not_a_capture(
    gazetteer, sentence
):
    assert _events(sentence, gazetteer) == {}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # An aside or an afterword about an earlier year leaves the report standing.
        ("Kunduz, which the Taliban briefly held in 2015, fell on Sunday.",
         {"Kunduz": "confirmed"}),
        ("Kandahar fell to the Taliban on Thursday, the biggest prize for the insurgents since "
         "they were ousted in 2001.", {"Kandahar": "confirmed"}),
        ("Taliban seize Kunduz, a city they briefly captured in 2015", {"Kunduz": "confirmed"}),
        ("The Taliban, who captured Kunduz in 2015, took Herat on Friday.", {"Herat": "confirmed"}),
        # A hedge or a witness in another clause does not hedge this one.
        ("Fears grew for Kabul on Friday as Herat fell to the Taliban.", {"Herat": "confirmed"}),
        ("The UN warned of a humanitarian crisis after the Taliban captured Ghazni.",
         {"Ghazni": "confirmed"}),
        ("Residents who can still reach the city said the Taliban captured Ghazni on Thursday.",
         {"Ghazni": "confirmed"}),
        ("The US will evacuate staff before the Taliban take Kabul.", {}),
        ("The strategic city of Ghazni became the latest one to fall into the group's hands.",
         {"Ghazni": "confirmed"}),
        # Officials who do not confirm a Taliban claim leave it a claim.
        ("A Taliban spokesman said the group had captured Ghazni, but officials could not "
         "immediately confirm it.", {"Ghazni": "claimed"}),
        ("A Taliban spokesman said the group had captured Ghazni; officials declined to confirm "
         "the claim.", {"Ghazni": "claimed"}),
        # The Taliban "recapturing" a city (theirs in 2015) capture it; government forces retake.
        ("The Taliban recaptured Kunduz on Sunday.", {"Kunduz": "confirmed"}),
        ("Kunduz was recaptured by the Taliban on Sunday.", {"Kunduz": "confirmed"}),
        ("The Taliban said Afghan forces had retaken Kunduz.", {"Kunduz": "retaken"}),
        # Its own centre or jail is a part of the city; its fall is the city's.
        ("Kandahar's city centre was seized on Friday.", {"Kandahar": "contested"}),
        ("After Kandahar's fall on Thursday, Herat followed.", {"Kandahar": "confirmed"}),
        ("The Taliban managed to capture Kunduz on Sunday.", {"Kunduz": "confirmed"}),
        # A "but" between two capitals parts their cues; about one capital, it joins them.
        ("Officials said Ghazni had fallen, but the Taliban claimed they had also taken Herat.",
         {"Ghazni": "confirmed", "Herat": "claimed"}),
        ("Reports that the Taliban had taken Ghazni were false, officials said, but Herat has "
         "fallen.", {"Ghazni": "denied", "Herat": "confirmed"}),
        ("The Taliban said they captured Ghazni, but officials confirmed it fell.",
         {"Ghazni": "confirmed"}),
        ("The Taliban said they captured Kunduz, Taloqan and Sar-e Pul.",
         {"Kunduz": "claimed", "Taloqan": "claimed", "Sar-e Pul": "claimed"}),
    ],
)  # fmt: skip
def test_which_clause_a_cue_belongs_to(gazetteer, sentence, expected):
    assert _events(sentence, gazetteer) == expected


# QA, capture-rules-6: each of these read otherwise before (the old reading in the comment)
@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # a road, convoy, people or a dam was taken, not the city (both cities confirmed)
        ("The Taliban seized the main highway linking Herat and Kandahar on Wednesday.", {}),
        ("The Taliban seized control of the highway linking Kabul and Kandahar.", {}),
        ("The Taliban captured soldiers fleeing Kunduz.", {}),
        ("Taliban seized a convoy bound for Ghazni.", {}),
        ("The Taliban seized the dam that supplies Kandahar with water.", {}),
        ("The Taliban captured a governor who had fled Ghazni.", {}),
        ("Taliban fighters captured the imagination of Kandahar residents.", {}),
        # a denial covers the capitals listed together (the second was confirmed)
        ("Officials denied that Herat and Kandahar had fallen.",
         {"Herat": "denied", "Kandahar": "denied"}),
        ("The Taliban captured Herat and Kandahar, claims that officials denied.",
         {"Herat": "denied", "Kandahar": "denied"}),
        # parts of a city won back are fought over (retaken)
        ("Government forces launched a counter-attack and recaptured parts of Kunduz.",
         {"Kunduz": "contested"}),
        ("Afghan forces recaptured the Kunduz airport.", {"Kunduz": "contested"}),
        # a question reports nothing (confirmed); a headline's question at its end does not
        # take back what comes before it
        ("Has Kandahar fallen?", {}),
        ("Did the Taliban capture Herat?", {}),
        ("Taliban capture Sharana, Paktika capital, Kabul next?", {"Sharana": "confirmed"}),
        # a hedge in an aside, a negation before a past "when", a relative "which fell" (nothing)
        ("Maidan Shahr, close to Kabul, fell to the Taliban on Sunday.",
         {"Maidan Shahr": "confirmed"}),
        ("Jalalabad, a city that could have held out for weeks, fell on Sunday.",
         {"Jalalabad": "confirmed"}),
        ("There was no resistance when the Taliban took Jalalabad on Sunday.",
         {"Jalalabad": "confirmed"}),
        ("The militants met no resistance in Mazar-i-Sharif, which fell on Saturday.",
         {"Mazar-i-Sharif": "confirmed"}),
        ("Zaranj, which fell on Friday, was the first capital taken.", {"Zaranj": "confirmed"}),
        # an opening month across a ";" is another clause's (nothing)
        ("In May, the Taliban began their offensive; they captured Zaranj on Aug. 6.",
         {"Zaranj": "confirmed"}),
        # a capital named by its province's possessive, or as its provincial capital (nothing)
        ("The Taliban captured Farah province's capital on Thursday.", {"Farah": "confirmed"}),
        ("The Taliban captured the Helmand provincial capital on Friday.",
         {"Lashkar Gah": "confirmed"}),
        ("The Taliban captured Helmand's capital Lashkar Gah on Friday.",
         {"Lashkar Gah": "confirmed"}),
        ("Fighting in Helmand province continued.", {}),
        # "the city" after one capital is that capital (a claim; nothing; nothing)
        ("A Taliban spokesman said the group had captured Kandahar, but officials insisted the "
         "city remained under government control.", {"Kandahar": "denied"}),
        ("The governor of Ghazni denied the city had fallen.", {"Ghazni": "denied"}),
        ("Fighting raged around Kunduz, and the city fell on Sunday.", {"Kunduz": "confirmed"}),
        ("Ghazni, 150 km from Kabul, was calm; the city fell later.", {}),  # whose city?
        # the listed capitals share their source (the first was the outlet's)
        ("The Taliban captured Herat and Kandahar on Thursday, officials said.",
         {"Herat": "confirmed", "Kandahar": "confirmed"}),
    ],
)  # fmt: skip
def test_capture_rules_6_read_these_as_qa_expects(gazetteer, sentence, expected):
    assert _events(sentence, gazetteer, date(2021, 8, 15)) == expected


# QA's second round on capture-rules-6: what its first changes read wrongly (the wrong reading
# in the comment), and one wrong before them (Kabul and Kandahar captured on a highway)
@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Kabul, which fell to the Taliban in 1996, is bracing for another assault.", {}),  # Kabul
        ("Kandahar, which fell to the Taliban two decades ago, is their spiritual home.", {}),
        ("Refugees arrived in Kabul from Kunduz, which fell a week ago.", {}),  # Kabul
        ("Taliban fighters took the district of Spin Boldak near Kandahar, which fell in July.",
         {}),  # Kandahar
        ("Fighting raged around the airport in Kandahar, which was seized by the Taliban on "
         "Friday.", {"Kandahar": "contested"}),  # confirmed
        ("Taliban fighters overran Shindand district south of Herat, and officials said the town "
         "had fallen.", {}),  # Herat
        ("Torkham, the border crossing near Jalalabad, was seized, and the city fell soon after.",
         {}),  # Jalalabad
        ("The Taliban captured Kandahar's airport, but the city remained under government "
         "control.", {"Kandahar": "contested"}),  # denied
        ("The Taliban captured Kandahar, officials said, but the city's airport remained in "
         "government hands.", {"Kandahar": "confirmed"}),  # denied
        ("The Taliban captured Herat, and Kandahar remained under government control.",
         {"Herat": "confirmed", "Kandahar": "denied"}),  # both denied
        ("The Taliban took Lashkar Gah, and Kandahar may fall within days.",
         {"Lashkar Gah": "confirmed"}),  # Kandahar confirmed too
        ("Herat, residents feared, had fallen to the Taliban.", {}),  # confirmed
        ("The Taliban captured the airport serving Kandahar.", {"Kandahar": "contested"}),  # {}
        ("How did the Taliban take Herat so quickly?", {"Herat": "confirmed"}),  # {}
        ("Is Kabul next after the Taliban captured Kandahar?", {"Kandahar": "confirmed"}),  # {}
        ("Ghazni, which lies on the main highway between Kabul and Kandahar, fell to the Taliban "
         "on Thursday morning.", {"Ghazni": "confirmed"}),  # Kabul and Kandahar, not Ghazni
        ("The collapse of the Kabul government came faster than anyone predicted.", {}),  # Kabul
    ],
)  # fmt: skip
def test_capture_rules_6_second_round(gazetteer, sentence, expected):
    assert _events(sentence, gazetteer, date(2021, 8, 15)) == expected


def test_listed_capitals_share_who_reported_them(gazetteer):
    found = extract_sentence_events(
        "The Taliban captured Herat and Kandahar on Thursday, officials said.",
        1,
        FRIDAY,
        gazetteer,
    )
    assert {f.capital: f.attributed_to for f in found} == {
        "Herat": "officials",
        "Kandahar": "officials",
    }


def test_kabul_is_the_national_capital_and_a_neighbour_is_not_it(gazetteer):
    near = extract_sentence_events(
        "Ghazni, a strategic city 150 km from Kabul, fell on Thursday.", 1, FRIDAY, gazetteer
    )
    assert [(f.capital, f.status) for f in near] == [("Ghazni", "confirmed")]
    taken = extract_sentence_events(
        "Taliban fighters entered Kabul on Sunday and took control of the presidential palace.",
        1,
        date(2021, 8, 16),
        gazetteer,
    )
    assert [(f.capital, f.capital_kind, f.event_date) for f in taken] == [
        ("Kabul", "national", date(2021, 8, 15))
    ]


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "published_on", "expected", "basis"),
    [
        ("Taliban fighters captured Kunduz on Thursday.", FRIDAY, date(2021, 8, 12), "Thursday"),
        ("Taliban fighters captured Kunduz on Friday.", FRIDAY, FRIDAY, "Friday"),
        ("The Taliban overran Pul-i-Khumri overnight.", FRIDAY, date(2021, 8, 12), "overnight"),
        ("Mazar-e-Sharif fell late Saturday.", date(2021, 8, 15), date(2021, 8, 14), "Saturday"),
        ("Zaranj fell to the Taliban yesterday.", FRIDAY, date(2021, 8, 12), "yesterday"),
        ("Taliban captured Zaranj on Aug. 6.", FRIDAY, date(2021, 8, 6), "Aug. 6"),
        ("Taliban captured Zaranj on 6 August.", FRIDAY, date(2021, 8, 6), "6 August"),
        ("Taliban captured Zaranj.", FRIDAY, FRIDAY, "published"),
        ("Taliban captured Zaranj, officials said on Aug. 20.", FRIDAY, FRIDAY, "published"),
        # the publication's own month alone dates nothing more precisely: its day stands
        ("The Taliban captured Zaranj in August, officials said.", FRIDAY, FRIDAY, "published"),
        (
            "Mazar-i-Sharif, which the Taliban captured on Wednesday, was calm.",
            FRIDAY,
            date(2021, 8, 11),
            "Wednesday",
        ),
        # QA: the day of the reporting ("said on Sunday that") was nearer (Sunday); a date
        # beside a weekday (Sunday); the day before yesterday (yesterday)
        (
            "Officials said on Sunday that the Taliban had captured Mazar-i-Sharif on Saturday.",
            date(2021, 8, 16),
            date(2021, 8, 14),
            "Saturday",
        ),
        (
            "The Taliban captured Kunduz on Sunday, Aug. 8.",
            date(2021, 8, 16),
            date(2021, 8, 8),
            "Aug. 8",
        ),  # fmt: skip
        (
            "The Taliban captured Kunduz the day before yesterday.",
            date(2021, 8, 16),
            date(2021, 8, 14),
            "day before yesterday",
        ),  # fmt: skip
        (
            "On Saturday, officials said the Taliban captured Mazar-i-Sharif.",
            date(2021, 8, 16),
            date(2021, 8, 14),
            "Saturday",
        ),  # fmt: skip
    ],
)
def test_day_words_date_the_event_against_the_publication_day(
    gazetteer, sentence, published_on, expected, basis
):
    [finding] = extract_sentence_events(sentence, 1, published_on, gazetteer)
    assert finding.event_date == expected
    assert basis in finding.date_basis


# --- running counts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "counts"),
    [
        ("It was the 10th provincial capital to fall.", [10]),
        ("Taliban capture 10th Afghan provincial city, Ghazni.", [10]),
        ("Zaranj was the first provincial capital to fall.", [1]),
        ("Pul-e Khumri became the eighth provincial capital captured in less than a week.", [8]),
        ("The militants have already seized some 10 provincial capitals.", [10]),
        ("The Taliban now hold nine of 34 provincial capitals.", [9]),
        ("The insurgents have taken at least 18 of Afghanistan's 34 provincial capitals.", [18]),
        ("Three provincial capitals fell on Sunday.", []),
        ("The Taliban took three provincial capitals on Friday.", []),
        ("The Taliban have now captured 10 provincial capitals.", [10]),
        ("It was the third provincial capital to fall in 24 hours.", []),
        ("The Taliban could take 20 provincial capitals within weeks.", []),
        ("Afghanistan has 34 provincial capitals.", []),
        ("Kandahar is Afghanistan's second-largest city and was captured.", []),
    ],
)
def test_running_counts(sentence, counts):
    assert [c.count for c in extract_sentence_counts(sentence, 1, 34)] == counts


# --- articles -----------------------------------------------------------------------------------


def test_sentences_split_at_ends_but_not_after_abbreviations():
    text = "Gen. Miller left. The U.S. embassy in Kabul urged citizens to leave.\nNew line here"
    assert split_sentences(text) == [
        "Gen. Miller left.",
        "The U.S. embassy in Kabul urged citizens to leave.",
        "New line here",
    ]


def _founding_article(corpus) -> ArticleText:
    from tasks.extraction import clean_text_scrape

    raw = (corpus / FOUNDING).read_text(encoding="utf-8")
    doc = clean_text_scrape(raw, f"file://{corpus / FOUNDING}", "samples")
    assert doc.published_at is not None and doc.published_at.date() == date(2021, 8, 12)
    return ArticleText(
        "founding", "h", 1, doc.title, doc.text, doc.published_at.date(), "founding", "rt.com"
    )


def test_founding_article_acceptance(corpus, gazetteer):
    found, counts = extract_article(_founding_article(corpus), gazetteer)
    statuses: dict[str, set[str]] = {}
    for finding in found:
        statuses.setdefault(finding.capital, set()).add(finding.status)
    assert statuses["Ghazni"] == {"confirmed"}
    assert "claimed" in statuses["Kandahar"] and "confirmed" not in statuses["Kandahar"]
    assert statuses["Herat"] == {"contested"}
    assert "Kabul" not in statuses
    assert set(statuses) == {"Ghazni", "Kandahar", "Herat"}
    assert {c.count for c in counts} == {10}
    assert all(f.event_date == date(2021, 8, 12) for f in found)


def test_founding_article_cross_promotion_lines_are_gone_after_cleaning(corpus):
    article = _founding_article(corpus)
    assert "Also on rt.com" not in article.text


def test_a_jail_taken_in_kandahar_is_not_the_city(gazetteer):
    sentence = "Late on Wednesday, the Taliban said it completely conquered Kandahar's jail."
    [finding] = extract_sentence_events(sentence, 1, date(2021, 8, 12), gazetteer)
    assert (finding.capital, finding.status) == ("Kandahar", "contested")
    assert finding.event_date == date(2021, 8, 11)


# --- the extraction task over the warehouse -----------------------------------------------------

REPORT = (
    "Taliban fighters captured Zaranj, the capital of Nimroz province, on Friday. "
    "It was the first provincial capital to fall."
)


def _stored(db_path: str) -> list[tuple]:
    with db.reader(db_path) as conn:
        return conn.execute(
            "SELECT article_id, text_hash, capital, status, event_date, evidence "
            "FROM capture_events ORDER BY ALL"
        ).fetchall()


def test_extraction_reads_new_and_changed_articles_once(db_path, gazetteer):
    [article_id] = insert_articles(
        db_path,
        [{"url": "https://a.example/zaranj", "text": REPORT, "site_name": "A",
          "published_at": datetime(2021, 8, 6, 12, tzinfo=UTC)}],
    )  # fmt: skip
    assert pending_articles(db_path, gazetteer) == [article_id]
    stats = extract_events(db_path, [article_id], gazetteer)
    assert (stats.articles, stats.events, stats.counts) == (1, 1, 1)
    first = _stored(db_path)
    assert [(r[2], r[3], r[4]) for r in first] == [("Zaranj", "confirmed", date(2021, 8, 6))]
    assert pending_articles(db_path, gazetteer) == []
    extract_events(db_path, [article_id], gazetteer)  # reading it again changes nothing
    assert _stored(db_path) == first

    edited = REPORT.replace("captured Zaranj", "claimed to have captured Zaranj")
    with db.writer(db_path) as conn:
        conn.execute(
            "UPDATE articles SET text = ?, text_hash = 'v2', version = 2 WHERE id = ?",
            [edited, article_id],
        )
    assert pending_articles(db_path, gazetteer) == [article_id]
    extract_events(db_path, [article_id], gazetteer)
    assert [(r[1], r[3]) for r in _stored(db_path)] == [("v2", "claimed")]
    with db.reader(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM reported_counts").fetchone()[0] == 1

    # a new headline over the same text is a version too, with the publication time read then:
    # its events (dated against that day) are read again, though the text is as it was
    with db.writer(db_path) as conn:
        conn.execute(
            "UPDATE articles SET title = 'Zaranj claimed', version = 3, "
            "published_at = '2021-08-14 12:00:00+00' WHERE id = ?",
            [article_id],
        )
    assert pending_articles(db_path, gazetteer) == [article_id]
    extract_events(db_path, [article_id], gazetteer)
    assert [(r[1], r[4]) for r in _stored(db_path)] == [("v2", date(2021, 8, 13))]  # "on Friday"
    assert pending_articles(db_path, gazetteer) == []


def test_changed_rules_or_gazetteer_read_everything_again(
    db_path, gazetteer, monkeypatch, tmp_path
):
    ids = insert_articles(
        db_path,
        [{"url": f"https://a.example/{i}", "text": REPORT, "site_name": "A",
          "published_at": datetime(2021, 8, 6, 12, tzinfo=UTC)} for i in range(3)],
    )  # fmt: skip
    extract_events(db_path, ids, gazetteer)
    assert pending_articles(db_path, gazetteer) == []
    edited = tmp_path / "afghanistan.csv"  # the same places, one spelling more
    edited.write_text(
        events.DEFAULT_GAZETTEER.read_text(encoding="utf-8").replace("|Zarang", "|Zarang|Zaranjh"),
        encoding="utf-8",
    )
    assert pending_articles(db_path, load_gazetteer(edited)) == sorted(ids)
    assert pending_articles(db_path, gazetteer) == []
    monkeypatch.setattr(events, "RULES_VERSION", "capture-rules-next")
    assert pending_articles(db_path, gazetteer) == sorted(ids)


def test_publication_day_follows_the_articles_own_utc_offset(db_path, gazetteer):
    [article_id] = insert_articles(
        db_path,
        [{"url": "https://a.example/late", "text": REPORT, "site_name": "A",
          "published_at": datetime(2021, 8, 6, 21, 0, tzinfo=UTC), "published_offset": "+04:30"}],
    )  # fmt: skip
    extract_events(db_path, [article_id], gazetteer)
    with db.reader(db_path) as conn:
        row = conn.execute("SELECT published_on, event_date FROM capture_events").fetchone()
    assert row == (date(2021, 8, 7), date(2021, 8, 6))  # 01:30 in Kabul on Saturday; "on Friday"


def test_a_denial_covers_only_the_capital_it_is_about(gazetteer):
    headline = "Taliban seize Pul-i-Khumri and Farah as officials deny fall of Lashkar Gah"
    assert _events(headline, gazetteer) == {
        "Pul-e Khumri": "confirmed",
        "Farah": "confirmed",
        "Lashkar Gah": "denied",
    }
    assert _events("The Taliban said Kunduz had fallen, a claim officials denied.", gazetteer) == {
        "Kunduz": "denied"
    }


def test_a_wire_dateline_does_not_date_the_event(gazetteer):
    sentence = (
        "KABUL, Aug 13 (Asia Wire) - The Taliban captured Herat late Thursday, officials said."
    )
    [finding] = extract_sentence_events(sentence, 1, FRIDAY, gazetteer)
    assert (finding.event_date, finding.date_basis) == (date(2021, 8, 12), "Thursday")


def test_a_headline_takes_the_day_its_body_gives_the_same_capital(gazetteer):
    article = ArticleText(
        "a", "h", 1, "Aybak falls as the Taliban sweep across the north",
        "The Taliban took control of Aybak, the capital of Samangan province, on Monday.",
        date(2021, 8, 10), "a", "Herald",
    )  # fmt: skip
    found, _ = extract_article(article, gazetteer)
    assert [(f.sentence_index, f.event_date) for f in found] == [
        (0, date(2021, 8, 9)),
        (1, date(2021, 8, 9)),
    ]


def test_a_retake_headline_takes_the_day_of_the_bodys_retake_not_of_the_capture(gazetteer):
    """It took the capture's day (the only dated change it looked for): the held count dropped
    Ghazni four days early, and a retake dated only in the body was shown on two days."""
    article = ArticleText(
        "a", "h", 1, "Government forces retake Ghazni",
        "The Taliban captured Ghazni on Friday, officials said. "
        "Afghan commandos then retook Ghazni on Tuesday, officials said.",
        date(2021, 8, 25), "a", "Herald",
    )  # fmt: skip
    found, _ = extract_article(article, gazetteer)
    assert [(f.sentence_index, f.status, f.event_date, f.date_basis) for f in found] == [
        (0, "retaken", date(2021, 8, 24), "body: Tuesday"),
        (1, "confirmed", date(2021, 8, 20), "Friday"),
        (2, "retaken", date(2021, 8, 24), "Tuesday"),
    ]


def test_a_headline_does_not_take_the_day_a_siege_began(gazetteer):
    article = ArticleText(
        "a", "h", 1, "Taliban capture Kunduz",
        "Taliban fighters besieged Kunduz on Monday. The city fell late Wednesday, officials said.",
        date(2021, 8, 12), "a", "Herald",
    )  # fmt: skip
    found, _ = extract_article(article, gazetteer)
    assert [(f.sentence_index, f.status, f.event_date) for f in found] == [
        (0, "confirmed", date(2021, 8, 12)),
        (1, "contested", date(2021, 8, 9)),
    ]


def test_their_first_provincial_capital_is_not_a_running_count():
    sentence = "It came a day after the insurgents took their first provincial capital."
    assert extract_sentence_counts(sentence, 1, 34) == []


def test_samples_carry_the_founding_article_unchanged(corpus):
    from tests.conftest import SAMPLES

    copy = SAMPLES / FOUNDING.split("/")[1]
    assert copy.read_bytes() == (corpus / FOUNDING).read_bytes()
    assert (SAMPLES / "README.md").read_text(encoding="utf-8").count(copy.name) >= 1
