"""The capture-event rules as data: named trigger patterns, cue lists, count and date patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RULES_VERSION = "capture-rules-6"

Status = Literal["confirmed", "claimed", "contested", "denied", "retaken"]
Kind = Literal["capture", "contested", "retaken", "held"]
Side = Literal["after", "before"]
# Within one sentence the strongest kind of match wins.
KIND_PRECEDENCE: tuple[Kind, ...] = ("retaken", "capture", "held", "contested")

# ---------------------------------------------------------------------------------------------
# The event rules: one place, as named patterns. A rule's trigger is found in a sentence, then
# the place it applies to is looked for on one side of it (the object after an active verb, the
# subject before an intransitive or passive one), at most `max_gap` words away.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One trigger phrase, what kind of report it makes, and where its place stands."""

    name: str
    kind: Kind
    trigger: re.Pattern[str]
    side: Side
    max_gap: int = 6
    preps: frozenset[str] | None = None  # the word right before the place must be one of these
    then: re.Pattern[str] | None = None  # text that must follow the place
    garrison: bool = False  # "forces in X surrendered": X, after its garrison, is the subject
    relative: bool = False  # "X, which fell on Friday": its hedges are in the relative clause


def _rule(name: str, kind: Kind, trigger: str, side: Side, **options: object) -> Rule:
    return Rule(name, kind, re.compile(trigger, re.I), side, **options)  # type: ignore[arg-type]


_NEAR = frozenset({"in", "on", "for", "around", "inside", "into", "near", "outside", "at", "of"})
_TALIBAN_HANDS = (
    r"(?:(?:the\s+)?(?:Taliban|militants|insurgents|group|militant\s+group)(?:['’]s?)?\s+hands|"
    r"the\s+hands\s+of\s+the\s+(?:Taliban|militants|insurgents))"
)
_GOVERNMENT_HANDS = (
    r"(?:the\s+)?(?:control\s+of\s+(?:the\s+)?(?:government|Afghan(?:\s+security)?\s+forces|"
    r"security\s+forces)|government(?:['’]s)?\s+(?:control|hands)|"
    r"(?:Afghan|security|government)\s+forces['’]?\s+control)"
)

