"""Find reports that provincial capitals were captured, and running counts of them, in articles."""

from __future__ import annotations

import csv
import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pyarrow as pa
from prefect import get_run_logger, task

from tasks.event_rules import (
    BY_SURPRISE,
    CAPITAL_WORD,
    CARDINAL_COUNT,
    CLAUSE_BREAK,
    CLAUSE_START,
    CONFIRMS,
    COORDINATION,
    COUNT_CONTEXT,
    COUNT_DENOMINATOR,
    COUNT_FELL_THAT_DAY,
    COUNT_HINT,
    COUNT_INCREMENT,
    COUNT_RATE,
    COUNT_TAKEN_THAT_DAY,
    DAY_WORDS,
    DENIAL,
    DENIAL_AFTER,
    DISTRICTS,
    EARLIER_MONTH,
    FORECAST,
    GARRISON_LEAD,
    HEDGING_ASIDE,
    INTENT_BEFORE,
    KIND_PRECEDENCE,
    LOCATIVE_LEAD,
    LOCATIVE_PREPS,
    LONG_AGO,
    MONTHS,
    NEGATION,
    NOT_A_NEGATION,
    NOT_THE_CITY_AFTER,
    NOT_THE_CITY_BEFORE,
    NUMBER_WORDS,
    OFFICIAL_SOURCE,
    ORDINAL_COUNT,
    ORDINAL_WORDS,
    OTHER_OBJECT,
    PART_AFTER_PLACE,
    PART_OF_CITY,
    PAST_YEAR,
    PERSON_OF,
    POSSESSIVE_BEFORE,
    RULES,
    RULES_VERSION,
    SCOPE_BREAK,
    TALIBAN_ACTOR,
    TALIBAN_AGENT,
    TALIBAN_SOURCE,
    UNVERIFIED,
    WEEKDAYS,
    WIRE_DATELINE,
    Kind,
    Rule,
    Status,
)
from warehouse.summaries import pending_article_ids, read_article_texts, replace_article_events

GAZETTEER_DIR = Path(__file__).resolve().parents[1] / "warehouse" / "gazetteer"
DEFAULT_GAZETTEER = GAZETTEER_DIR / "afghanistan.csv"
# Bump when the rules below change meaning: every article is then read again.
MAX_EVIDENCE_CHARS = 1000

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Gen|Lt|Col|Maj|Capt|Sgt|Sen|Rep|Gov|St|Jr|No|U\.S|U\.N|U\.K|Jan|Feb|Mar|"
    r"Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|[A-Z])\.$"
)
_SEPARATOR = r"[\s\-‐‑–]?"
_WORD = re.compile(r"[\w’'-]+")


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A province and its capital, with the spellings the news uses for each."""

    province: str
    capital: str
    capital_kind: Literal["provincial", "national"]
    shares_name: bool
    capital_spellings: tuple[str, ...]
    province_spellings: tuple[str, ...]


@dataclass(frozen=True)
class Mention:
    """Where a sentence names a capital (directly, or as "the capital of <province>")."""

    start: int
    end: int
    text: str
    place: Place


@dataclass(frozen=True)
class Gazetteer:
    """The places one story is about, with the compiled patterns that find them in text."""

    places: tuple[Place, ...]
    digest: str
    names: re.Pattern[str]
    capitals_of: re.Pattern[str]
    by_name: dict[str, Place]
    by_province: dict[str, Place]

    def find_mentions(self, sentence: str) -> list[Mention]:
        """Every capital a sentence names, in order; "capital of X" and the "X" in it count once."""
        found = [
            Mention(m.start(), m.end(), m.group(0), self.by_province[_key(_province(m))])
            for m in (self.capitals_of.finditer(sentence) if CAPITAL_WORD.search(sentence) else ())
        ]
        for m in self.names.finditer(sentence):
            if not any(f.start <= m.start() < f.end for f in found):
                found.append(
                    Mention(m.start(), m.end(), m.group(0), self.by_name[_key(m.group(0))])
                )
        return sorted(found, key=lambda mention: mention.start)

    def place(self, capital: str) -> Place:
        """The place whose capital has this (canonical or variant) name."""
        return self.by_name[_key(capital)]

    def place_named(self, name: str) -> Place | None:
        """The place a person means by a capital's or a province's name, in any spelling the
        gazetteer knows (Shibirghan, Jowzjan): a province stands for its capital here, as it does
        not in a news sentence (Baghlan the town is not Pul-e Khumri)."""
        return self.by_name.get(_key(name)) or self.by_province.get(_key(name))

    def close_names(self, name: str) -> list[str]:
        """Capitals whose spellings are close to a name the gazetteer does not know."""
        spellings = {
            spelling: place.capital
            for place in self.places
            for spelling in (*place.capital_spellings, *place.province_spellings)
        }
        close = difflib.get_close_matches(name.title(), list(spellings), n=3, cutoff=0.8)
        return list(dict.fromkeys(spellings[spelling] for spelling in close))


def _province(match: re.Match[str]) -> str:
    return match.group("province") or match.group("province_first")


@dataclass(frozen=True)
class CaptureFinding:
    """One sentence's report about one capital."""

    capital: str
    province: str
    capital_kind: str
    status: Status
    attributed_to: str | None
    rule: str
    mention: str
    sentence_index: int
    event_date: date
    date_basis: str
    evidence: str


