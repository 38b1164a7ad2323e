"""Dedupe primitives: canonical URLs, text hashes, MinHash/LSH near-duplicates, batch grouping."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefect import flow

from tasks import dedupe
from tasks.dedupe import (
    BANDS,
    NEAR_THRESHOLD,
    NUM_PERM,
    SHINGLE_SIZE,
    BatchMatch,
    Fingerprint,
    article_id,
    band_buckets,
    canonical_url,
    dedupe_batch,
    estimate_similarity,
    fingerprint,
    fingerprints,
    group_batch,
    match_batch,
    minhash_signature,
    near_duplicate_of,
    normalize_for_hash,
    text_hash,
    url_key,
)
from tasks.records import Document

ROOT = Path(__file__).resolve().parents[1]

GHAZNI_HEADLINE = "Taliban seize Ghazni as insurgents close in on Kabul"
GHAZNI_PARAGRAPHS = [
    "KABUL, Aug 12 - Taliban fighters captured the city of Ghazni on Thursday, the tenth "
    "provincial capital to fall in a week, putting the insurgents about 150 kilometres from "
    "Kabul on the main highway that links the capital with the south of the country.",
    "Nasir Ahmad Faqiri, the head of the Ghazni provincial council, said the governor and his "
    "deputies had left the city in the morning after fighting reached the police headquarters. "
    "Residents described gunfire in the old bazaar through the night and said shops stayed shut "
    "as militants drove pickup trucks flying white flags along the ring road.",
    "The interior ministry confirmed that Ghazni had been lost but said security forces would "
    "retake it. It gave no details of casualties. A spokesman for the Taliban, Zabihullah "
    "Mujahid, wrote on Twitter that the group had entered the governor's compound and the "
    "intelligence office and had seized weapons and vehicles.",
    "The fall of Ghazni follows a rapid sweep across the north and west that began on August 6, "
    "when the Taliban took Zaranj, the capital of Nimroz province on the Iranian border. In the "
    "days that followed they captured Sheberghan, Kunduz, Sar-e Pul, Taloqan, Aybak, "
    "Pul-e Khumri, Farah and Faizabad, often after local commanders negotiated their surrender.",
    "Fighting was also reported on Thursday on the edges of Kandahar and Herat, the country's "
    "second and third largest cities. In Herat, forces loyal to the veteran commander Ismail "
    "Khan were defending the airport road, while in Kandahar government troops held the "
    "central prison after days of shelling around the governor's office.",
    "American officials have warned privately that Kabul could come under pressure within "
    "weeks. The United States is due to complete the withdrawal of its troops by the end of "
    "the month, and several embassies have told their citizens to leave the country on the "
    "first available commercial flights.",
    "Aid agencies say tens of thousands of people have fled to Kabul from the provinces since "
    "the start of the month, many of them sleeping in parks and mosques. The World Food "
    "Programme said food prices in the capital had risen sharply as roads to the north were "
    "cut, and appealed for funds to feed displaced families.",
    "Talks between the government and the Taliban in Doha have made little progress. Envoys "
    "from the United States, China, Russia and Pakistan met in the Qatari capital this week and "
    "said they would not recognise any government imposed by force.",
]
# The syndicated copy: another outlet's headline and one paragraph edited by its desk.
SYNDICATED_HEADLINE = (
    "Afghan city of Ghazni falls to the Taliban, tenth provincial capital in a week"
)
EDITED_PARAGRAPH = (
    "The interior ministry confirmed that Ghazni had been lost but vowed that security forces "
    "would soon retake the city. It did not say how many soldiers or civilians had been killed. "
    "A spokesman for the Taliban, Zabihullah Mujahid, wrote on Twitter that the group had "
    "entered the governor's compound and the intelligence office and had seized weapons and "
    "vehicles."
)
HERAT_ARTICLE = "\n".join(
    [
        "Herat holds out as Ismail Khan rallies militia against the Taliban",
        "HERAT, Aug 11 - In the western city of Herat, an old warlord has become the face of the "
        "resistance. Ismail Khan, who fought the Soviet army in the 1980s and the Taliban in the "
        "1990s, has armed hundreds of volunteers and posted them on rooftops near the "
        "Friday Mosque and the citadel.",
        "The militants have surrounded the city on three sides and shelled the airport, where "
        "commercial flights were suspended this week. Traders said the border crossing at "
        "Islam Qala, an important source of customs revenue, has been in Taliban hands since "
        "July, and fuel lorries from Iran are now stuck on the far side.",
        "Doctors at the regional hospital said they had treated more than 200 wounded people in "
        "ten days, most of them civilians hit by mortar rounds. The United Nations said its "
        "compound in the city had been attacked in late July and that a guard was killed.",
        "Khan told reporters at his house that he would not leave. Younger officials were less "
        "certain. One district chief said his men had not been paid for three months and that "
        "several outposts on the road to Kandahar had changed sides without firing a shot.",
        "The Taliban, who now claim control of more than half of the country's 400 districts, "
        "have called on government soldiers to surrender and promised an amnesty. Residents who "
        "remember their rule in the late 1990s said they were afraid that girls' schools would "
        "close again and that music would be banned.",
        "Herat, a trading city of around half a million people close to the border with Iran, "
        "was one of the first places where the international coalition handed security to Afghan "
        "forces, and its fall would be a heavy blow to the government in Kabul.",
    ]
)


def ghazni_article() -> str:
    return "\n".join([GHAZNI_HEADLINE, *GHAZNI_PARAGRAPHS])


def syndicated_copy() -> str:
    paragraphs = list(GHAZNI_PARAGRAPHS)
    paragraphs[2] = EDITED_PARAGRAPH
    return "\n".join([SYNDICATED_HEADLINE, *paragraphs])


def make_doc(url: str, text: str, *, canonical: str | None = None, rejected: str | None = None):
    return Document(
        url=url,
        source_name="test",
        canonical_url=canonical,
        title=None,
        author=None,
        site_name=None,
        language="en",
        published_at=None,
        published_offset=None,
        text=text,
        rejected_reason=rejected,
    )


# --- canonical URLs ---------------------------------------------------------------------------

CANONICAL_CASES = [
    ("HTTPS://News.Example.COM/a", "https://news.example.com/a"),  # scheme and host lowercased
    ("https://example.com/Path/Case", "https://example.com/Path/Case"),  # path case kept
    ("https://example.com:443/a", "https://example.com/a"),  # default ports dropped
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),  # other ports kept
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com/a#comments", "https://example.com/a"),  # fragment dropped
    ("https://example.com/a?utm_source=tw&utm_medium=social&id=7", "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=X1&gclid=Y2&mc_cid=3&mc_eid=4", "https://example.com/a"),
    ("https://example.com/a?ref=home&cmpid=rss&ocid=msn", "https://example.com/a"),
    ("https://example.com/a?at_medium=rss&at_campaign=x&ITO=1", "https://example.com/a"),
    ("https://example.com/a?page=2&id=1", "https://example.com/a?id=1&page=2"),  # sorted
    ("https://example.com/a?q=a%20b&x=", "https://example.com/a?q=a+b&x="),  # one encoding
    ("https://amp.example.com/a", "https://example.com/a"),  # AMP / mobile hosts
    ("https://m.example.com/a", "https://example.com/a"),
    ("https://mobile.example.com/a", "https://example.com/a"),
    ("https://www.example.com/a", "https://example.com/a"),
    ("https://m.example.co.uk/a", "https://example.co.uk/a"),
    ("https://amp.dev/a", "https://amp.dev/a"),  # a registered name is not a prefix
    ("https://example.com/news/story/amp", "https://example.com/news/story"),  # AMP paths
    ("https://example.com/news/story/amp/", "https://example.com/news/story"),
    ("https://example.com/amp/news/story", "https://example.com/news/story"),
    ("https://example.com/news/story.amp", "https://example.com/news/story"),
    ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
    ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
    ("https://example.com/news/story?amp", "https://example.com/news/story"),
    ("https://example.com/news/story?outputType=amp", "https://example.com/news/story"),
    ("https://example.com/news/story?amp=0", "https://example.com/news/story?amp=0"),
    ("https://example.com//news///story", "https://example.com/news/story"),  # slashes
    ("https://example.com/news/story/", "https://example.com/news/story"),  # trailing slash
    ("https://example.com/", "https://example.com/"),  # ... except the root
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),  # dot segments
    ("https://user:pw@example.com/a", "https://example.com/a"),  # no credentials
    ("https://example.com./a", "https://example.com/a"),  # trailing dot of the host
    ("https://xn--bcher-kva.example/a", "https://bücher.example/a"),  # punycode decoded
    ("https://example.com/a b/é", "https://example.com/a%20b/%C3%A9"),  # path encoded one way
    ("  https://example.com/a \n", "https://example.com/a"),
    ("http://[::1]:8080/a/", "http://[::1]:8080/a"),
    ("file:///data/pages/a.html#part", "file:///data/pages/a.html"),  # file: fragment only
    ("file:///data//pages/A.html?x=1", "file:///data//pages/A.html?x=1"),
    ("not a url", "not a url"),  # unparseable: stripped input back
    ("  ", ""),
    ("mailto:desk@example.com", "mailto:desk@example.com"),
    ("https://example.com:99999/a", "https://example.com:99999/a"),  # bad port
    ("http://[::1/a", "http://[::1/a"),  # bad IPv6 literal
    ("https:///a", "https:///a"),  # no host
    ("http://exa mple.com/a", "http://exa mple.com/a"),  # no host has spaces
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_url_applies_each_rule(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


def test_url_key_drops_the_scheme_so_http_and_https_are_one_article():
    assert url_key("https://www.example.com/news/a/?id=1&utm_source=x") == "example.com/news/a?id=1"
    assert url_key("http://example.com/news/a?id=1#top") == "example.com/news/a?id=1"
    assert url_key("file:///data/a.html#x") == "file:///data/a.html"
    assert url_key("https://example.com/a") != url_key("https://example.com/b")


def test_article_id_is_the_sha1_prefix_of_the_key():
    key = "example.com/news/a?id=1"
    assert article_id(key) == hashlib.sha1(key.encode()).hexdigest()[:16]
    assert len(article_id("\ud800 lone surrogate")) == 16


URL_PARTS = st.sampled_from(
    ["amp", "m", "www", "..", ".", "", "a.amp", "amp.amp", "x.amp.html", "%2F", "é", "A B", ":"]
)
URLISH = st.builds(
    lambda scheme, host, port, segments, query, fragment: (
        f"{scheme}://{host}{port}/{'/'.join(segments)}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "file", "ftp", ""]),
    st.sampled_from(["example.com", "AMP.m.Example.com.", "www.x", "[::1]", "a@b", "", "xn--zz"]),
    st.sampled_from(["", ":80", ":443", ":8080", ":", ":x", ":99999"]),
    st.lists(URL_PARTS | st.text(max_size=6), max_size=5),
    st.sampled_from(["", "?", "?amp", "?b=1&a=2&utm_x=3", "?q=%zz&q=%ff", "?a+b=c d", "?=&&"])
    | st.text(max_size=8).map(lambda t: "?" + t),
    st.sampled_from(["", "#", "#frag", "#a?b"]),
)
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60)


@settings(max_examples=400, deadline=None)
@given(url=URLISH | ANY_TEXT)
def test_canonical_url_never_raises_and_is_idempotent(url):
    once = canonical_url(url)
    assert isinstance(once, str)
    assert canonical_url(once) == once
    assert url_key(url_key(url)) == url_key(url)


# --- exact duplicates -------------------------------------------------------------------------


def test_normalize_for_hash_folds_case_width_and_punctuation():
    text = "  The TALIBAN’s “offensive” —  U.S.-backed forces\n\tretreat; ﬁnal  "
    assert normalize_for_hash(text) == "the talibans offensive us backed forces retreat final"


def test_text_hash_ignores_case_punctuation_and_whitespace():
    a = "Taliban fighters captured Ghazni on Thursday, officials said."
    b = "taliban  fighters captured GHAZNI on thursday officials said\n"
    c = "Taliban fighters captured Herat on Thursday, officials said."
    assert text_hash(a) == text_hash(b)
    assert text_hash(a) != text_hash(c)
    assert text_hash(a) == hashlib.sha1(normalize_for_hash(a).encode()).hexdigest()


# --- near duplicates --------------------------------------------------------------------------


def test_constants_fit_together():
    assert (NUM_PERM, BANDS, SHINGLE_SIZE) == (128, 32, 5)
    assert NUM_PERM % BANDS == 0
    assert 0.3 < NEAR_THRESHOLD < 0.7


def test_minhash_signature_shape_and_type():
    signature = minhash_signature(ghazni_article())
    assert signature.dtype == np.uint32
    assert signature.shape == (NUM_PERM,)
    assert minhash_signature("a few words", num_perm=16).shape == (16,)
    assert np.array_equal(minhash_signature("A FEW, words!"), minhash_signature("a few words"))
    with pytest.raises(ValueError, match="num_perm"):
        minhash_signature("text", num_perm=0)


def test_word_counts_below_the_shingle_size_still_compare():
    assert estimate_similarity(minhash_signature("Kabul"), minhash_signature("kabul.")) == 1.0
    assert estimate_similarity(minhash_signature("Kabul"), minhash_signature("Herat")) < 0.1


def test_a_text_without_words_has_no_buckets():
    signature = minhash_signature(" .,;  ")
    assert (signature == 0xFFFFFFFF).all()
    assert band_buckets(signature) == []


def test_syndicated_copy_is_a_near_duplicate_sharing_buckets():
    original, copy = minhash_signature(ghazni_article()), minhash_signature(syndicated_copy())
    similarity = estimate_similarity(original, copy)
    assert similarity >= NEAR_THRESHOLD
    shared = set(enumerate(band_buckets(original))) & set(enumerate(band_buckets(copy)))
    assert len(shared) >= 1
    assert near_duplicate_of(copy, {"ghazni": original}) == ("ghazni", similarity)


def test_a_different_article_on_the_same_topic_is_not():
    ghazni, herat = minhash_signature(ghazni_article()), minhash_signature(HERAT_ARTICLE)
    assert estimate_similarity(ghazni, herat) < 0.1
    assert not set(enumerate(band_buckets(ghazni))) & set(enumerate(band_buckets(herat)))
    assert near_duplicate_of(herat, {"ghazni": ghazni}) is None


def test_band_buckets_are_unsigned_64_bit_and_positional():
    signature = minhash_signature(ghazni_article())
    buckets = band_buckets(signature)
    assert len(buckets) == BANDS
    assert all(isinstance(b, int) and 0 <= b < 2**64 for b in buckets)
    assert len(set(buckets)) == BANDS  # band number is mixed in: equal bands in two places differ
    changed = signature.copy()
    changed[0] ^= 1  # first slot lives in band 0 only
    assert [a == b for a, b in zip(buckets, band_buckets(changed), strict=True)] == [False] + [
        True
    ] * (BANDS - 1)
    with pytest.raises(ValueError, match="cannot be cut into 3 bands"):
        band_buckets(signature, bands=3)


def test_estimate_similarity_counts_equal_slots_and_refuses_mismatches():
    a = np.arange(8, dtype=np.uint32)
    b = a.copy()
    b[:2] = 99
    assert estimate_similarity(a, b) == 0.75
    with pytest.raises(ValueError, match="shapes"):
        estimate_similarity(a, np.arange(4, dtype=np.uint32))


def test_near_duplicate_of_picks_the_best_then_the_smallest_id():
    base = np.arange(100, dtype=np.uint32)

    def like(equal: int) -> np.ndarray:
        other = base.copy()
        other[equal:] += 1000
        return other

    candidates = {"c": like(60), "b": like(80), "a": like(80), "d": like(30)}
    assert near_duplicate_of(base, candidates) == ("a", 0.8)
    assert near_duplicate_of(base, {"d": like(30)}) is None
    assert near_duplicate_of(base, {"d": like(30)}, threshold=0.3) == ("d", 0.3)
    assert near_duplicate_of(base, {}) is None
    with pytest.raises(ValueError, match="candidate short"):
        near_duplicate_of(base, {"short": base[:10]})
    from_duckdb = {"listed": [int(v) for v in base]}  # UINTEGER[] arrives as a list
    assert near_duplicate_of(base, from_duckdb) == ("listed", 1.0)


@pytest.mark.slow
def test_signatures_are_identical_in_another_process():
    script = (
        "import json, sys; from tasks.dedupe import minhash_signature, band_buckets; "
        "s = minhash_signature(sys.stdin.read()); "
        "print(json.dumps([s.tolist(), band_buckets(s)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    run = subprocess.run(
        [sys.executable, "-c", script],
        input=ghazni_article(),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    )
    signature, buckets = json.loads(run.stdout)
    here = minhash_signature(ghazni_article())
    assert signature == here.tolist()
    assert buckets == band_buckets(here)


def test_batch_fingerprints_equal_single_ones_across_chunks():
    words = ghazni_article().split()
    texts = ["", "Kabul", *(" ".join(words[i:]) for i in range(0, 300, 7)), HERAT_ARTICLE, ""]
    docs = [make_doc(f"https://example.com/{i}", t) for i, t in enumerate(texts)]
    assert sum(len(t.split()) for t in texts) > 2 * dedupe._CHUNK_SHINGLES
    batch = fingerprints(docs)
    for doc, fp in zip(docs, batch, strict=True):
        single = fingerprint(doc)
        assert np.array_equal(fp.signature, single.signature)
        assert fp.buckets == single.buckets
        assert np.array_equal(fp.signature, minhash_signature(doc.text))


def test_fingerprint_takes_identity_from_the_url_and_the_declared_canonical():
    doc = make_doc(
        "https://amp.example.com/news/ghazni/amp?utm_source=x",
        ghazni_article(),
        canonical="https://www.example.com/news/ghazni",
    )
    fp = fingerprint(doc)
    assert fp.url_key == "example.com/news/ghazni"
    assert fp.article_id == article_id("example.com/news/ghazni")
    assert fp.canonical_key == "example.com/news/ghazni"
    assert fp.text_hash == text_hash(ghazni_article())
    assert np.array_equal(fp.signature, minhash_signature(ghazni_article()))
    assert fp.buckets == band_buckets(fp.signature)
    assert fingerprint(make_doc("https://example.com/a", "text")).canonical_key is None
    relative = make_doc("https://example.com/news/a?page=2", "text", canonical="/news/a")
    assert fingerprint(relative).canonical_key == "example.com/news/a"
    home = make_doc("https://example.com/news/a", "text", canonical="https://example.com/")
    assert fingerprint(home).canonical_key is None  # a template pointing every page home


@pytest.mark.parametrize(
    "declared",
    [
        "https://example.com/index.html",  # the home page under another name
        "https://www.example.com/Default.aspx",
        "https://example.com/home/",
        "http://",  # an empty template variable: no host at all
        "https://{{ page.url }}",  # a template never filled in
        "about:blank",
    ],
)
def test_a_canonical_naming_no_article_groups_nothing(declared):
    fps = batch_of(
        ("https://example.com/news/ghazni", ghazni_article(), declared),
        ("https://example.com/news/herat", HERAT_ARTICLE, declared),
        ("https://other.example/world/herat", HERAT_ARTICLE[:400], declared),
    )
    assert [fp.canonical_key for fp in fps] == [None, None, None]
    assert group_batch(fps) == [None, None, None]


# --- grouping a batch -------------------------------------------------------------------------


def batch_of(*docs: tuple[str, str, str | None]) -> list:
    return fingerprints([make_doc(url, text, canonical=canon) for url, text, canon in docs])


def test_group_batch_links_each_kind_of_duplicate_to_the_first():
    fps = batch_of(
        ("https://a.example/ghazni", ghazni_article(), None),  # 0
        ("https://b.example/herat", HERAT_ARTICLE, None),  # 1
        ("https://c.example/copy", syndicated_copy(), None),  # 2 near 0
        ("https://d.example/same", ghazni_article().upper(), None),  # 3 exact 0
        (  # 4: declares 1 its canonical, a shorter text of it (under the near threshold)
            "https://e.example/x",
            HERAT_ARTICLE[:200] + " Other words entirely, nothing alike here.",
            "https://b.example/herat",
        ),
        ("http://www.b.example/herat/", "A re-fetch with new text.", None),  # 5 same article as 1
        ("https://f.example/herat", HERAT_ARTICLE.replace("Herat", "HERAT"), None),  # 6 exact 1
        (  # 7: declares 1 its canonical too, an unrelated text: a CMS's mistake, not one story
            "https://g.example/y",
            "Other words entirely, nothing alike here, about the weather in another country.",
            "https://b.example/herat",
        ),
    )
    assert group_batch(fps) == [None, None, 0, 0, 1, None, 1, None]
    kinds = [(m.kind, m.similarity) if m else None for m in match_batch(fps)]
    assert kinds[2][0] == "near" and kinds[2][1] >= NEAR_THRESHOLD
    assert kinds[3] == ("exact", 1.0)
    assert kinds[4] == ("canonical_url", None)


def test_group_batch_points_at_the_earliest_member_of_a_chain():
    fps = batch_of(
        ("https://a.example/1", ghazni_article(), None),
        ("https://b.example/2", ghazni_article(), "https://b.example/canonical"),  # exact 0
        ("https://c.example/3", syndicated_copy(), "https://b.example/canonical"),  # canon. of 1
        ("https://b.example/canonical", GHAZNI_PARAGRAPHS[0], None),  # of 1, a part of its text
    )
    assert group_batch(fps) == [None, 0, 0, 0]
    assert match_batch(fps)[2:] == [BatchMatch(0, "canonical_url", None)] * 2


def test_an_earlier_page_declaring_this_url_canonical_groups_them():
    fps = batch_of(
        ("https://amp-mirror.example/x", GHAZNI_PARAGRAPHS[1], "https://site.example/story"),
        ("https://site.example/story", ghazni_article(), None),
    )
    assert group_batch(fps) == [None, 0]
    assert match_batch(fps)[1].kind == "canonical_url"


def test_a_canonical_shared_with_an_unrelated_page_first_still_finds_its_story():
    """A CMS stamps one canonical on unrelated pages: the teaser is checked against every page
    sharing it, as the warehouse's match_canonical checks every stored one, so one run groups
    what three runs group (it was checked against the first page only, a story of its own)."""
    canonical = "https://site.example/real"
    fps = batch_of(
        ("https://site.example/p1", HERAT_ARTICLE, canonical),  # unrelated, the same canonical
        ("https://site.example/real", ghazni_article(), None),
        ("https://site.example/teaser", "\n".join(GHAZNI_PARAGRAPHS[:2]), canonical),
    )
    assert group_batch(fps) == [None, None, 1]
    assert match_batch(fps)[2] == BatchMatch(1, "canonical_url", None)


def test_group_batch_leaves_unrelated_and_repeated_urls_alone():
    fps = batch_of(
        ("https://a.example/ghazni", ghazni_article(), None),
        ("https://b.example/herat", HERAT_ARTICLE, None),
        ("https://a.example/ghazni?utm_source=rss", syndicated_copy(), None),
    )
    assert group_batch(fps) == [None, None, None]
    assert group_batch([]) == []


def test_a_batch_near_match_at_the_threshold_counts_and_a_tie_goes_to_the_earliest():
    """The last page is exactly as near (NEAR_THRESHOLD) to each of two unrelated earlier ones."""
    base = np.arange(NUM_PERM, dtype=np.uint32)
    half = NUM_PERM // 2
    first, second = base.copy(), base.copy()
    first[half:] += 1000  # agrees with the last page on the first half of the slots only
    second[:half] += 2000  # on the second half only

    def fp(name: str, signature: np.ndarray) -> Fingerprint:
        return Fingerprint(
            name, f"x.example/{name}", None, name, signature, band_buckets(signature)
        )

    fps = [fp("a", first), fp("b", second), fp("c", base)]
    assert estimate_similarity(first, second) == 0.0
    assert estimate_similarity(base, first) == estimate_similarity(base, second) == NEAR_THRESHOLD
    assert match_batch(fps) == [None, None, BatchMatch(0, "near", NEAR_THRESHOLD)]


def test_group_batch_uses_buckets_not_all_pairs(monkeypatch):
    compared: list[int] = []
    real = dedupe.estimate_similarity

    def counting(a, b):
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(dedupe, "estimate_similarity", counting)
    words = (ghazni_article() + " " + HERAT_ARTICLE).split()
    texts = [" ".join(words[i : i + 40]) for i in range(0, len(words) - 40, 40)]
    fps = batch_of(*((f"https://x.example/{i}", t, None) for i, t in enumerate(texts)))
    assert len(fps) >= 15
    assert group_batch(fps) == [None] * len(fps)
    assert len(compared) <= 2  # all pairs would be more than 100 comparisons


# --- the task ---------------------------------------------------------------------------------


def test_dedupe_batch_fingerprints_the_usable_documents_in_order():
    docs = [
        make_doc("https://a.example/1", ghazni_article()),
        make_doc("https://a.example/2", "", rejected="too_short"),
        make_doc("https://a.example/3", HERAT_ARTICLE),
    ]
    result = dedupe_batch.fn(docs)
    assert [fp.url_key for fp in result] == ["a.example/1", "a.example/3"]


@flow
def dedupe_flow() -> list[str]:
    """Three documents through the task inside a real flow run (built here: no parameters)."""
    docs = [
        make_doc("https://a.example/1", ghazni_article()),
        make_doc("https://c.example/2", syndicated_copy()),
        make_doc("https://b.example/2", "", rejected="no_text"),
    ]
    return [fp.article_id for fp in dedupe_batch(docs)]


@pytest.mark.slow
def test_dedupe_batch_runs_in_a_flow(prefect_harness, caplog):
    with caplog.at_level("INFO", logger="prefect"):
        ids = dedupe_flow()
    assert ids == [article_id("a.example/1"), article_id("c.example/2")]
    assert "3 documents, 1 rejected skipped, 2 fingerprinted" in caplog.text
    assert "1 near" in caplog.text


# --- speed ------------------------------------------------------------------------------------


def test_fingerprint_costs_a_few_milliseconds_for_800_words():
    words = (ghazni_article() + "\n" + HERAT_ARTICLE).split()
    text = " ".join((words * 3)[:800])
    doc = make_doc("https://example.com/long", text)
    fingerprint(doc)
    best = min(_timed(fingerprint, doc) for _ in range(5))
    assert best < 0.016, f"fingerprint took {best * 1000:.1f} ms (budget: 20% of ~80 ms)"


def _timed(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start