CAPTURE_RULES: tuple[Rule, ...] = (
    _rule("captured", "capture", r"\bcaptur(?:e|es|ed|ing)\b(?!\s+of\b)", "after"),
    _rule("seized", "capture", r"\bseiz(?:e|es|ed|ing)\b(?!\s+control)", "after"),
    _rule(
        "took control of",
        "capture",
        r"\b(?:took|take|takes|taking|taken|gained?|gains|seiz(?:ed|es?)|wrested|assumed|"
        r"establish(?:ed)?)\s+(?:full\s+|complete\s+|total\s+)?control\s+(?:of|over)\b",
        "after",
    ),
    _rule("took over", "capture", r"\b(?:took|take|takes|taking|taken)\s+over\b", "after"),
    _rule(
        "took",
        "capture",
        r"\b(?:took|takes|take|taken)\b(?!\s+(?:over|control|part|place|by))",
        "after",
    ),
    _rule("overran", "capture", r"\boverr(?:an|un|uns|unning)\b", "after"),
    _rule("conquered", "capture", r"\bconquer(?:ed|s|ing)?\b", "after"),
    _rule(
        "lost", "capture", r"\b(?:lost|loses|lose)\b(?!\s+(?:control|ground))", "after", max_gap=3
    ),
    _rule("handed over", "capture", r"\bhand(?:ed|s|ing)?\s+over\b", "after"),
    _rule("surrendered", "capture", r"\bsurrender(?:ed|s)?\b(?!\s+to\b)", "after", max_gap=3),
    _rule(
        "entered and took",
        "capture",
        r"\b(?:entered|enters|entering|swept\s+into|rolled\s+into|marched\s+into)\b",
        "after",
        max_gap=4,
        then=re.compile(
            r"^(?:\s+city)?(?:\s+[\w’']+){0,3}?,?\s+and\s+(?:\w+\s+){0,2}?"
            r"(?:took|seized|captured|raised|hoisted)\b",
            re.I,
        ),
    ),
    _rule(
        "the fall of",
        "capture",
        r"\b(?:fall|capture|seizure|loss|takeover|take-over|surrender|handover|conquest|collapse)"
        r"\s+of\b",
        "after",
        max_gap=4,
    ),
    _rule(
        "fell",
        "capture",
        r"\bf(?:ell|allen|alls|all|alling)\b(?!\s+(?:of|back|silent|apart))",
        "before",
        max_gap=10,
    ),
    _rule(
        "was captured",
        "capture",
        r"\b(?:was|were|is|are|has\s+been|have\s+been|had\s+been|been|being|got)\s+(?:\w+\s+)?"
        r"(?:captured|seized|taken|overrun|overran|conquered|lost|handed\s+over|surrendered)\b",
        "before",
        max_gap=10,
    ),
    _rule(
        "came under Taliban control",
        "capture",
        r"\b(?:came|comes|come|coming|is|was|are|were|now|fell|has\s+fallen)\s+(?:now\s+)?"
        r"(?:in(?:to)?\s+" + _TALIBAN_HANDS + r"|under\s+(?:full\s+|complete\s+)?"
        r"(?:the\s+)?(?:control\s+of\s+the\s+(?:Taliban|militants|insurgents)|Taliban\s+control))",
        "before",
        max_gap=10,
    ),
    _rule(
        "surrendered to",
        "capture",
        r"\bsurrender(?:ed|s)?\s+to\b",
        "before",
        max_gap=8,
        garrison=True,
    ),
    _rule(
        "which the Taliban captured",  # "Mazar-i-Sharif, which the Taliban captured on Wednesday"
        "capture",
        r"\b(?:which|that)\s+(?:the\s+)?(?:Taliban|militants|insurgents)\s+(?:had\s+|have\s+|"
        r"has\s+)?(?:captured|seized|took|overran|conquered)\b",
        "before",
        max_gap=2,
        relative=True,
    ),
    _rule(
        "which fell",  # "Zaranj, which fell on Friday, was the first"
        "capture",
        r"\b(?:which|that)\s+(?:had\s+|has\s+)?(?:fell|fallen|(?:was|were|had\s+been|has\s+been)\s+"
        r"(?:captured|seized|taken|overrun|handed\s+over))\b",
        "before",
        max_gap=2,
        relative=True,
    ),
    _rule(
        "the Taliban control",
        "capture",
        r"\b(?:Taliban|militants|insurgents)\s+(?:now\s+)?(?:control|controls|controlled|hold|holds)\b",
        "after",
        max_gap=2,
    ),
)

CONTESTED_RULES: tuple[Rule, ...] = (
    _rule(
        "fighting in",
        "contested",
        r"\b(?:fighting|fights?|fought|clash(?:es|ed)?|battles?|battled|battling|assaults?|"
        r"attacks?|offensive|advances?|advanced|advancing|push(?:ed|ing)?|gains|clos(?:ing|ed|es)"
        r"\s+in|converg(?:ed|ing)|shelling|siege|gunfire|raids?|pressed|encroach(?:ed|ing))\b",
        "after",
        max_gap=7,
        preps=_NEAR,
    ),
    _rule(
        "besieged",
        "contested",
        r"\b(?:besieg(?:ed|ing|es?)|surround(?:ed|ing|s)?|encircl(?:ed|ing|es?)|storm(?:ed|ing|s)?|"
        r"enter(?:ed|ing|s)?|infiltrat(?:ed|ing|es?)|attack(?:ed|ing)|shell(?:ed|ing)|"
        r"reach(?:ed|ing|es)?|laid\s+siege\s+to|lay\s+siege\s+to)\b",
        "after",
        max_gap=4,
    ),
    _rule(
        "under siege",
        "contested",
        r"\b(?:is|was|were|are|remains?|remained|came|come|has\s+been|had\s+been)\s+"
        r"(?:now\s+|still\s+|largely\s+)?(?:under\s+(?:siege|attack|heavy\s+attack|pressure|fire)|"
        r"besieged|surrounded|encircled|cut\s+off)\b",
        "before",
        max_gap=8,
    ),
)