@dataclass(frozen=True)
class CountFinding:
    """A running count of capitals taken, as one sentence reports it."""

    count: int
    phrase: str
    kind: Literal["ordinal", "cardinal"]
    sentence_index: int
    evidence: str


@dataclass(frozen=True)
class ArticleText:
    """What the extractor reads of one article version."""

    article_id: str
    text_hash: str
    version: int
    title: str | None
    text: str
    published_on: date | None  # None: the page gave no date, so no day can be told
    cluster_id: str | None
    site_name: str


@dataclass(frozen=True)
class _Hit:
    """A rule matched a place in a sentence, before the status is decided."""

    rule: Rule
    trigger: re.Match[str]
    mention: Mention
    is_part: bool


# ---------------------------------------------------------------------------------------------
# Gazetteer
# ---------------------------------------------------------------------------------------------


def _key(name: str) -> str:
    """A spelling reduced to its letters, so Pul-e Khumri, Pule Khumri and pul e khumri meet (and
    Hérat and Herat: an accent is not dropped with its letter)."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"[^a-z]", "", bare.lower())


def _spelling_pattern(spelling: str) -> str:
    """A regex for one spelling: capitalised first letter, any case after, flexible hyphens."""
    tokens = [t for t in re.split(r"[\s\-‐‑–]+", spelling) if t]
    first, rest = tokens[0], tokens[1:]
    parts = [re.escape(first[0]) + (f"(?i:{re.escape(first[1:])})" if len(first) > 1 else "")]
    parts += [f"(?i:{re.escape(token)})" for token in rest]
    return _SEPARATOR.join(parts)


def _alternation(spellings: Iterable[str]) -> str:
    unique = sorted(set(spellings), key=lambda s: (-len(s), s))
    return "|".join(_spelling_pattern(s) for s in unique)


def _read_places(path: Path) -> list[Place]:
    """Rows of the gazetteer CSV as places; a malformed row is an error naming the file and row."""
    places = []
    with path.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            if row.get("capital_kind") not in ("provincial", "national"):
                raise ValueError(f"{path}:{line}: capital_kind must be provincial or national")
            places.append(
                Place(
                    province=row["province"].strip(),
                    capital=row["capital"].strip(),
                    capital_kind=row["capital_kind"],  # type: ignore[arg-type]
                    shares_name=row["shares_name"].strip().lower() == "true",
                    capital_spellings=tuple(s.strip() for s in row["capital_spellings"].split("|")),
                    province_spellings=tuple(
                        s.strip() for s in row["province_spellings"].split("|")
                    ),
                )
            )
    return places


def load_gazetteer(path: Path | str = DEFAULT_GAZETTEER) -> Gazetteer:
    """Read a gazetteer CSV (province, capital, kind, shares_name, spellings) and compile it.

    A province's name stands for its capital only where the two share the name (Ghazni, Kunduz…);
    elsewhere only "the capital of <province>" does, so Baghlan (the town) is never Pul-e Khumri.
    """
    path = Path(path)
    places = _read_places(path)
    by_name: dict[str, Place] = {}
    for place in places:
        spellings = place.capital_spellings + (
            place.province_spellings if place.shares_name else ()
        )
        for spelling in spellings:
            by_name[_key(spelling)] = place
    by_province = {_key(s): p for p in places for s in p.province_spellings}
    names = (
        _alternation(s for p in places for s in p.capital_spellings)
        + "|"
        + _alternation(s for p in places if p.shares_name for s in p.province_spellings)
    )
    provinces = _alternation(s for p in places for s in p.province_spellings)
    # "the capital of Helmand", "Helmand's capital", "the Helmand provincial capital"
    capitals_of = (
        rf"(?:(?:the\s+)?(?:provincial\s+)?capital\s+of\s+(?:the\s+)?(?:\w+ern\s+)?"
        rf"(?P<province>{provinces})(?:\s+province)?|(?:the\s+)?(?P<province_first>{provinces})"
        rf"(?:\s+province)?(?:['’]s?\s+(?:provincial\s+)?capital|\s+provincial\s+capital))(?![\w])"
    )
    return Gazetteer(
        places=tuple(places),
        digest=hashlib.sha1(path.read_bytes()).hexdigest()[:12],
        names=re.compile(rf"(?<![\w])(?=[A-Z])(?:{names})(?![\w]|-based)"),
        capitals_of=re.compile(capitals_of, re.I),
        by_name=by_name,
        by_province=by_province,
    )


def rules_version(gazetteer: Gazetteer) -> str:
    """The version stamp of an extraction: the rules and the gazetteer file they ran with."""
    return f"{RULES_VERSION}+{gazetteer.digest}"


# ---------------------------------------------------------------------------------------------
# Sentences and dates
# ---------------------------------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Sentences of a text: paragraphs split at sentence ends; abbreviations (U.S., Gen.) stay."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*", text):
        start = 0
        for boundary in _SENTENCE_END.finditer(paragraph):
            if _ABBREVIATION.search(paragraph[start : boundary.start()]):
                continue
            sentences.append(paragraph[start : boundary.start()].strip())
            start = boundary.end()
        sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


def _resolve_day(match: re.Match[str], published_on: date) -> date | None:
    """The date a day expression names, or None when it points after publication."""
    groups = match.groupdict()
    if groups["weekday"]:
        back = (published_on.weekday() - WEEKDAYS.index(groups["weekday"].lower())) % 7
        return published_on - timedelta(days=back)
    if groups["before2"]:
        return published_on - timedelta(days=2)
    if groups["before"]:
        return published_on - timedelta(days=1)
    if groups["same"]:
        return published_on
    if groups["ago"]:
        ago = groups["ago"].lower()
        return published_on - timedelta(days=int(ago) if ago.isdigit() else NUMBER_WORDS[ago])
    month = MONTHS[(groups["dm_month"] or groups["md_month"]).lower()]
    day = int(groups["dm"] or groups["md"])
    try:
        named = date(published_on.year, month, day)
    except ValueError:
        return None
    return named if named <= published_on else None


# A question asks whether a capital fell; a headline with a question at its end ("Taliban
# capture Sharana, Paktika capital, Kabul next?") reports what comes before it.
_QUESTION = re.compile(
    r"^\W*(?:has|have|had|did|does|do|is|are|was|were|will|would|could|can|should)\b[^.!]*\?"
    r"[\s\"'”’]*$",
    re.I,
)
# What parts a report's own day words from the reporting's: a clause start, "that", ";"
_REPORT_BOUNDARY = re.compile(rf"{CLAUSE_START.pattern}|\bthat\b|;", re.I)


def event_date(sentence: str, near: int, published_on: date) -> tuple[date, str]:
    """The date a sentence gives its event (the day words nearest `near` in its own clause,
    a date beating a weekday beside it), else publication day.

    Day words across a reporting verb date the report ("Officials said on Sunday that the
    Taliban had captured Mazar-i-Sharif on Saturday" is Saturday; it was Sunday, nearer).
    "On Sunday, Aug. 8" is the date's. A wire dateline ("KABUL, Aug 13 (Asia Wire) -") dates
    the report, so it is not read.
    """
    dateline = WIRE_DATELINE.match(sentence)
    if dateline:
        sentence = " " * dateline.end() + sentence[dateline.end() :]
    best: tuple[tuple[bool, int], date, str] | None = None
    for match in DAY_WORDS.finditer(sentence):
        resolved = _resolve_day(match, published_on)
        if resolved is None:
            continue
        lo, hi = sorted((near, match.start() if match.start() >= near else match.end()))
        across = bool(_REPORT_BOUNDARY.search(sentence[lo:hi]))
        distance = min(abs(match.start() - near), abs(match.end() - near))
        if match.group("dm") or match.group("md"):
            distance -= 20  # a date beside a weekday names the day the weekday only points at
        rank = (across, distance)
        if best is None or rank < best[0]:
            best = (rank, resolved, match.group(0))
    if best is None:
        return published_on, "published"
    return best[1], best[2]


def mentions_earlier_year(text: str, year: int) -> bool:
    """True when the text dates itself in an earlier year ("in 2015"): a past episode."""
    return any(int(m.group("year")) < year for m in PAST_YEAR.finditer(text))


def mentions_another_month(text: str, published_on: date) -> bool:
    """True when the text dates itself by a month alone that is not the publication's ("in
    August" in October, "last month"): a past episode no day can be given."""
    for match in EARLIER_MONTH.finditer(text):
        if match.group("last") or MONTHS[match.group("month").lower()] != published_on.month:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Matching rules to places
# ---------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _last_word(text: str) -> str:
    words = _words(text)
    return words[-1].lower() if words else ""


def _without_asides(gap: str) -> str:
    """A gap with its comma-enclosed asides removed ("Ghazni, a city near Kabul, fell")."""
    return re.sub(r",[^,]*,", " ", gap)


def _object_gap_ok(gap: str, rule: Rule) -> bool:
    """Can the words between a trigger and a place after it join them into one phrase?"""
    core = gap[:-2] if gap.endswith(", ") else gap
    if "," in core or CLAUSE_BREAK.search(core):
        return False
    return len(_words(gap)) <= rule.max_gap


def _subject_gap_ok(gap: str, rule: Rule) -> bool:
    """Can the words between a place and a trigger after it make the place the subject?"""
    core = _without_asides(gap)
    if CLAUSE_BREAK.search(core) or "," in core.strip().rstrip(","):
        return False
    return len(_words(core)) <= rule.max_gap


_COMMA_AND = re.compile(r"^\s*,\s*and\s+$", re.I)


def _in_a_list(sentence: str, mentions: Sequence[Mention], i: int) -> bool:
    """Whether mentions[i] follows another capital after a comma alone: a list of three or more
    ("Kunduz, Sar-e Pul, and Taloqan"), where a comma and "and" end the list."""
    return i > 0 and bool(re.match(r"^\s*,\s*$", sentence[mentions[i - 1].end : mentions[i].start]))


def _coordinated(sentence: str, mentions: Sequence[Mention], first: int, step: int) -> list[int]:
    """Indexes of mentions listed with mentions[first] ("Kunduz, Sar-e Pul and Taloqan")."""
    chain = [first]
    nxt = first + step
    while 0 <= nxt < len(mentions):
        a, b = (
            (mentions[chain[-1]], mentions[nxt])
            if step > 0
            else (mentions[nxt], mentions[chain[-1]])
        )
        gap = sentence[a.end : b.start]
        if not COORDINATION.match(gap):
            break
        if _COMMA_AND.match(gap) and not _in_a_list(sentence, mentions, min(chain[-1], nxt)):
            break  # "captured Herat, and Kandahar remained in government hands": two clauses
        chain.append(nxt)
        nxt += step
    return chain


def _is_part(sentence: str, mention: Mention, before: str) -> bool:
    """Does the text say a part of the city (its jail, airport, outskirts) rather than the city?"""
    return bool(PART_OF_CITY.search(before) or PART_AFTER_PLACE.match(sentence[mention.end :]))


def _names_something_else(sentence: str, mention: Mention) -> bool:
    """Is the city named only to say whose or which thing ("Kandahar's Spin Boldak district",
    "the Kabul-Kandahar highway")? Its jail or airport is a part of it (_is_part) instead."""
    after = sentence[mention.end :]
    return bool(
        (NOT_THE_CITY_AFTER.match(after) and not PART_AFTER_PLACE.match(after))
        or NOT_THE_CITY_BEFORE.search(sentence[: mention.start])
    )


def _hits_after(
    sentence: str, rule: Rule, trigger: re.Match[str], mentions: Sequence[Mention]
) -> list[_Hit]:
    """Places a trigger acts on: the first place after it, and those listed with it."""
    following = [i for i, m in enumerate(mentions) if m.start >= trigger.end()]
    if not following:
        return []
    first = following[0]
    gap = sentence[trigger.end() : mentions[first].start]
    if not _object_gap_ok(gap, rule) or DISTRICTS.search(gap) or PERSON_OF.search(gap):
        return []
    if _names_something_else(sentence, mentions[first]):
        return []
    before = _last_word(gap)
    part = _is_part(sentence, mentions[first], gap)
    if OTHER_OBJECT.search(gap) and not part:  # "seized the highway linking Herat": a road
        return []
    if rule.preps is not None and before not in rule.preps:
        return []
    if rule.preps is None and before in LOCATIVE_PREPS and not part:
        return []
    chain = _coordinated(sentence, mentions, first, +1)
    if rule.then is not None and not rule.then.match(sentence[mentions[chain[-1]].end :]):
        return []
    return [
        _Hit(rule, trigger, mentions[i], part or _is_part(sentence, mentions[i], "")) for i in chain
    ]


def _hits_before(
    sentence: str, rule: Rule, trigger: re.Match[str], mentions: Sequence[Mention]
) -> list[_Hit]:
    """Places that are the subject of a trigger: the nearest one before it (not 'from Kabul')."""
    nearest = True  # a relative clause's antecedent is the capital right before it, or none
    for i in range(len(mentions) - 1, -1, -1):
        mention = mentions[i]
        if mention.end > trigger.start():
            continue
        if rule.relative and not nearest:
            return []  # "arrived in Kabul from Kunduz, which fell a week ago": not Kabul
        nearest = False
        lead = sentence[max(0, mention.start - 40) : mention.start]
        located = _last_word(lead) in LOCATIVE_PREPS
        if rule.relative and _last_word(lead) == "in" and not PART_OF_CITY.search(lead):
            located = False  # "no resistance in Mazar-i-Sharif, which fell on Saturday": the city
        if _listed_where(sentence, mentions, i):
            continue  # "on the highway between Kabul and Kandahar, fell": the road's places
        if rule.garrison and GARRISON_LEAD.search(lead) and not TALIBAN_ACTOR.search(lead):
            located = False  # its garrison surrendered: the city
        if LOCATIVE_LEAD.search(lead) or (located and not PART_OF_CITY.search(lead)):
            continue
        gap = sentence[mention.end : trigger.start()]
        if not _subject_gap_ok(gap, rule) or DISTRICTS.search(gap + lead[-25:]):
            return []
        if PERSON_OF.search(lead):
            return []
        # "Kandahar's fall" is the city's; "Herat's warlord Ismail Khan was captured" is not.
        if re.sub(r"^['’]s\s*$", "", gap) and _names_something_else(sentence, mention):
            return []
        part = _is_part(sentence, mention, lead[-30:] if located else "")
        chain = _coordinated(sentence, mentions, i, -1)
        return [_Hit(rule, trigger, mentions[j], part) for j in chain]
    return []


def _clause_start(sentence: str, lo: int) -> int:
    """Where the clause holding `lo` begins: after the last comma, dash or quote before it, or
    after a word that starts a new clause ("Fears grew for Kabul as | Herat fell")."""
    head = sentence[:lo]
    cut = max(head.rfind(c) for c in (",", ";", ":", "–", "—", "(", "“", '"')) + 1
    # over the whole sentence: "when" starts a clause by what follows it, past `lo` too
    words = [m for m in CLAUSE_START.finditer(sentence, cut) if m.end() <= lo]
    return words[-1].end() if words else cut


def _clause(sentence: str, lo: int, hi: int) -> str:
    """The clause around a match: from where its clause begins to the match's end."""
    return sentence[_clause_start(sentence, lo) : hi]


def _span(hit: _Hit) -> tuple[int, int]:
    return min(hit.trigger.start(), hit.mention.start), max(hit.trigger.end(), hit.mention.end)


def _is_hedged(sentence: str, hit: _Hit) -> bool:
    """Is the match negated ("did not fall"), a forecast, fear or aim ("could fall", "threaten",
    "an offensive to retake"), or an idiom ("taken by surprise")?"""
    lo, hi = _span(hit)
    if hit.rule.relative:  # "Mazar-i-Sharif, which fell on Saturday": its own clause alone
        clause = sentence[hit.trigger.start() : hi]
    else:  # an aside's hedge is the aside's ("Maidan Shahr, close to Kabul, fell")
        clause = _clause(sentence, lo, hi)
        if not HEDGING_ASIDE.search(clause):  # "Herat, residents feared, had fallen": not
            clause = _without_asides(clause)
    clause = NOT_A_NEGATION.sub(" ", clause)
    return bool(
        NEGATION.search(clause)
        or FORECAST.search(clause)
        or INTENT_BEFORE.search(sentence[: hit.trigger.start()])
        or BY_SURPRISE.match(sentence[hi:])
    )


def _is_past_episode(sentence: str, hit: _Hit, published_on: date) -> bool:
    """Does the match's own clause, or a short opening phrase ("In 2015, …"), date it in an
    earlier year, or by a month alone that is not the publication's ("in August")? An aside
    about the past ("Kunduz, which they held in 2015, fell") does not."""
    lo, hi = _span(hit)
    start = _clause_start(sentence, lo)
    end = min((i for c in ",;:(—" if (i := sentence.find(c, hi)) >= 0), default=len(sentence))
    own = _without_asides(sentence[start:end] + ",")
    opening = sentence[: sentence.find(",")] if "," in sentence[:start] else ""
    if len(_words(opening)) > 5 or ";" in sentence[len(opening) : lo]:
        opening = ""  # "In May, the offensive began; they captured Zaranj on Aug. 6" is August
    text = own + " " + opening
    if hit.rule.relative:  # "Kabul, which fell to the Taliban in 1996,": the aside is the report
        end = min((i for c in ",;:(—" if (i := sentence.find(c, hit.trigger.end())) >= 0),
                  default=len(sentence))  # fmt: skip
        text += " " + sentence[hit.trigger.start() : end]
    return bool(
        mentions_earlier_year(text, published_on.year)
        or mentions_another_month(text, published_on)
        or LONG_AGO.search(text)
    )


def _by_the_taliban(sentence: str, hit: _Hit) -> bool:
    """Is a retake done by the Taliban ("The Taliban recaptured Kunduz", "Kunduz was recaptured
    by the Taliban")? Then it is a capture: the city was theirs before, not the government's."""
    if hit.rule.side == "after":
        subject = _clause(sentence, hit.trigger.start(), hit.trigger.start())
        return bool(TALIBAN_ACTOR.search(subject))
    return bool(TALIBAN_AGENT.match(sentence[hit.trigger.end() :]))


def find_hits(sentence: str, mentions: Sequence[Mention]) -> list[_Hit]:
    """Every rule match in a sentence tied to a place, negations and forecasts dropped."""
    hits: list[_Hit] = []
    for rule in RULES:
        for trigger in rule.trigger.finditer(sentence):
            finder = _hits_after if rule.side == "after" else _hits_before
            for hit in finder(sentence, rule, trigger, mentions):
                if _is_hedged(sentence, hit):
                    continue
                if rule.kind == "retaken" and _by_the_taliban(sentence, hit):
                    hit = replace(
                        hit, rule=replace(rule, name=f"{rule.name} (Taliban)", kind="capture")
                    )
                hits.append(hit)
    return hits


# ---------------------------------------------------------------------------------------------
# Deciding the status
# ---------------------------------------------------------------------------------------------


def attribute_capture(sentence: str) -> tuple[Status, str]:
    """Who says a capital was taken: the Taliban (claimed), officials or the outlet (confirmed).

    Unverified reports are claims; a Taliban claim that officials confirm is confirmed.
    """
    if UNVERIFIED.search(sentence):
        return "claimed", "unverified"
    taliban = bool(TALIBAN_SOURCE.search(sentence))
    official = bool(OFFICIAL_SOURCE.search(sentence))
    if taliban and not (official and CONFIRMS.search(sentence)):
        return "claimed", "taliban"
    if official:
        return "confirmed", "officials"
    return "confirmed", "outlet"


def _stretch(sentence: str, hit: _Hit, mentions: Sequence[Mention]) -> tuple[int, int]:
    """The part of a sentence about the hit's capital: from the other capital named before it to
    the one named after it, and only the hit's side of a "but", "while" or ";" between them
    ("Officials said Ghazni fell, but the Taliban claimed Herat"). Without another capital
    beyond it, a "but" joins cues about the same capital ("claimed …, but officials confirmed").
    """
    at = next(i for i, m in enumerate(mentions) if m.start == hit.mention.start)
    listed = {mentions[i].place for i in _coordinated(sentence, mentions, at, -1)}
    listed |= {mentions[i].place for i in _coordinated(sentence, mentions, at, +1)}
    # the capitals listed with it share its cues ("Officials denied that Herat and Kandahar had
    # fallen" denied Herat alone, and Kandahar was a capture)
    others = [m for m in mentions if m.place not in listed]
    lo, hi = _span(hit)
    before = max((m.end for m in others if m.end <= lo), default=None)
    after = min((m.start for m in others if m.start >= hi), default=None)
    start, end = before or 0, len(sentence) if after is None else after
    if before is not None:
        breaks = list(SCOPE_BREAK.finditer(sentence, before, lo))
        start = breaks[-1].end() if breaks else start
    if after is not None:
        first_break = SCOPE_BREAK.search(sentence, hi, after)
        end = first_break.start() if first_break else end
    return start, end


def is_denied(sentence: str, hit: _Hit, stretch: tuple[int, int]) -> bool:
    """Is this report denied: a denial in its stretch before it, or a claim denied after?

    Kept to the hit's stretch of the sentence (_stretch) so "seize X and Y as officials deny
    fall of Z" denies Z alone.
    """
    lo, hi = stretch
    end = max(hit.mention.end, hit.trigger.end())
    return bool(DENIAL.search(sentence[lo:end]) or DENIAL_AFTER.search(sentence[end:hi]))


def decide_status(
    sentence: str, kind: Kind, *, is_part: bool, denied: bool = False
) -> tuple[Status, str | None]:
    """A status from the kind of match and the sentence's cues (denial, attribution)."""
    if kind == "retaken":  # parts of a city won back: still fought over
        return ("contested", None) if is_part else ("retaken", None)
    if kind == "held" or (kind in ("capture", "contested") and denied):
        return "denied", "officials" if OFFICIAL_SOURCE.search(sentence) else None
    if kind == "contested" or is_part:
        return "contested", None
    return attribute_capture(sentence)


def _strongest(hits: Iterable[_Hit]) -> dict[Place, _Hit]:
    """One hit per capital: the strongest kind; the whole city beats a part of it."""
    best: dict[Place, _Hit] = {}
    for hit in hits:
        rank = (KIND_PRECEDENCE.index(hit.rule.kind), hit.is_part)
        current = best.get(hit.mention.place)
        if current is None or rank < (KIND_PRECEDENCE.index(current.rule.kind), current.is_part):
            best[hit.mention.place] = hit
    return best


# "the city" after a capital: that capital, where the sentence names no other before it
_THE_CITY = re.compile(r"\bthe\s+(?:city|provincial\s+capital)\b(?!\s+of\b)", re.I)


def _with_the_city(sentence: str, mentions: list[Mention]) -> list[Mention]:
    """The mentions, and "the city" as the capital named before it in the sentence when it names
    one alone: "…captured Kandahar, but officials insisted the city remained under government
    control" is Kandahar's denial (it stayed a claim, QA). With two capitals before it ("Ghazni,
    150 km from Kabul; the city fell"), "the city" is no one's."""
    if not mentions:
        return mentions
    found = list(mentions)
    if DISTRICTS.search(sentence) or re.search(r"\bborder\b", sentence, re.I):
        return found  # "Khanabad district, outside Kunduz, …the town fell": not the capital
    for match in _THE_CITY.finditer(sentence, mentions[0].end):
        before = [m for m in mentions if m.end <= match.start()]
        landmark = any(_is_landmark(sentence, m) for m in before)
        if (
            len({m.place for m in before}) == 1
            and not landmark
            and not any(m.start <= match.start() < m.end for m in mentions)
        ):
            place = before[0].place
            found.append(Mention(match.start(), match.end(), match.group(0), place))
    return sorted(found, key=lambda mention: mention.start)


# Words before a capital named to place something else by it
_LANDMARK_PREPS = frozenset(
    {"near", "from", "outside", "towards", "toward", "between", "beyond", "via", "across"}
)


def _is_landmark(sentence: str, mention: Mention) -> bool:
    """Whether a capital is named only to place something else ("near Kandahar", "100 km from
    Kabul", "south of Herat")."""
    lead = sentence[max(0, mention.start - 40) : mention.start]
    return _last_word(lead) in _LANDMARK_PREPS or bool(LOCATIVE_LEAD.search(lead))


def _listed_where(sentence: str, mentions: Sequence[Mention], i: int) -> bool:
    """Whether mentions[i] is listed with a capital named only to place something ("on the
    highway between Kabul and Kandahar"): the subject is further back."""
    chain = _coordinated(sentence, mentions, i, -1)
    first = mentions[chain[-1]]
    lead = sentence[max(0, first.start - 40) : first.start]
    return _last_word(lead) in _LANDMARK_PREPS or bool(LOCATIVE_LEAD.search(lead))


def extract_sentence_events(
    sentence: str, index: int, published_on: date, gazetteer: Gazetteer
) -> list[CaptureFinding]:
    """The capture reports in one sentence, one per capital it is about."""
    mentions = _with_the_city(sentence, gazetteer.find_mentions(sentence))
    if not mentions:
        return []
    asked = bool(_QUESTION.match(sentence))  # "Has Kandahar fallen?": a yes/no question
    hits = [
        h
        for h in find_hits(sentence, mentions)
        if not _is_past_episode(sentence, h, published_on)
        and not (asked and _clause_start(sentence, _span(h)[0]) == 0)
    ]  # a question's own clause asks; "Is Kabul next after the Taliban took Kandahar?" reports
    findings = []
    # a capital said to be held as well as taken: the capture is denied ("…captured Kandahar,
    # but officials insisted the city remained under government control")
    held = {h.mention.place for h in hits if h.rule.kind == "held" and not h.is_part}
    for place, hit in _strongest(hits).items():
        lo, hi = _stretch(sentence, hit, mentions)
        status, source = decide_status(
            sentence[lo:hi],
            hit.rule.kind,
            is_part=hit.is_part,
            denied=is_denied(sentence, hit, (lo, hi)) or (place in held and not hit.is_part),
        )
        when, basis = event_date(sentence, hit.trigger.start(), published_on)
        findings.append(
            CaptureFinding(
                capital=place.capital,
                province=place.province,
                capital_kind=place.capital_kind,
                status=status,
                attributed_to=source,
                rule=hit.rule.name,
                mention=hit.mention.text,
                sentence_index=index,
                event_date=when,
                date_basis=basis,
                evidence=sentence[:MAX_EVIDENCE_CHARS],
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# Running counts
# ---------------------------------------------------------------------------------------------


def _number(token: str) -> int:
    token = token.lower()
    if token[:1].isdigit():
        return int(re.match(r"\d+", token).group(0))  # type: ignore[union-attr]
    return NUMBER_WORDS.get(token) or ORDINAL_WORDS[token]


def _count_is_reported(sentence: str, match: re.Match[str], kind: str) -> bool:
    """A count reports capitals taken so far: capture words near it, no forecast, no daily rate."""
    clause = NOT_A_NEGATION.sub(" ", _clause(sentence, match.start(), match.end()))
    after = sentence[match.end() : match.end() + 80]
    if not COUNT_CONTEXT.search(sentence) or COUNT_RATE.search(clause + after):
        return False
    if kind == "cardinal" and COUNT_FELL_THAT_DAY.match(after) and DAY_WORDS.search(sentence):
        return False
    if (
        kind == "cardinal"
        and COUNT_TAKEN_THAT_DAY.search(sentence[: match.start()])
        and DAY_WORDS.search(after[:40])
    ):
        return False
    return not (NEGATION.search(clause) or FORECAST.search(clause))


def extract_sentence_counts(sentence: str, index: int, total: int) -> list[CountFinding]:
    """Running counts in one sentence ("the 10th provincial capital", "nine of 34")."""
    found: list[CountFinding] = []
    if not COUNT_HINT.search(sentence):
        return found
    for kind, pattern in (("ordinal", ORDINAL_COUNT), ("cardinal", CARDINAL_COUNT)):
        for match in pattern.finditer(sentence):
            token = match.group("n") if match.groupdict().get("n") else match.group("m")
            if kind == "cardinal" and COUNT_DENOMINATOR.search(sentence[: match.start()]):
                continue
            if match.groupdict().get("adj") and COUNT_INCREMENT.match(match.group("adj")):
                continue
            if kind == "ordinal" and POSSESSIVE_BEFORE.search(sentence[: match.start()]):
                continue
            count = _number(token)
            if not 0 < count < total or not _count_is_reported(sentence, match, kind):
                continue
            found.append(
                CountFinding(count, match.group(0), kind, index, sentence[:MAX_EVIDENCE_CHARS])
            )  # type: ignore[arg-type]
    return found


# ---------------------------------------------------------------------------------------------
# Articles and batches
# ---------------------------------------------------------------------------------------------


def article_sentences(title: str | None, text: str) -> list[str]:
    """The title, then the text's sentences, each distinct sentence once (titles often repeat)."""
    seen: set[str] = set()
    unique = []
    for sentence in split_sentences(f"{title or ''}\n{text}"):
        key = " ".join(sentence.split()).lower()
        if key not in seen:
            seen.add(key)
            unique.append(sentence)
    return unique


def extract_article(
    article: ArticleText, gazetteer: Gazetteer
) -> tuple[list[CaptureFinding], list[CountFinding]]:
    """All capture reports and running counts in one article version; none from an undated one,
    whose "on Sunday" could be any Sunday (its fetch day may be years after it was written)."""
    if article.published_on is None:
        return [], []
    total = len(gazetteer.places)
    events: list[CaptureFinding] = []
    counts: list[CountFinding] = []
    for index, sentence in enumerate(article_sentences(article.title, article.text)):
        events.extend(extract_sentence_events(sentence, index, article.published_on, gazetteer))
        counts.extend(extract_sentence_counts(sentence, index, total))
    return (date_headlines_from_body(events) if article.title else events), counts


def date_headlines_from_body(findings: list[CaptureFinding]) -> list[CaptureFinding]:
    """A headline has no day words ("Aybak falls"): give its reports the day the body gives
    the same capital changing hands the same way ("took control of Aybak on Monday"; a retake
    headline, the body's retake, not the capture before it), if it gives one."""

    def change(status: str) -> str:
        return "retaken" if status == "retaken" else "taken"

    body_days: dict[tuple[str, str], CaptureFinding] = {}
    for f in findings:
        changed = f.status in ("confirmed", "claimed", "retaken")  # not the day a siege began
        if not changed or f.sentence_index == 0 or f.date_basis == "published":
            continue
        key = (f.capital, change(f.status))
        if key not in body_days or f.event_date < body_days[key].event_date:
            body_days[key] = f
    dated = []
    for f in findings:
        body = body_days.get((f.capital, change(f.status)))
        if f.sentence_index == 0 and f.date_basis == "published" and body:
            f = replace(f, event_date=body.event_date, date_basis=f"body: {body.date_basis}")
        dated.append(f)
    return dated


EXTRACTION_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("text_hash", pa.string()),
        ("version", pa.int32()),
        ("rules_version", pa.string()),
        ("sentences", pa.int32()),
        ("events", pa.int32()),
        ("counts", pa.int32()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("text_hash", pa.string()),
        ("sentence_index", pa.int32()),
        ("capital", pa.string()),
        ("province", pa.string()),
        ("capital_kind", pa.string()),
        ("status", pa.string()),
        ("attributed_to", pa.string()),
        ("rule", pa.string()),
        ("mention", pa.string()),
        ("event_date", pa.date32()),
        ("date_basis", pa.string()),
        ("published_on", pa.date32()),
        ("cluster_id", pa.string()),
        ("site_name", pa.string()),
        ("evidence", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)
COUNT_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("text_hash", pa.string()),
        ("sentence_index", pa.int32()),
        ("count", pa.int32()),
        ("phrase", pa.string()),
        ("kind", pa.string()),
        ("published_on", pa.date32()),
        ("cluster_id", pa.string()),
        ("site_name", pa.string()),
        ("evidence", pa.string()),
        ("extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class ExtractedBatch:
    """A batch's extraction as Arrow tables, ready for one bulk replace in the warehouse."""

    extractions: pa.Table
    events: pa.Table
    counts: pa.Table


@dataclass(frozen=True)
class ExtractionStats:
    """How much one extraction run read and found, and the earliest day it changed: the daily
    tables from that day on need recomputing (their running totals include it)."""

    articles: int = 0
    events: int = 0
    counts: int = 0
    earliest_day: date | None = None

    def __add__(self, other: ExtractionStats) -> ExtractionStats:
        days = [d for d in (self.earliest_day, other.earliest_day) if d is not None]
        return ExtractionStats(
            self.articles + other.articles,
            self.events + other.events,
            self.counts + other.counts,
            min(days, default=None),
        )


def _article_columns(article: ArticleText, extracted_at: datetime) -> dict[str, object]:
    return {
        "article_id": article.article_id,
        "text_hash": article.text_hash,
        "published_on": article.published_on,
        "cluster_id": article.cluster_id,
        "site_name": article.site_name,
        "extracted_at": extracted_at,
    }


def extract_batch(
    articles: Sequence[ArticleText], gazetteer: Gazetteer, extracted_at: datetime
) -> ExtractedBatch:
    """Extract every article of a batch into three Arrow tables (records, events, counts)."""
    stamp = rules_version(gazetteer)
    records, events, counts = [], [], []
    for article in articles:
        found, reported = extract_article(article, gazetteer)
        shared = _article_columns(article, extracted_at)
        events += [{**shared, **_event_row(f)} for f in found]
        counts += [{**shared, **_count_row(c)} for c in reported]
        records.append(
            {
                "article_id": article.article_id,
                "text_hash": article.text_hash,
                "version": article.version,
                "rules_version": stamp,
                "sentences": len(article_sentences(article.title, article.text)),
                "events": len(found),
                "counts": len(reported),
                "extracted_at": extracted_at,
            }
        )
    return ExtractedBatch(
        extractions=pa.Table.from_pylist(records, schema=EXTRACTION_SCHEMA),
        events=pa.Table.from_pylist(events, schema=EVENT_SCHEMA),
        counts=pa.Table.from_pylist(counts, schema=COUNT_SCHEMA),
    )


def _event_row(finding: CaptureFinding) -> dict[str, object]:
    return {
        "sentence_index": finding.sentence_index,
        "capital": finding.capital,
        "province": finding.province,
        "capital_kind": finding.capital_kind,
        "status": finding.status,
        "attributed_to": finding.attributed_to,
        "rule": finding.rule,
        "mention": finding.mention,
        "event_date": finding.event_date,
        "date_basis": finding.date_basis,
        "evidence": finding.evidence,
    }


def _count_row(finding: CountFinding) -> dict[str, object]:
    return {
        "sentence_index": finding.sentence_index,
        "count": finding.count,
        "phrase": finding.phrase,
        "kind": finding.kind,
        "evidence": finding.evidence,
    }


def extract_events(
    db: str, article_ids: Sequence[str], gazetteer: Gazetteer | None = None
) -> ExtractionStats:
    """Read some articles, extract their events and counts, and replace theirs in the warehouse."""
    gazetteer = gazetteer or load_gazetteer()
    articles = [ArticleText(**row) for row in read_article_texts(db, article_ids)]
    batch = extract_batch(articles, gazetteer, datetime.now(UTC))
    replaced_from = replace_article_events(db, batch.extractions, batch.events, batch.counts)
    days = [a.published_on for a in articles if a.published_on is not None]
    days += batch.events.column("event_date").to_pylist()
    if replaced_from is not None:
        days.append(replaced_from)
    return ExtractionStats(
        len(articles), batch.events.num_rows, batch.counts.num_rows, min(days, default=None)
    )


def pending_articles(db: str, gazetteer: Gazetteer | None = None) -> list[str]:
    """Ids of new and changed articles (or all, when the rules or gazetteer changed)."""
    return pending_article_ids(db, rules_version(gazetteer or load_gazetteer()))


@task(name="find_pending_articles")
def find_pending_articles(db: str) -> list[str]:
    """Task: the articles whose current version has not been read by the current rules."""
    ids = pending_articles(db)
    get_run_logger().info("%d new or changed articles to read for capture events", len(ids))
    return ids


@task(name="extract_events_batch")
def extract_events_batch(db: str, article_ids: list[str]) -> ExtractionStats:
    """Task: extract one batch of articles and store its events, counts and records."""
    stats = extract_events(db, article_ids)
    get_run_logger().info(
        "read %d articles: %d capture events, %d running counts",
        stats.articles,
        stats.events,
        stats.counts,
    )
    return stats