RETAKEN_RULES: tuple[Rule, ...] = (
    _rule(
        "retook",
        "retaken",
        r"\b(?:retook|retake|retakes|retaken|retaking|recaptur(?:ed|e|es|ing)|reclaim(?:ed|s)?|"
        r"liberat(?:ed|es?)|won\s+back|regain(?:ed|s)?(?:\s+control\s+of)?|"
        r"(?:drove|pushed|drive|push)\s+(?:the\s+)?(?:Taliban|militants|insurgents)\s+out\s+of)\b",
        "after",
        max_gap=5,
    ),
    _rule(
        "was retaken",
        "retaken",
        r"\b(?:was|were|has\s+been|had\s+been|is)\s+(?:\w+\s+)?(?:retaken|recaptured|liberated)\b"
        r"|\bback\s+(?:in|under|to)\s+government\s+(?:control|hands)\b",
        "before",
        max_gap=8,
    ),
)

HELD_RULES: tuple[Rule, ...] = (
    _rule(
        "remains in government hands",
        "held",
        r"\b(?:remains?|remained|is\s+still|was\s+still|still|is|was)\s+(?:firmly\s+|fully\s+|"
        r"securely\s+)?(?:in|under)\s+" + _GOVERNMENT_HANDS,
        "before",
        max_gap=6,
    ),
)

RULES: tuple[Rule, ...] = CAPTURE_RULES + CONTESTED_RULES + RETAKEN_RULES + HELD_RULES

# Words that end a clause: a place is never looked for across them.
CLAUSE_BREAK = re.compile(
    r"[;:()\[\]—]|\s[–-]\s|\b(?:as|while|but|after|before|when|whereas|although|though|said|says|"
    r"told|according|because|since|until|then)\b",
    re.I,
)
# Words after which a new clause begins: hedges and actors before them are another clause's
# ("Fears grew for Kabul as Herat fell", "Residents who can still reach it said the Taliban took
# Ghazni"). Not "before", "until" or "when": what follows them may not have happened yet.
CLAUSE_START = re.compile(
    r"\b(?:as(?!\s+(?:soon|long|well|far|early|late|many|much|if)\b)|while|but|after|whereas|"
    r"although|though|said|says|told|because|"
    # "when" before a past event ("no resistance when the Taliban took Jalalabad"), not before
    # one to come ("when Kabul falls")
    r"when(?=\s+(?:[\w’'-]+\s+){0,4}?(?:took|captured|seized|fell|overran|entered|was|were)\b))\b",
    re.I,
)
# What parts a sentence's reports about different capitals (_stretch in tasks/events.py).
SCOPE_BREAK = re.compile(r";|\b(?:but|while|whereas|meanwhile)\b", re.I)
# A place right after one of these is where something happened, not what was taken.
LOCATIVE_PREPS = frozenset(
    {
        "in",
        "at",
        "near",
        "from",
        "to",
        "towards",
        "toward",
        "outside",
        "into",
        "inside",
        "around",
        "on",
        "beyond",
        "between",
        "via",
        "through",
        "across",
        "within",
    }
)
# "Government forces in Sharana surrendered to the Taliban": the city's garrison, the city.
GARRISON_LEAD = re.compile(
    r"\b(?:forces|troops|soldiers|garrison|defenders|police|officials|commanders?)\s+in\s*$", re.I
)
# "70 km south of Kabul", "north of Kunduz": a place named only to locate another one.
LOCATIVE_LEAD = re.compile(
    r"\b(?:km|kms|kilometres?|kilometers?|miles|north|south|east|west|north-?east|north-?west|"
    r"south-?east|south-?west|road|highway)\s+(?:of|from|to)\s*$",
    re.I,
)
# Between a verb and a place, words that make something else its object: a road "linking"
# two cities, soldiers "fleeing" one, a convoy "bound for" one, a governor "who had fled" one
# (QA: "The Taliban seized the main highway linking Herat and Kandahar" took both cities).
OTHER_OBJECT = re.compile(
    r"\b(?:linking|links|linked|connecting|connects|connected|leading|fleeing|fled|bound|heading|"
    r"headed|supplies|supplying|who|whom|which|that|imagination|attention|hearts?|minds?)\b",
    re.I,
)
# Taking one of these is fighting for the city, not the city.
PART_OF_CITY = re.compile(
    r"\b(?:jail|jails|prison|prisons|police\s+(?:headquarters|HQ|station|compound|chief['’]s\s+"
    r"office)|headquarters|HQ|airport|air\s?base|(?:army\s+|military\s+)?bases?|garrison|outposts?|"
    r"checkpoints?|governor['’]?s?\s+(?:office|compound|house|residence)|compound|outskirts|"
    r"suburbs?|parts?\s+of|areas?\s+of|neighbou?rhoods?|gates?|edges?\s+of|bazaar|square|"
    r"most\s+of|much\s+of|half\s+of|cent(?:re|er)\s+of|city\s+cent(?:re|er))\b",
    re.I,
)
PART_AFTER_PLACE = re.compile(
    r"^(?:['’]s)?\s+(?:(?:main|central|city|international|provincial|military|old|new)\s+)?"
    r"(?:jail|prison|police|airport|air\s?base|base|garrison|governor|outskirts|suburbs?|gates?|"
    r"cent(?:re|er)|bazaar|square|neighbou?rhoods?|streets?)\b",
    re.I,
)
DISTRICTS = re.compile(r"\bdistricts?\b", re.I)
# A place named only to say whose or which thing: "Kandahar's Spin Boldak district", "the
# Kabul-Kandahar highway", "the Kunduz road". (Its jail or airport is PART_AFTER_PLACE.)
NOT_THE_CITY_AFTER = re.compile(
    r"^(?:\s+province)?['’]s\s|^-\s?[A-Z]|^(?:\s+province)?\s+(?:highway|road|route|districts?|"
    r"government|administration|regime)\b"
)
NOT_THE_CITY_BEFORE = re.compile(r"[A-Za-z]-\s?$")
# "the former governor of Herat", "the American University of Kabul": a person or an
# institution of the city is taken (or handed over), not the city.
PERSON_OF = re.compile(
    r"\b(?:governor|commander|warlord|chief|mayor|leader|head|spokes(?:man|woman|person)|"
    r"officials?|residents?|people|elders?|lawmakers?|MPs?|representatives?|son|brother|"
    r"universit(?:y|ies)|college|institute|academy|school|bank|museum|embassy|consulate|"
    r"hospital|library|stadium)\s+of\s*$",
    re.I,
)
# "a counteroffensive to retake Lashkar Gah", "hope to recapture Kunduz": an aim, not an event.
# ("The latest city to fall" is one.)
INTENT_BEFORE = re.compile(
    r"\b(?:hop(?:e|es|ed|ing)|want(?:s|ed|ing)?|intend(?:s|ed|ing)?|order(?:s|ed|ing)?|"
    r"(?:counter-?)?offensives?|operations?|efforts?|campaigns?|push(?:es|ed|ing)?|bids?|"
    r"struggl(?:e|es|ed|ing)|fight(?:s|ing)?|battl(?:e|es|ed|ing)|mov(?:e|es|ed|ing)|sen[dt]|"
    r"sending|deploy(?:s|ed|ing)?|reinforcements|mobili[sz](?:e|es|ed|ing)|rush(?:ed|ing)?|"
    r"determined|pledg(?:e|es|ed|ing)|promis(?:e|es|ed|ing)|need(?:s|ed)?|urg(?:e|es|ed|ing))"
    r"\s+(?:[\w’'-]+\s+){0,3}?to\s+$",
    re.I,
)
# "Kabul was taken by surprise", "took Kabul by surprise".
BY_SURPRISE = re.compile(r"^\s+by\s+surprise\b", re.I)
# Who retakes a city: the Taliban "recapturing" Kunduz (theirs in 2015) are capturing it.
TALIBAN_ACTOR = re.compile(r"\b(?:Taliban|militants|insurgents)\b", re.I)
TALIBAN_AGENT = re.compile(r"^\s+by\s+(?:the\s+)?(?:Taliban|militants|insurgents)\b", re.I)
COORDINATION = re.compile(
    r"^\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*,?\s*as\s+well\s+as\s+|\s+then\s+)"
    r"(?:(?:the\s+)?(?:cities|provincial\s+capitals|capitals)\s+of\s+)?\s*$",
    re.I,
)

# Cues read from the sentence (or the clause) around a match.
NEGATION = re.compile(
    r"\b(?:not|never|no|nor|neither|without|cannot)\b|n['’]t\b|\bfail(?:ed|s)?\s+to\b|"
    r"\bunable\s+to\b|\bfoiled\b|\brepel(?:led|s)?\b|\brepuls(?:ed|es)\b",
    re.I,
)
NOT_A_NEGATION = re.compile(r"\bno\s+longer\b", re.I)
FORECAST = re.compile(
    r"\b(?:could|may|might|will|would|shall|can|must|wo?n['’]t|"
    r"(?:set|about|poised|likely|unlikely|expected|due|going|bound|ready|able)\s+to|"
    r"threat(?:en(?:s|ed|ing)?)?|fears?|feared|fearing|warn(?:s|ed|ing)?|risks?|risked|verge|"
    r"danger|bid\s+to|aim(?:s|ed|ing)?\s+to|attempt(?:s|ed|ing)?\s+to|tr(?:y|ies|ied|ying)\s+to|"
    r"seek(?:s|ing)?\s+to|sought\s+to|plan(?:s|ned|ning)?\s+to|vow(?:s|ed|ing)?\s+to|"
    r"prepar(?:e|es|ed|ing)\s+to|close\s+to|if|unless|whether|imminent|soon|predict(?:s|ed)?)\b",
    re.I,
)
# A denial before the report ("officials denied Taliban claims that X fell", "deny fall of X") …
DENIAL = re.compile(
    r"\b(?:den(?:y|ied|ies|ying)|dismiss(?:ed|es|ing)?|reject(?:ed|s|ing)?|refut(?:ed|es|ing))\b"
    r"(?:\W+\w+){0,4}?\W+(?:claims?|reports?|that|rumou?rs?|fall|capture|loss|seizure)\b|"
    # "denied the city had fallen", "denies Ghazni fell"
    r"\bden(?:y|ied|ies|ying)\s+(?:[\w’'-]+\s+){0,4}?(?:(?:had|has|have)\s+)?(?:fallen|fell|"
    r"been\s+(?:captured|taken|seized|overrun|lost))\b|"
    r"\b(?:false|untrue|not\s+true|baseless|propaganda)\b",
    re.I,
)
# … or after it ("X had fallen, a claim officials denied"; "…, but officials denied the claim").
DENIAL_AFTER = re.compile(
    r"\b(?:a\s+claim|claims?|reports?|which)\b(?:\W+\w+){0,6}?\W+"
    r"(?:den(?:y|ied|ies|ying)|dismiss(?:ed|es)?|reject(?:ed|s)?|refut(?:ed|es))\b|"
    r"\b(?:den(?:y|ied|ies|ying)|dismiss(?:ed|es)?|reject(?:ed|s)?|refut(?:ed|es))\s+"
    r"(?:the|this|that|these|those|such)\s+(?:claims?|reports?)\b|"
    r"\b(?:false|untrue|not\s+true|baseless|propaganda)\b",
    re.I,
)
# "KABUL, Aug 13 (Asia Wire) -": the wire's dateline dates the report, not the event.
WIRE_DATELINE = re.compile(
    r"^[A-Z][A-Z .'-]+,\s+(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}|\d{1,2}\s+[A-Z][a-z]{2,8})"
    r"\s*(?:\([^)]*\))?\s*[-–—]+\s*"
)
# "their first provincial capital" names an earlier capture, not the running total.
POSSESSIVE_BEFORE = re.compile(r"\b(?:their|its|his|her)\s+$", re.I)
UNVERIFIED = re.compile(
    r"\b(?:not|yet\s+to)\s+(?:yet\s+)?(?:been\s+|be\s+)?(?:independently\s+)?(?:confirmed|verified)\b|"
    r"\bunconfirmed\b|\bunverified\b|"
    r"\b(?:could\s*not|couldn['’]t|can\s*not|can['’]t|did\s+not|didn['’]t|would\s+not|wouldn['’]t|"
    r"declined\s+to|refused\s+to|unable\s+to|neither)\s+(?:be\s+)?(?:\w+ly\s+)?(?:confirm|verif)\w*|"
    r"\bno\s+(?:official\s+|independent\s+)?confirmation\b",
    re.I,
)
TALIBAN_SOURCE = re.compile(
    r"\bclaim(?:s|ed|ing)?\b|\bTaliban\s+(?:spokesm[ae]n|spokesperson|statement|said|says|say|"
    r"announced|tweeted|posted|insisted|declared|boasted)\b|\b(?:the\s+)?(?:militant\s+group|"
    r"militants|insurgents|insurgent\s+group|group)\s+(?:said|says|announced|declared)\b|"
    r"\baccording\s+to\s+(?:the\s+)?Taliban\b|\bMujahid\b|\bYousuf\s+Ahmadi\b|\bSuhail\s+Shaheen\b",
    re.I,
)
OFFICIAL_SOURCE = re.compile(
    r"\bofficials?\b|\bgovernor\b|\bprovincial\s+council\b|\bcouncil\s+(?:member|head|chief)\b|"
    r"\bpolice\s+(?:chief|spokesm[ae]n|official)\b|\bministry\b|\blawmakers?\b|\bMPs?\b|"
    r"\bmembers?\s+of\s+parliament\b|\bresidents?\b|\blocal\s+(?:sources?|journalists?|elders?)\b|"
    r"\bsecurity\s+sources?\b|\b(?:army|military)\s+(?:spokesm[ae]n|commanders?|officers?)\b",
    re.I,
)
CONFIRMS = re.compile(r"\b(?:confirm(?:ed|s|ing)?|acknowledg(?:ed|es)|admitted|conceded)\b", re.I)
PAST_YEAR = re.compile(
    r"\b(?:in|since|during|until|till|from|by|of|early|late|mid|back|summer|spring|autumn|winter|"
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?,?\s+(?:\d{1,2},?\s+)?"
    r"(?P<year>19[5-9]\d|20\d\d)\b",
    re.I,
)

# A month without a day ("in August", "since early July", "last month"): in a report published
# in another month, a past episode, which no day of the publication's can date ("Before the
# Taliban captured Zaranj in August, …", published in October, was a new capture that day).
EARLIER_MONTH = re.compile(
    r"\b(?i:in|since|during|through|throughout|until|till|by|early|late|mid|back\s+in)\s+"
    r"(?i:early\s+|late\s+|mid-?)?(?P<month>January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
    r"(?!\.?\s*\d)|\b(?P<last>(?i:last\s+month))\b"
)

# Running counts: "the 10th provincial capital", "some 10 provincial capitals", "nine of 34".
_UNIT_NAMES = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
)
_ORDINAL_NAMES = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
)
_UNITS = _UNIT_NAMES.split()
_ORDINAL_UNITS = _ORDINAL_NAMES.split()
NUMBER_WORDS: dict[str, int] = {w: i + 1 for i, w in enumerate(_UNITS)}
ORDINAL_WORDS: dict[str, int] = {w: i + 1 for i, w in enumerate(_ORDINAL_UNITS)}
for _tens, _value in (("twenty", 20), ("thirty", 30)):
    NUMBER_WORDS[_tens] = _value
    ORDINAL_WORDS[_tens[:-1] + "ieth"] = _value
    for _unit in range(1, 10):
        NUMBER_WORDS[f"{_tens}-{_UNITS[_unit - 1]}"] = _value + _unit
        ORDINAL_WORDS[f"{_tens}-{_ORDINAL_UNITS[_unit - 1]}"] = _value + _unit
_NUMBER = r"\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)|" + "|".join(sorted(ORDINAL_WORDS, key=len, reverse=True))
_CAPITALS_NOUN = (
    r"(?:provincial\s+(?:capital|city|centre|center)s?|province\s+capitals?|capital\s+cit(?:y|ies))"
)
ORDINAL_COUNT = re.compile(
    rf"\b(?P<n>{_ORDINAL})\b(?:[\s-]+(?!provincial|province|capital)[\w’'-]+){{0,2}}?\s+{_CAPITALS_NOUN}\b",
    re.I,
)
CARDINAL_COUNT = re.compile(
    rf"\b(?P<n>{_NUMBER})\s+(?:(?P<adj>[\w’'-]+)\s+){{0,2}}?{_CAPITALS_NOUN}\b|"
    rf"\b(?P<m>{_NUMBER})\s+of\s+(?:the\s+country['’]s\s+|Afghanistan['’]s\s+|its\s+|the\s+)?34\b",
    re.I,
)
# Cheap checks that let most sentences skip the expensive patterns.
COUNT_HINT = re.compile(r"provinc|capital|\bof\s+34\b", re.I)
CAPITAL_WORD = re.compile(r"capital", re.I)
COUNT_CONTEXT = re.compile(
    r"\b(?:captur\w*|seiz\w*|took|taken|take[sn]?|f[ae]ll(?:en|s)?|lost|los(?:e|es|ing)|control\w*|"
    r"overr\w+|conquer\w*|hands|hold|holds|held|latest|surrender\w*)\b",
    re.I,
)
COUNT_DENOMINATOR = re.compile(
    r"\b(?:of|all)\s+(?:the\s+|its\s+|the\s+country['’]s\s+|Afghanistan['’]s\s+)?$", re.I
)
COUNT_INCREMENT = re.compile(r"^(?:more|other|another|further|additional|new)$", re.I)
# "Three provincial capitals fell on Sunday" is that day's tally, not the running total.
COUNT_FELL_THAT_DAY = re.compile(r"\s+(?:\w+\s+){0,2}?(?:fell|were|have\s+fallen)\b", re.I)
# … and so is "The Taliban took three provincial capitals on Friday" (not "have now taken").
COUNT_TAKEN_THAT_DAY = re.compile(
    r"(?<!\bhave\s)(?<!\bhas\s)(?<!\bhad\s)(?<!\bnow\s)\b(?:took|captured|seized|overran)\s+"
    r"(?:control\s+of\s+)?$",
    re.I,
)
COUNT_RATE = re.compile(
    r"\b(?:in|within)\s+(?:the\s+(?:past|last)\s+)?(?:24|48|72|\d+)\s+hours\b|"
    r"\bin\s+(?:a|one|a\s+single)\s+day\b|\bon\s+(?:a\s+single|one)\s+day\b",
    re.I,
)

# A relative clause, or a clause, about a time past that no day of the report's dates: "which
# fell to the Taliban 25 years ago", "two decades ago", "in the 1990s", "last week".
LONG_AGO = re.compile(
    r"\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twenty|several|many|a\s+few)\s+"
    r"(?:years|decades)\s+ago\b|\b(?:a|one)\s+(?:year|decade)\s+ago\b|"
    r"\bin\s+the\s+(?:19|20)\d0s\b|\blast\s+(?:week|year|decade)\b|"
    r"\b(?:a|one|two|three|four|\d+)\s+weeks?\s+ago\b",
    re.I,
)
# An aside that says what someone thought or feared is the report's hedge, not a mere aside
# ("Herat, residents feared, had fallen").
HEDGING_ASIDE = re.compile(
    r"\b(?:fear(?:s|ed)?|warn(?:s|ed)?|worr(?:y|ies|ied)|believ(?:e|es|ed)|thought|hop(?:e|es|ed)|"
    r"suggest(?:s|ed)?|rumou?red)\b",
    re.I,
)

# Dates a sentence can give its event, resolved against the publication date.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DAY_WORDS = re.compile(
    rf"\b(?:(?P<weekday>{'|'.join(WEEKDAYS)})|(?P<before2>the\s+day\s+before\s+yesterday)|"
    rf"(?P<before>overnight|last\s+night|yesterday)|"
    rf"(?P<same>today|this\s+(?:morning|afternoon|evening)|tonight)|"
    rf"(?P<ago>{_NUMBER})\s+days\s+ago|"
    rf"(?P<dm>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm_month>{_MONTH})\.?|"
    rf"(?P<md_month>{_MONTH})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?)\b",
    re.I,
)
