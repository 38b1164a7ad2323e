"""Extraction: a fetched page (HTML or a text scrape) becomes a Document with text and metadata.

Pure functions over one page, with no Prefect in them: this module is what the extraction pool's
workers run, and what its fork server imports for them (tasks/clean.py), so it imports only the
extraction libraries (trafilatura, htmldate, lxml, dateutil), the records and the settings.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html import unescape
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import psutil
import pycld2
import trafilatura
from dateutil import parser as date_parser
from dateutil.parser import UnknownTimezoneWarning
from htmldate import find_date
from lxml.etree import ElementDefaultClassLookup, LxmlError, XPath, iterwalk
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction, fromstring
from trafilatura import metadata as trafilatura_metadata
from trafilatura import utils as trafilatura_utils

from tasks.interrupts import unblock_sigint
from tasks.records import Document, FeedEntry, FetchResult
from tasks.settings import ExtractionMode

LOGGER = logging.getLogger(__name__)
# trafilatura says "discarding data: …" and "empty HTML tree" of the pages it finds nothing in:
# each is a `rejected` row with its reason, and its lines on a terminal were noise beside ours
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
# The format of Prefect's console lines, for the extraction workers' own (log_to_stderr)
LOG_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"

MIN_WORDS = 25  # fewer words than this is not an article (a teaser, a caption, a stub)…
MIN_CHARS = 200  # …unless it has this many characters (Chinese and Japanese have no spaces)
# The language is read from a text's first 10 000 characters, at a bounded cost: on the dates
# corpus, the first 2000 gave CLD2's verdict on the whole text for each of the 79 longer texts
LANGUAGE_SAMPLE_CHARS = 10_000
WALL_MAX_WORDS = 250  # a cookie/login/paywall page is short; longer texts merely mention cookies
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
TEXT_CONTENT_TYPES = ("text/plain",)

# Characters that are invisible in text: zero-width space, BOM, soft hyphen, word joiner, and
# C0/C1 controls other than newline and tab. ZWNJ/ZWJ (U+200C/D) stay: Persian and emoji need them.
_INVISIBLE_RE = re.compile(
    "[\u200b\ufeff\u00ad\u2060\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f]"
)
_LINE_BREAK_RE = re.compile("\r\n|[\r\u2028\u2029\u0085\u000c]")
_CONTROL_CHARS_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # CLD2 takes them for bad UTF-8
_CLD2_OLD_CODES = {"iw": "he", "jw": "jv"}  # codes CLD2 keeps from before ISO 639 changed them
_CLD2_NO_LANGUAGE = {"un", "xx", "xxx"}  # unknown, a script alone ("xx-Arab"); "zz…" are its own
_SPACES_RE = re.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_TITLE_APOSTROPHE_RE = re.compile("[\u2018\u2019\u201b\u02bc\u2032]")

# Boilerplate lines, one named rule each: a line of extracted text (or of a text scrape) that
# matches any rule and has at most BOILERPLATE_MAX_WORDS words is not part of the article.
BOILERPLATE_MAX_WORDS = 60
_BOILERPLATE_RULES: dict[str, re.Pattern[str]] = {
    # a row of UI icon names rendered as text: "icon bookmark-bicon bookmarkicon cameraicon …"
    "icon_strip": re.compile(r"^(?:[\w-]*icon[\w-]*\s+){4,}", re.IGNORECASE),
    # a call to share: "Think your friends would be interested? Share this story!", "Tweet"
    "share_prompt": re.compile(
        r"^think your friends would be interested\b|\bshare (?:it|this)\b.{0,40}\b(?:friends?|story"
        r"|article)\b|^share (?:on|via) \w+$|^(?:click|tap) to share\b"
        r"|^(?:tweet|share|email|print|save|reprints?|order reprints|print article)$",
        re.IGNORECASE,
    ),
    # cross-promotion of a story on a named site: "Also on rt.com US embassy calls …"
    "cross_promo": re.compile(
        r"^(?:also on|more on|more from|trending on|read more on)\s+[\w-]+(?:\.[\w-]+)+\s",
        re.IGNORECASE,
    ),
    # a labelled link to other stories: "READ MORE: …", "Related:", "DON'T MISS"
    "read_more": re.compile(
        r"^\[?(?:read more|related(?: articles?| stories| posts?| coverage| content)?|see more"
        r"|see also|more|don'?t miss|recommended(?: for you)?|also read|read also|more stories"
        r"|most popular|most read\b.{0,30}|trending)\s*(?:[:|»>]|$)",
        re.IGNORECASE,
    ),
    # a teaser headline tagged with its kind: "Plague fears: holidaymakers die [INSIGHT]". It
    # starts from a line's first word character only (any later one matches only if that one
    # does): tried from every word character, a line without a tag cost its length squared.
    "tagged_teaser": re.compile(
        r"(?:^|(?<=\n))[^\w\n]*\w.{8,}\[(?:[A-Z]{3,}|video|pictures|photos|poll)\]\s*\|?$"
    ),
    # newsletter plugs: "Get the latest updates right in your inbox. Subscribe to …'s newsletters."
    "newsletter": re.compile(
        r"\bnewsletters?\b.{0,200}\b(?:inbox|sign up|subscrib\w*)\b"
        r"|\b(?:sign up|subscribe)\b.{0,80}\bnewsletters?\b|^[\w' ]{0,40} newsletter$",
        re.IGNORECASE,
    ),
    # follow prompts: "Follow us on Twitter @Spacedotcom", "… Follow him on Twitter @x" (not
    # reporting such as "the Taliban told residents to follow them on Telegram")
    "follow_prompt": re.compile(
        r"^follow\b.{0,80}\bon (?:twitter|facebook|instagram|youtube|linkedin|telegram)\b"
        r"|\bfollow us on\b|\bfollow (?:him|her|them) on \w+\s*@\w+|\bfollow @\w+ on twitter\b",
        re.IGNORECASE,
    ),
    # how to reach the author: "Have a tip? … may be reached at …", "Email … at …@…"
    "contact_author": re.compile(
        r"^(?:have a (?:news )?tip\b|(?:e-?mail|write to) [\w .'-]{2,40} at \S+@"
        r"|reach (?:the )?(?:reporters?|writer|author)\b"
        r"|contact (?:the )?(?:author|reporter|writer)\b|you can reach \w+"
        r"|[\w .'-]{2,40} (?:can|may) be reached at \S*@)",
        re.IGNORECASE,
    ),
    # comment-section furniture: "12 comments", "Leave a reply"
    "comments": re.compile(
        r"^(?:\d+\s+)?comments?$|^(?:leave a (?:comment|reply)|tell us what you think"
        r"|add (?:a|your) comment|join the (?:conversation|discussion)|show comments)\b.{0,20}$",
        re.IGNORECASE,
    ),
    # production credits: "(Reporting by …; Editing by …)", "… contributed to this report."
    "credits": re.compile(
        r"^\(?(?:reporting|additional reporting|writing|editing|edited|compiled) by\b.{0,300}\)?$"
        r"|\bcontributed (?:to )?(?:this |the )?(?:report|reporting|story|article)\b.{0,40}$",
        re.IGNORECASE,
    ),
    # reading-time badges: "5 min read", "Tempo de leitura: 2 minutos"
    "reading_time": re.compile(
        r"^(?:\d+\s*min(?:ute)?s?\.? read|(?:reading time|tempo de leitura|temps de lecture"
        r"|lesezeit|tiempo de lectura)\s*:?\s*\d+\s*\w*)$",
        re.IGNORECASE,
    ),
    # pointers to a site's coverage elsewhere: "Follow AP's full coverage of Brexit at https://…"
    "coverage_link": re.compile(r"^(?:follow|more|see)\b.{0,80}:?\s*https?://\S+$", re.IGNORECASE),
    # calls to click, listen or subscribe elsewhere
    "click_here": re.compile(r"\bclick here\b", re.IGNORECASE),
    "listen_prompt": re.compile(r"^(?:listen|watch|download|itunes|podcast)\s*:", re.IGNORECASE),
}
_DATE_WORDS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?"
    r"|thu(?:rs(?:day)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?"
)
# month and weekday names in Portuguese, Spanish, French and German
_FOREIGN_DATE_WORDS = (
    r"janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro"
    r"|segunda|terça|quarta|quinta|sexta|sábado|domingo|feira|enero|febrero|marzo|mayo|junio"
    r"|julio|septiembre|octubre|noviembre|diciembre|lunes|martes|miércoles|jueves|viernes"
    r"|janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|décembre|lundi|mardi"
    r"|mercredi|jeudi|vendredi|samedi|dimanche|januar|februar|märz|juni|juli|oktober|dezember"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
)
# a word of a date-only line ("Updated: Tue., Nov. 19, 2019 at 1:23 p.m. EST")
_DATE_TOKEN_RE = re.compile(
    rf"^(?:{_DATE_WORDS}|{_FOREIGN_DATE_WORDS}|\d{{1,4}}(?:st|nd|rd|th|h)?|[ap]\.?m\.?|[apm]"
    r"|gmt|utc|[ecmp][sd]t|bst|cet|cest|updated|published|posted|last|at|on|de|às|a|à|le|el|um"
    r"|uhr|\|)$",
    re.IGNORECASE,
)
# a word of a date that trafilatura's byline search can take into an author ("Nathan Willis March")
_AUTHOR_DATE_WORD_RE = re.compile(
    rf"^(?:{_DATE_WORDS}|\d{{1,2}}(?:st|nd|rd|th)?|last|updated|published|posted)[.,]?$",
    re.IGNORECASE,
)
# a copyright notice in place of a site name: a leading sign or word with the years after it; a
# trailing sign or "all rights reserved"
_COPYRIGHT_RE = re.compile(
    r"^\s*(?:(?:©|\(c\)|copyright\b)[\s,:]*)+(?:(?:19|20)\d{2}\b[\s,–-]*)*"
    r"|[\s,.|–-]*(?:\ball rights reserved\b\.?|©)\s*$",
    re.IGNORECASE,
)
# what a page gives as its site name that is no name: a web address, a postal address or a phone
# number (five digits or more in a row: a postcode, a phone number)
_ADDRESS_SITE_NAME_RE = re.compile(r"^https?://|\d{5,}", re.IGNORECASE)
_SITE_NAME_SEPARATOR_RE = re.compile(r"\s+(?:\||-|–|—|::|·|•|»)\s+")  # "LinkNaija | Nigeria's …"
_SITE_NAME_MAX_WORDS = 6  # a longer name is a description: its first sentence is kept
_NAME_WORD_RE = re.compile(r"[^\W_]+")  # "Bradley M. Kuhn ( Brad )": four words
_HEADLINE_MIN_KEY_CHARS = 20  # a shorter headline may well be the site's name ("Silicon Exposed")
# A byline's label before a name, in the languages of the corpora ("Par AFP", "Af Ritzau", "Авторы
# Дмитрий Попов", "質問者： あいぎゅ"); trafilatura takes off English and German ones ("By", "Von").
_BYLINE_LABEL_RE = re.compile(
    r"^(?:@\s*|(?:(?:analysis|reporting|story|text)\s+by|par|por|af|av|door|autor|autorin|autora"
    r"|авторы?|автори|текст|редактор|piše|napisał|作者|記者|记者|質問者)(?:\s*[:：]\s*|\s+))",
    re.IGNORECASE,
)
# what follows a name in a byline: a date label ("publié le", "mis à jour"), "ago" ("prije",
# "před"), a job ("is a reporter", Korean "기자"), an editor ("Edited by …")
_BYLINE_TRAILER_RE = re.compile(
    r"\s+(?:publié\b|mis à jour\b|prije\b|před\b|is an?\s|edited by\s|기자$).*$", re.IGNORECASE
)
# a part of a byline that is only a label, or a share button's name ("Gqlshare")
_BYLINE_ONLY_LABEL_RE = re.compile(
    r"^(?:mis à jour(?: à| le)?|uppdaterad|updated|follow author|gqlshare|username|作者)$",
    re.IGNORECASE,
)
# a station's or desk's tag before a byline's "By" ("WABC By Eyewitness News"); a capital B, as
# trafilatura leaves a byline's own label
_BYLINE_TAG_RE = re.compile(r"^(?:\S+\s+){1,3}By\s+(?=[^\W\d_])")
# the first word of a web address, as trafilatura's author cleaning leaves it ("Http; Www Cnn Com")
_URL_WORD_RE = re.compile(r"^(?:https?|www)$", re.IGNORECASE)
_BYLINE_TAIL_RE = re.compile(r"\s+by\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}$")
# what makes a line a date rather than a live-blog time heading ("10 p.m."): a year, a month or
# day name, or a label
_DATE_ANCHOR_RE = re.compile(
    rf"\b(?:19|20)\d{{2}}\b|\b(?:{_DATE_WORDS}|{_FOREIGN_DATE_WORDS})\b|^(?:updated|published|posted)",
    re.IGNORECASE,
)
_DATE_LINE_SPLIT_RE = re.compile(r"[\s,./:()\-–—]+")

# Text scrapes: the dateline that gives the publication time, and the shape of a headline.
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
# a month by its name or its abbreviation ("Marines" is no March)
_MONTH_WORD = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
)
_DATELINE_LABEL = (
    r"(?:(?:published|posted|updated)(?:\s+(?:time|on|at))?\s*:?\s*)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"  # "Thu 12 Aug 2021", "Thursday, …"
)
# "16:21", "10.29" (the Guardian's), "4:21 p.m."; a zone as an offset ("+04:30", "GMT+4:30") or
# an abbreviation (_ZONE_OFFSETS; one not there, "ET", leaves the time as the site's own)
_DATELINE_TIME = (
    r"(?:,?\s+(?:at\s+)?(?P<time>\d{1,2}[:.]\d{2})(?::\d{2})?(?:\s*(?P<ampm>[ap])\.?m\b\.?)?"
    r"(?:\s*\(?(?P<tz>(?:GMT|UTC)?\s*[+-]\d{1,2}(?::?\d{2})?|[A-Z]{1,5}\b)\)?)?)?"
)
_ZONE_OFFSETS = {
    "GMT": "+00:00", "UTC": "+00:00", "Z": "+00:00", "BST": "+01:00", "CET": "+01:00",
    "CEST": "+02:00", "EST": "-05:00", "EDT": "-04:00", "PST": "-08:00", "PDT": "-07:00",
}  # fmt: skip
_UPDATED_DATELINE_RE = re.compile(r"^\s*updated\b", re.IGNORECASE)  # a fallback: not when published
_DATELINE_TAIL = r"\s*(?:(?:[/|]|(?:edited|updated|last updated)\b).*)?$"  # "/ Updated 2 hours ago"
_DATELINE_RULES: dict[str, re.Pattern[str]] = {
    # "12 Aug, 2021 16:21", "Published time: 3 March 2021, 09:15 GMT Edited time: …",
    # "Thu 12 Aug 2021 10.29 BST", "12 August 2021 at 16:21 GMT+4:30"
    "day_month_year": re.compile(
        rf"^{_DATELINE_LABEL}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{_MONTH_WORD})\.?,?"
        rf"\s+(?P<year>\d{{4}}){_DATELINE_TIME}{_DATELINE_TAIL}",
        re.IGNORECASE,
    ),
    # "Aug 12, 2021 16:21", "Updated: August 12, 2021 at 16:21 +04:30",
    # "Thursday, August 12, 2021", "Aug. 12, 2021, 4:21 p.m. ET"
    "month_day_year": re.compile(
        rf"^{_DATELINE_LABEL}(?P<month>{_MONTH_WORD})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?"
        rf"\s+(?P<year>\d{{4}}){_DATELINE_TIME}{_DATELINE_TAIL}",
        re.IGNORECASE,
    ),
    # "12.08.2021 16:21": with dots, the day comes first
    "day_month_year_dots": re.compile(
        rf"^{_DATELINE_LABEL}(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}})"
        rf"{_DATELINE_TIME}{_DATELINE_TAIL}",
        re.IGNORECASE,
    ),
    # "2021/08/12": the year first, then the month
    "year_month_day_slashes": re.compile(
        rf"^{_DATELINE_LABEL}(?P<year>\d{{4}})/(?P<month>\d{{1,2}})/(?P<day>\d{{1,2}})"
        rf"{_DATELINE_TIME}{_DATELINE_TAIL}",
        re.IGNORECASE,
    ),
    # "12/08/2021" or "08/12/2021": read only when one part is over 12 (_unambiguous_slashes)
    "slashes": re.compile(
        rf"^{_DATELINE_LABEL}(?P<first>\d{{1,2}})/(?P<second>\d{{1,2}})/(?P<year>\d{{4}})"
        rf"{_DATELINE_TIME}{_DATELINE_TAIL}",
        re.IGNORECASE,
    ),
    # "2021-08-12 16:21" or "2021-08-12T16:21:00+04:30"
    "iso": re.compile(
        r"^(?P<iso>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?\s?(?:Z|[+-]\d{2}:?\d{2})?)?)$"
    ),
}
_HEADLINE_MAX_CHARS = 250
_HEADLINE_MAX_WORDS = 40

# Walls: pages that are a consent, login or paywall prompt rather than an article.
_WALL_RULES: dict[str, re.Pattern[str]] = {
    "cookie_wall": re.compile(
        r"\b(?:we use cookies|(?:accept|allow|reject) (?:all )?cookies"
        r"|cookie (?:policy|settings|consent)|consent to (?:the use of )?cookies"
        r"|your privacy choices)\b",
        re.IGNORECASE,
    ),
    "login_wall": re.compile(
        r"\b(?:(?:sign|log) ?in (?:to (?:continue|read|view|access)|required)"
        r"|create (?:a free|an) account to (?:continue|read))\b",
        re.IGNORECASE,
    ),
    "paywall": re.compile(
        r"\b(?:subscribe (?:now )?to (?:continue|read|unlock)|already a subscriber"
        r"|this content is for subscribers)\b",
        re.IGNORECASE,
    ),
    "script_wall": re.compile(
        r"\b(?:(?:please )?enable javascript|javascript is (?:disabled|required)|are you a robot"
        r"|verify you are human)\b",
        re.IGNORECASE,
    ),
    "error_page": re.compile(
        r"\b(?:page not found|404 not found|access denied|403 forbidden)\b", re.IGNORECASE
    ),
}

# Titles: separators that join a headline to a site name, and suffixes that are never a headline.
_TITLE_SEPARATOR_RE = re.compile(
    r"\s+(?:\||-|–|—|::|·|•|»|/)\s+|\s*[_｜]\s*(?=\S)|\s+(?=\[[^\]]+\]$)"
)  # a full-width bar needs no spaces: "…（2020年2月15日）｜BIGLOBEニュース"
_TITLE_GENERIC_SEGMENT_RE = re.compile(
    r"^(?:home(?: ?page)?|(?:latest |breaking |world |top )?news|official (?:site|website)"
    r"|blog|online|\[[^\]]*\])$",
    re.IGNORECASE,
)
_NEWS_SECTION_SEGMENT_RE = re.compile(
    r"^(?:[A-Z][\w&.-]*\s){1,2}News$"
)  # "Auto News", not "good news"
_NON_WORD_RE = re.compile(r"[\W_]+")
# A site's name as a title writes it ("Reuters.com"): a letter TLD, no port, so "v1.2" or
# "localhost" stay in the headline; dedupe's _CANONICAL_HOST_RE takes any host a URL may name.
_HOSTLIKE_SEGMENT_RE = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}$", re.IGNORECASE)
_SITE_SEGMENT_RULES = (_TITLE_GENERIC_SEGMENT_RE, _NEWS_SECTION_SEGMENT_RE, _HOSTLIKE_SEGMENT_RE)
_SECOND_LEVEL_LABELS = {"co", "com", "net", "org", "gov", "ac", "edu", "or", "ne", "go"}
_TITLE_MIN_CHARS = 12  # never strip a title down to less than this
# a separator a title starts or ends with, the segment beside it left empty ("| Aktres, …" as a
# page's og:title gives it, "… :: 痞客邦 PIXNET ::"); not a closing quote ("… così»")
_EDGE_SEPARATOR_RE = re.compile(r"^\s*(?:\||::|·|•|-|–|—)\s+|\s+(?:\||::|·|•|-|–|—)\s*$")

# Dates: where pages state their publication time, most trusted first.
_DATE_META_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "published_time",
    "article:published",
    "datepublished",
    "parsely-pub-date",
    "sailthru.date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "article.published",
    "cxenseparse:recs:publishtime",
    "date",
)
_JSONLD_ARTICLE_TYPES = re.compile(r"(?:article|posting|report|review)$", re.IGNORECASE)
_TZ_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "BST": 3600,
    "CET": 3600,
    "CEST": 2 * 3600,
    "EET": 2 * 3600,
    "EEST": 3 * 3600,
    "MSK": 3 * 3600,
    "IST": 5 * 3600 + 1800,
    "AFT": 4 * 3600 + 1800,
    "PKT": 5 * 3600,
    "JST": 9 * 3600,
    "AEST": 10 * 3600,
    "AEDT": 11 * 3600,
}
# Both scans run over whole pages, so each starts with a single character the regex engine can
# skip to (the colon, a capital) and only then looks behind it: 20x and 4x faster than
# "\d{2}:\d{2}…" and "(?<!\w)[A-Z]{3,4}", with the same matches.
_ZONE_OFFSET_RE = re.compile(
    r":(?<=\d{2}:)\d{2}(?::\d{2}(?:\.\d+)?)?\s?(?:GMT|UTC)?([+-])(\d{2}):?(\d{2})\b"
)
_ZONE_NAME_RE = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]{2,3}(?!\w)")
_ZONE_NAMES = {name for name in _TZ_ABBREVIATIONS if name not in ("UTC", "GMT", "Z")}
# JSON-LD wrapped for XHTML parsers: "<![CDATA[ … ]]>", "//<![CDATA[ … //]]>", "/* <![CDATA[ */ …".
_CDATA_OPEN_RE = re.compile(r"^\s*(?:/\*\s*<!\[CDATA\[\s*\*/|(?://)?\s*<!\[CDATA\[)")
_CDATA_CLOSE_RE = re.compile(r"(?:/\*\s*\]\]>\s*\*/|(?://)?\s*\]\]>)\s*$")
_EPOCH_RE = re.compile(r"^\d{10}(?:\d{3})?$")
_BROKEN_SECONDS_RE = re.compile(r"(T\d{2}:\d{2}):(\d)(?=\D|$)")  # "T23:15:0Z" → "T23:15:00Z"

# Extraction: trafilatura settings shared by every candidate, and what the steps around it use.
_TRAFILATURA_OPTIONS = {"include_comments": False, "include_tables": True, "output_format": "txt"}
_SENTENCE_END_RE = re.compile(r"[.!?…:;\"”’)\]]$")
_FOLD_RE = re.compile(r"\W+")
# Embedded social posts that extractors drop with their widget: quoted posts are article content.
_EMBEDDED_POST_XPATH = (
    './/blockquote[contains(@class, "twitter-tweet") or contains(@class, "twitter-video")'
    ' or contains(@class, "tiktok-embed")]'
)
_BODY_TITLE_META_XPATH = XPath(
    './/meta[@property="og:title" or @name="og:title" or @name="twitter:title"'
    ' or @property="twitter:title"]/@content'
)
_HEADLINE_XPATH = XPath(
    './/meta[@property="og:title" or @name="twitter:title"]/@content|.//title|.//h1'
)
HEADLINE_SEARCH_LINES = 3  # a headline repeated within the first lines of the body is dropped
# Inline pop-ups (hover cards, tooltips) whose hidden text would run into the sentence around them.
_INLINE_POPUP_XPATH = XPath(
    ".//p//*[re:test(@class, '(?:tooltip|popover|hover-?card|rollover)[\\w-]*"
    "(?:block|content|card|box|body)', 'i')]",
    namespaces={"re": "http://exslt.org/regular-expressions"},
)
MERGE_MIN_WORDS = 8  # an interior line only the broad run found must be a sentence this long
MERGE_FRAGMENT_SHARE = 0.25  # a precise run shorter than this share of the broad run is a fragment
# Page lines (_page_lines): inline elements continue a line, any other element starts a new one.
# fmt: off
_INLINE_TAGS = frozenset((
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "img", "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup",
    "time", "tt", "u", "var", "wbr",
))
# fmt: on
_HIDDEN_TAGS = frozenset(("head", "noscript", "script", "style", "template"))
# Line breaks in the HTML source are spaces; "\0" (never in parsed text) marks element edges.
_PAGE_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " ", "\0": "\n"})
SIBLING_MIN_CHARS = 80  # a paragraph recovered from a sibling chunk is at least this long
# The page parser: trafilatura's (its settings copied), but with each element's Python class
# chosen in C. lxml.html's parsers choose it in a Python method (a form or an input gets a class
# of its own, which neither this module nor the extractors use), called each time Python code
# reaches an element: the tree's copies and walks call it ~2 ms of a page's 30 (fast mode).
_PAGE_PARSER = trafilatura_utils.HTML_PARSER.copy()
_PAGE_PARSER.set_element_class_lookup(
    ElementDefaultClassLookup(
        element=HtmlElement,
        comment=HtmlComment,
        pi=HtmlProcessingInstruction,
        entity=HtmlEntity,
    )
)


class _Stamp(NamedTuple):
    """A publication time: the UTC moment, the offset it was stated in, and whether a time of day
    was stated (False when only a day is known)."""

    at: datetime
    offset: str | None
    exact: bool = True


@dataclass
class _PageMeta:
    """Metadata read from one HTML page; every field may be missing."""

    title: str | None = None
    author: str | None = None
    site_name: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    published: _Stamp | None = None
    headlines: list[str] = field(default_factory=list)  # title variants, to drop from the body


# --- text normalisation ---------------------------------------------------------------------


def _normalize_title(title: str | None) -> str | None:
    """One line, normalised, typographic apostrophes folded to ' (titles match what people type)."""
    if not title:
        return None
    title = _TITLE_APOSTROPHE_RE.sub("'", normalize_text(title).replace("\n", " "))
    return title or None


def _word_count(text: str) -> int:
    return len(text.split())


# --- dates --------------------------------------------------------------------------------------


def _format_offset(offset: timedelta) -> str:
    """A UTC offset as "+04:30"."""
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _parse_datetime_string(raw: str) -> datetime | None:
    """Parse ISO 8601, RFC 2822, epoch seconds or a free-form date; None when it is not a date."""
    raw = raw.strip()
    if not raw or not any(ch.isdigit() for ch in raw):
        return None
    if _EPOCH_RE.match(raw):
        seconds = int(raw[:10])
        return datetime.fromtimestamp(seconds, tz=UTC)
    iso = _BROKEN_SECONDS_RE.sub(r"\1:0\2", raw)
    try:
        return datetime.fromisoformat(iso.replace("z", "Z"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return date_parser.parse(raw, tzinfos=_TZ_ABBREVIATIONS, default=None)
    except (ValueError, OverflowError, TypeError, date_parser.ParserError):
        return None


def _to_published(moment: datetime) -> _Stamp | None:
    """A parsed moment as a UTC stamp keeping its offset; naive moments are taken as UTC."""
    offset = moment.utcoffset()
    utc = moment.replace(tzinfo=UTC) if offset is None else moment.astimezone(UTC)
    if not EARLIEST_DATE <= utc <= datetime.now(UTC) + timedelta(days=2):
        return None
    return _Stamp(utc, _format_offset(offset) if offset is not None else None)


def _zone_evidence(html: str) -> list[timedelta]:
    """Non-zero UTC offsets that time stamps in the page state, most frequent first (ties: the
    first seen). Two simple scans: one regex alternating both forms is twice as slow."""
    found = [
        (m.start(), timedelta(hours=int(m[2]), minutes=int(m[3])) * (-1 if m[1] == "-" else 1))
        for m in _ZONE_OFFSET_RE.finditer(html)
    ]
    found += [
        (m.start(), timedelta(seconds=_TZ_ABBREVIATIONS[m[0]]))
        for m in _ZONE_NAME_RE.finditer(html)
        if m[0] in _ZONE_NAMES
    ]
    counts: dict[timedelta, int] = {}
    for _, offset in sorted(found, key=lambda hit: hit[0]):
        if offset and abs(offset) <= timedelta(hours=14):
            counts[offset] = counts.get(offset, 0) + 1
    return sorted(counts, key=lambda offset: -counts[offset])


def _adopt_page_zone(stamp: _Stamp, html: str, day: str | None) -> _Stamp:
    """A stamp stated in UTC ("Z") or with no zone, re-read in the zone the page's other time
    stamps show: the one whose day is the day the page displays, else (for "Z" stamps, whose
    instant is certain) the most frequent. Sites often serialise in UTC but print local dates."""
    zones = _zone_evidence(html)
    # a stamp without a zone is local wall time: its instant moves with the zone
    moved = stamp.offset is None
    candidates = [
        _Stamp(stamp.at - zone if moved else stamp.at, _format_offset(zone), stamp.exact)
        for zone in zones
    ]
    matching = [c for c in candidates if local_day(c.at, c.offset) == day]
    if matching:
        return matching[0]
    return candidates[0] if candidates and stamp.offset == "+00:00" else stamp


def _load_jsonld(text: str) -> object:
    """The JSON a JSON-LD script holds, inside a CDATA wrapper too; None when it is not JSON."""
    if _CDATA_OPEN_RE.match(text):
        text = _CDATA_CLOSE_RE.sub("", _CDATA_OPEN_RE.sub("", text, count=1), count=1)
    try:
        return json.loads(text, strict=False)
    except ValueError:
        return None


def _jsonld_items(tree: HtmlElement) -> Iterator[dict]:
    """Every JSON object in the page's JSON-LD scripts, @graph members included."""
    for script in tree.iterfind('.//script[@type="application/ld+json"]'):
        data = _load_jsonld(script.text or "")
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(reversed(node))
            elif isinstance(node, dict):
                yield node
                stack.extend(v for k, v in node.items() if k in ("@graph", "mainEntity"))


def _jsonld_date_strings(tree: HtmlElement) -> list[str]:
    """datePublished of article-like JSON-LD items first, then of any other item."""
    article_dates, other_dates = [], []
    for item in _jsonld_items(tree):
        value = item.get("datePublished") or item.get("dateCreated")
        if not isinstance(value, str):
            continue
        types = item.get("@type")
        type_names = types if isinstance(types, list) else [types]
        is_article = any(isinstance(t, str) and _JSONLD_ARTICLE_TYPES.search(t) for t in type_names)
        (article_dates if is_article else other_dates).append(value)
    return article_dates + other_dates


def _meta_date_strings(tree: HtmlElement) -> list[str]:
    """Publication dates stated in <meta> and <time> elements, in _DATE_META_KEYS order."""
    found: dict[str, str] = {}
    for meta in tree.iterfind(".//meta"):
        content = meta.get("content")
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (meta.get(attr) or "").strip().lower()
            if key in _DATE_META_KEYS and key not in found:
                found[key] = content
    dates = [found[key] for key in _DATE_META_KEYS if key in found]
    for elem in tree.xpath('.//*[@itemprop="datePublished"]|.//time[@pubdate]'):
        value = elem.get("datetime") or elem.get("content")
        if value:
            dates.append(value)
    return dates


@contextmanager
def _unknown_zone_names_quiet() -> Iterator[None]:
    """dateutil warns on each zone name it does not know ("2020-03-15 20:18:45 GST"), as htmldate
    reads the day of a header date and as we read a stated time (_TZ_ABBREVIATIONS are the names
    we know): two lines on the console mid-run, nothing in them for a user to do. (A filter set
    once, as this module is imported, was lost when the import ran in a catch_warnings block.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownTimezoneWarning)
        yield


@_unknown_zone_names_quiet()
def _read_page_date(
    tree: HtmlElement, html: str, url: str | None, mode: ExtractionMode
) -> _Stamp | None:
    """The publication time a page states (JSON-LD, meta, time tags), checked against the day
    htmldate finds in its text and URL; htmldate's day alone when the page states no time.
    The thorough mode runs htmldate's extensive search, which also reads dates in the page's free
    text (dateparser): 4 points of day accuracy for about 27 ms a page on the MediaCloud sample."""
    stamps = []
    for raw in _jsonld_date_strings(tree) + _meta_date_strings(tree):
        moment = _parse_datetime_string(raw)
        stamp = _to_published(moment) if moment else None
        if stamp:
            stamps.append(stamp)
    extensive = mode == ExtractionMode.thorough
    day = find_date(html, url=url, original_date=True, extensive_search=extensive)
    if extensive and day and day.endswith("-01-01") and not stamps:
        # htmldate's last resorts, a copyright year or any four digits (a CSS class `mjx-c2026`),
        # are that year's 1 January: a day the quick search does not find too is one of them
        day = find_date(html, url=url, original_date=True, extensive_search=False)
    if not stamps:
        return (
            _Stamp(datetime.fromisoformat(day).replace(tzinfo=UTC), None, exact=False)
            if day
            else None
        )
    chosen = next((s for s in stamps if local_day(s.at, s.offset) == day), stamps[0])
    zoneless_mismatch = chosen.offset is None and day and day != local_day(chosen.at, None)
    if chosen.offset == "+00:00" or zoneless_mismatch:
        chosen = _adopt_page_zone(chosen, html, day)
    return chosen


# --- titles ----------------------------------------------------------------------------------


def _identity_key(text: str) -> str:
    """A site or segment name folded for comparison (no accents, case, punctuation, leading the)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD_RE.sub("", re.sub(r"^the\s+", "", folded))


def _site_keys(url: str | None, site_name: str | None) -> set[str]:
    """Names a site goes by: its stated name and its host's distinctive label."""
    keys = set()
    if site_name:
        keys.add(_identity_key(site_name))
    labels = (urlsplit(url or "").hostname or "").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL_LABELS and len(labels[-1]) == 2:
        keys.add(_identity_key(labels[-3]))  # bbc.co.uk, abc.net.au
    elif len(labels) >= 2:
        keys.add(_identity_key(labels[-2]))
    return {key for key in keys if len(key) >= 2}


def _strip_whole_site_name(title: str, site_name: str | None) -> str:
    """Remove a site name that itself contains separators ("… - Remember 80/90 - Memorabilia")."""
    if not site_name or not _TITLE_SEPARATOR_RE.search(site_name) or not title.endswith(site_name):
        return title
    head = title[: -len(site_name)]
    match = re.search(rf"(?:{_TITLE_SEPARATOR_RE.pattern})$", head)
    if match and len(head[: match.start()].strip()) >= _TITLE_MIN_CHARS:
        return head[: match.start()]
    return title


def _is_site_segment(segment: str, site_keys: set[str]) -> bool:
    """Whether a title segment names the site (or is a generic suffix) rather than the story."""
    segment = segment.strip()
    if any(rule.match(segment) for rule in _SITE_SEGMENT_RULES):
        return True
    if len(segment.split()) > 6:
        return False
    key = _identity_key(segment)
    if len(key) < 2:
        return False
    return any(
        key == site
        or site.startswith(key)
        or (key.startswith(site) and _extends_site(segment, site))
        for site in site_keys
    )


def _extends_site(segment: str, site_key: str) -> bool:
    """Whether a segment that starts with a site's name is that name and a word or two ("BBC
    News", "Sky News Australia"), not a headline that starts with it ("comwrap auf der DMEXCO")."""
    words = segment.split()
    return len(words) == 1 or any(_identity_key(" ".join(words[:-n])) == site_key for n in (1, 2))


# --- HTML metadata ---------------------------------------------------------------------------


def _read_language(tree: HtmlElement) -> str | None:
    """The page's primary language subtag ("en" from "en-US"), from <html lang> or meta tags."""
    candidates = [tree.get("lang"), tree.get("xml:lang")]
    candidates += tree.xpath(
        './/meta[@http-equiv="content-language" or @property="og:locale"'
        ' or @name="language" or @itemprop="inLanguage"]/@content'
    )
    for raw in candidates:
        match = re.match(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$", raw or "")
        if match:
            return match.group(1).lower()
    return None


def text_language(text: str) -> str | None:
    """The language of an article's text as CLD2 finds it, when it is sure: its primary subtag
    ("zh" for zh-Hant), "he" and "jv" for CLD2's old "iw" and "jw"; None for an unsure verdict
    or a script without a language ("xx-Arab").

    It beats the page's declaration, which content systems fill with their own default: 10 of
    the dates corpus's 172 declared pages said "en" over Gujarati, Georgian, Arabic, Spanish or
    Thai text, and 22 pages declared nothing. Under MIN_CHARS it is not asked: CLD2 is sure of
    short strings it cannot know ("abc def ghi jkl" is Wolof)."""
    if len(text) < MIN_CHARS:
        return None
    sample = _CONTROL_CHARS_RE.sub(" ", text[:LANGUAGE_SAMPLE_CHARS])
    try:
        reliable, _, found = pycld2.detect(sample, isPlainText=True)
    except (pycld2.error, UnicodeEncodeError):  # a lone surrogate; bytes CLD2 will not read
        return None
    code = found[0][1].split("-")[0]
    if not reliable or code in _CLD2_NO_LANGUAGE or code.startswith("zz"):
        return None
    return _CLD2_OLD_CODES.get(code, code)


# what Chrome (and Internet Explorer before it) writes atop a page it saves: where it was
_SAVED_FROM_RE = re.compile(r"<!--\s*saved from url=\(\d+\)(https?://[^\s>]+?)\s*-->", re.I)


def _http_url(base: str, href: str) -> str | None:
    """`href` made absolute against `base`, when that is an http(s) URL; a protocol-relative
    `//host/path` on a page read from disk is https (it read as file://host/path, dropped)."""
    href = href.strip()
    if href.startswith("//") and urlsplit(base).scheme.lower() not in ("http", "https"):
        href = "https:" + href
    try:
        absolute = urljoin(base, href)
        return absolute if urlsplit(absolute).scheme in ("http", "https") else None
    except ValueError:  # "http://[broken": urllib refuses it
        return None


def _saved_from(html: str, url: str) -> str | None:
    """The address a page saved on disk was saved from, as its browser wrote it atop the page;
    not a made-up one (Internet Explorer's `http://localhost`, `http://internet.e-mail`)."""
    found = _SAVED_FROM_RE.search(html[:4096]) if url[:5].lower() == "file:" else None
    address = _http_url(found[1], "") if found else None
    host = (urlsplit(address).hostname or "") if address else ""
    return address if "." in host and host != "internet.e-mail" else None


def _read_canonical_url(tree: HtmlElement, html: str, url: str) -> str | None:
    """The page's declared canonical URL (link rel=canonical, else og:url), made absolute against
    its <base href> if it has one; a saved page that declares none is at the address it was
    saved from. Before, a saved page's relative canonical was resolved to a file:// URL, and
    dropped, and its saved-from address ignored: no canonical, so no site by host (QA)."""
    saved_from = _saved_from(html, url)
    base = saved_from or url  # a saved page's relative links are from where it was saved
    for href in tree.xpath("./head/base/@href")[:1]:  # the head alone: no walk of the body
        base = _http_url(base, href) or base
    hrefs = tree.xpath('.//link[@rel="canonical"]/@href') + tree.xpath(
        './/meta[@property="og:url"]/@content'
    )
    for href in filter(None, map(str.strip, hrefs)):
        if absolute := _http_url(base, href):
            return absolute
    return saved_from


def _headline_variants(tree: HtmlElement) -> list[str]:
    """The headline as og:title, twitter:title, <title> and <h1> give it."""
    found = _HEADLINE_XPATH(tree)
    return [normalize_text(x if isinstance(x, str) else x.text_content()) for x in found]


def _trafilatura_meta(tree: HtmlElement, url: str) -> trafilatura_metadata.Document:
    """trafilatura's title, author and site name: its extract_metadata without the parts we do
    not use (its own date search, categories, tags, licence), which cost a third of a page."""
    meta = trafilatura_metadata.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:  # trafilatura guards its JSON-LD reader the same way: the meta tags still count
        meta = trafilatura_metadata.extract_meta_json(tree, meta)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as err:
        LOGGER.warning("unreadable JSON-LD metadata at %s: %s", url, err)
    meta.title = meta.title or _title_without_metadata(tree)
    meta.author = meta.author or trafilatura_metadata.extract_author(tree)
    meta.url = meta.url or trafilatura_metadata.extract_url(tree, url)
    host = trafilatura_metadata.META_URL.match(meta.url) if meta.url else None
    if meta.sitename and meta.sitename.startswith("@") and host:
        meta.sitename = host[1]  # the page's host, not its twitter:site handle ("@sndk_nyheder")
    meta.sitename = meta.sitename or trafilatura_metadata.extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif host:
        meta.sitename = host[1]
    meta.clean_and_trim()
    return meta


def _title_without_metadata(tree: HtmlElement) -> str | None:
    """The headline of a page whose <head> names none (no og:title, no JSON-LD headline).

    trafilatura takes a lone <h1>, which on some sites is the site's or the section's name
    ("Allergies Health Center", "Archive of Our Own beta") while <title> holds the headline and
    an <h2> shows it. Its pick stands when it is <title> or one of its parts; else an og:title or
    twitter:title outside <head>; else a heading of the page that is <title> or one of its
    parts; else its pick."""
    picked = trafilatura_metadata.extract_title(tree)
    title = next((normalize_text(t.text_content()) for t in tree.iterfind(".//title")), "")
    parts = {_identity_key(part) for part in _TITLE_SEPARATOR_RE.split(title)} | {
        _identity_key(title)
    }
    parts.discard("")
    if picked and _identity_key(picked) in parts:
        return picked
    stated = [normalize_text(c) for c in _BODY_TITLE_META_XPATH(tree) if c.strip()]
    if stated:
        return stated[0]
    for heading in [*tree.iterfind(".//h1"), *tree.iterfind(".//h2")]:
        text = normalize_text(heading.text_content())
        key = _identity_key(text)
        if len(key) >= _TITLE_MIN_CHARS and key in parts:
            return text
    return picked


def _author_names(author: str, site_name: str | None = None) -> str | None:
    """The byline's names without the date the byline search can take with them ("Joe Wee
    Monday; February", "Ashok Pradhan; TNN; Apr 7"): date words end no name that keeps two words
    (so "Brian May" stays), and a part that is only a date ("Last Updated January 7") goes.

    Nor with the web address beside them, which trafilatura splits into words: "www" ends its
    part ("Www Mrsadiq Info; Sadiq Məmmədov"), and a scheme ends the byline, as the address's
    host and path became the parts after it ("Sputnik https; Cdnarabic; I; Logo Png").

    Nor with a byline's labels in other languages than English ("Par AFP publié le; Mis À Jour
    À"), and each name once ("Jeffrey Gettleman; JEFFREY GETTLEMAN").

    Nor with a tag before a "By" ("WABC By Eyewitness News"). A byline that is the site's name,
    which trafilatura split at its "&" ("Mac; I" for "Mac & i"), is the site's name."""
    if site_name and "&" in site_name and _name_words(author) == _name_words(site_name):
        return site_name
    names = []
    for name in author.split(";"):
        name = _BYLINE_LABEL_RE.sub("", name.strip())
        name = _BYLINE_TRAILER_RE.sub("", _BYLINE_TAG_RE.sub("", name))
        if _BYLINE_ONLY_LABEL_RE.match(name):
            continue
        words = name.split()
        address = next((i for i, word in enumerate(words) if _URL_WORD_RE.match(word)), None)
        ends_byline = address is not None and words[address].lower() != "www"
        words = words[:address]
        kept = list(words)
        while kept and _AUTHOR_DATE_WORD_RE.match(kept[-1]):
            kept.pop()
        kept_name = " ".join(kept if len(kept) >= 2 else words)
        if kept and kept_name.casefold() not in {known.casefold() for known in names}:
            names.append(kept_name)
        if ends_byline:
            break
    return "; ".join(names) or None


def _with_final_marks(author: str | None, html: str) -> str | None:
    """Each name with the combining marks the page writes after it: trafilatura trims the
    characters that end a name and are no word characters, which took the final vowel sign of
    Hindi names ("शुभायन चक्रवर्ती" became "शुभायन चक्रवर्त", "वाराणसी ब्यूरो" "वाराणसी ब्यूर")."""
    if not author or author.isascii():
        return author
    return "; ".join(_name_as_written(name, html) for name in author.split("; "))


def _name_as_written(name: str, html: str) -> str:
    """A name as the page writes it: itself where the page has it whole (no letter or mark
    after it), else the first place where only combining marks end its word, with them."""

    def word_ends(at: int) -> bool:
        following = html[at] if at < len(html) else " "
        return not (following.isalnum() or unicodedata.category(following)[0] == "M")

    with_marks = None
    at = html.find(name)
    while at != -1:
        end = at + len(name)
        if word_ends(end):
            return name
        while end < len(html) and unicodedata.category(html[end])[0] == "M":
            end += 1
        if with_marks is None and end > at + len(name) and word_ends(end):
            with_marks = html[at:end]
        at = html.find(name, at + 1)
    return with_marks or name


def _name_words(name: str) -> list[str]:
    """A name's words, case folded: "Mac & i" and "Mac; I" are both ["mac", "i"]."""
    return _NAME_WORD_RE.findall(name.casefold())


def _site_name(found: str, headlines: list[str] | None = None) -> str | None:
    """The site's name as the page states it, without the copyright notice some pages give in
    its place ("&amp;copy; 2016 aryanews.com", "(c) alarmeringen.nl - All rights reserved",
    "Guinéenews©"): the daily tables show it. None when what the page states is no name: the
    notice alone ("Copyright 2014"), a web address ("https://www.facebook.com/chosun" on a
    chosun.com page), a postal address with phone numbers, or one of the page's `headlines` (a
    blog's or a section's <title>, "JRA競走に勝った… - 【サラブレッドセール…】"); the page's host
    stands in for it."""
    for _ in range(2):  # entities escaped twice: "&amp;copy;"
        found = unescape(found)
    name = normalize_text(_COPYRIGHT_RE.sub("", found))
    if not name or _ADDRESS_SITE_NAME_RE.search(name):
        return None
    if headlines and _holds_headline(name, headlines):
        return None
    return name


def _holds_headline(name: str, headlines: list[str]) -> bool:
    """Whether a stated site name is, or holds, one of the page's headlines: a headline long
    enough not to be the site's own name, within it, or as one of its separated segments."""
    key = _identity_key(name)
    segments = {_identity_key(segment) for segment in _SITE_NAME_SEPARATOR_RE.split(name)}
    for headline in headlines:
        headline_key = _identity_key(headline)
        if len(headline_key) < _HEADLINE_MIN_KEY_CHARS:
            continue
        if (headline_key in key and len(key) > len(headline_key)) or (
            len(segments) > 1 and headline_key == key
        ):
            return True
    return False


def _short_site_name(name: str) -> str:
    """A site name without the slogan or keywords some sites add to it: its first segment that
    is not a generic word ("LinkNaija | Nigeria's popular news platform", "Autoracing | F1 |
    Indy | MotoGP"), and of a description, its first sentence ("Информационное агентство …
    (УНН). Все онлайн новости дня в Украине …"). Parts joined by a full-width bar end with the
    name, as Japanese titles do ("プレスリリース・ニュースリリース配信シェアNo.1｜PR TIMES")."""
    name = next((s for s in reversed(name.split("｜")) if s.strip()), name)
    segments = [s for s in _SITE_NAME_SEPARATOR_RE.split(name) if s.strip()]
    short = next((s for s in segments if not _TITLE_GENERIC_SEGMENT_RE.match(s.strip())), name)
    if len(_NAME_WORD_RE.findall(short)) > _SITE_NAME_MAX_WORDS:
        first_sentence = re.split(r"\.\s+", short, maxsplit=1)[0]
        if len(_NAME_WORD_RE.findall(first_sentence)) >= 2:
            short = first_sentence
    return short.strip()


def _read_page_meta(tree: HtmlElement, html: str, url: str, mode: ExtractionMode) -> _PageMeta:
    """Title, author, site name, language, canonical URL and publication time of a page."""
    meta = _trafilatura_meta(tree, url)
    canonical_url = _read_canonical_url(tree, html, url)
    page_url = meta.url or url  # its og:url or canonical (trafilatura's), else its own
    if page_url[:5].lower() == "file:":  # a saved page: where it was on the web names its site
        page_url = canonical_url or page_url
    headlines = [meta.title or "", *_headline_variants(tree)]
    site_name = _site_name(meta.sitename, headlines) if meta.sitename else None
    if meta.title:
        bare = _EDGE_SEPARATOR_RE.sub("", normalize_text(meta.title))
        title = strip_site_name(bare, page_url, site_name)
    else:
        title = None
    title = _headline_within(title, headlines[1:]) if title else None
    author = _author_names(normalize_text(meta.author), site_name) if meta.author else None
    if not site_name:
        host = trafilatura_metadata.META_URL.match(page_url)
        site_name = host[1] if host else None
    return _PageMeta(
        title=_normalize_title(title),
        author=_with_final_marks(author, html),
        site_name=_short_site_name(site_name) if site_name else None,
        language=_read_language(tree),
        canonical_url=canonical_url,
        published=_read_page_date(tree, html, url, mode),
        headlines=headlines,
    )


# --- main text -------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Text folded for matching lines across extractors: case, punctuation and spacing ignored."""
    return _FOLD_RE.sub(" ", text.casefold()).strip()


def _is_date_line(line: str) -> bool:
    """Whether a short line is nothing but a date or time ("Updated at 1:23 p.m."), perhaps
    followed by a byline ("5:45 AM PST 11/19/2019 by Patrick Shanley")."""
    line = _BYLINE_TAIL_RE.sub("", line)
    words = [word for word in _DATE_LINE_SPLIT_RE.split(line) if word]
    if not words or len(words) > 12 or not any(word.isdigit() for word in words):
        return False
    return bool(_DATE_ANCHOR_RE.search(line)) and all(_DATE_TOKEN_RE.match(w) for w in words)


def _boilerplate_rule(line: str) -> str | None:
    """The name of the boilerplate rule a line matches, else None."""
    if _word_count(line) > BOILERPLATE_MAX_WORDS:
        return "icon_strip" if _BOILERPLATE_RULES["icon_strip"].search(line) else None
    found = next((name for name, rule in _BOILERPLATE_RULES.items() if rule.search(line)), None)
    return found or ("date_line" if _is_date_line(line) else None)


def _strip_boilerplate(text: str, titles: list[str]) -> str:
    """Drop boilerplate lines, the list of links a "Related:" line introduces, and the headline
    repeated at the top of the body (the Document carries the title on its own)."""
    title_keys = {_fold(title) for title in titles if _text_width(_fold(title)) > 10}
    kept: list[str] = []
    in_link_list = False
    for line in text.split("\n"):
        if not line:
            continue
        if in_link_list and line.startswith("- ") and _word_count(line) <= 20:
            continue
        rule = _boilerplate_rule(line)
        in_link_list = rule == "read_more"
        is_headline = len(kept) < HEADLINE_SEARCH_LINES and _is_title_line(line, title_keys)
        if rule is None and not is_headline:
            kept.append(line)
    return "\n".join(kept)


def _text_width(text: str) -> int:
    """A text's width in Latin letters: a Chinese, Japanese or Korean character, a word's worth
    in two, counts two (an eight-character Chinese headline was too short to be dropped)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _is_title_line(line: str, title_keys: set[str]) -> bool:
    """Whether a line is the page's headline (short, and equal to one of its title variants)."""
    return _word_count(line) <= 25 and _fold(line) in title_keys


def _embedded_post_lines(quote: HtmlElement) -> list[str]:
    """The lines of an embedded post: its paragraphs (line breaks kept), then its attribution."""
    for br in quote.iter("br"):
        br.tail = "\n" + (br.tail or "")
    paragraphs = [normalize_text(p.text_content()) for p in quote.iter("p")]
    for p in list(quote.iter("p")):
        p.drop_tree()  # keeps the tail: "— Name (@handle)" follows the last paragraph
    lines = [*paragraphs, normalize_text(quote.text_content())]
    return [line for text in lines for line in text.split("\n") if line]


def _unwrap_embedded_posts(tree: HtmlElement) -> None:
    """Replace embedded tweets (and their social-widget wrappers, which extractors discard)
    with plain paragraphs: the post's text, then its attribution line."""
    for quote in tree.xpath(_EMBEDDED_POST_XPATH):
        quote_key = _fold(quote.text_content())
        wrapper = quote
        while (parent := wrapper.getparent()) is not None and parent.tag not in ("body", "article"):
            if _fold(parent.text_content()) != quote_key:
                break
            wrapper = parent
        if wrapper.getparent() is None:
            continue
        replacement = fromstring("<div></div>")
        for line in _embedded_post_lines(quote):
            paragraph = fromstring("<p></p>")
            paragraph.text = line
            replacement.append(paragraph)
        replacement.tail = wrapper.tail
        wrapper.getparent().replace(wrapper, replacement)


def _drop_inline_popups(tree: HtmlElement) -> None:
    """Remove hover cards and tooltips inside paragraphs, keeping the text that follows them."""
    for popup in _INLINE_POPUP_XPATH(tree):
        popup.drop_tree()


def _extract_candidate(tree: HtmlElement, url: str, **options: bool) -> str:
    """One trafilatura run (it works on its own copy of the tree); empty when it finds nothing."""
    return normalize_text(
        trafilatura.extract(tree, url=url, **_TRAFILATURA_OPTIONS, **options) or ""
    )


def _merge_candidates(precise: str, broad: str) -> str:
    """The precise run, plus sentences the broad run found between its lines; the broad run
    when the precise one found next to nothing (a fragment, a reprint notice)."""
    precise_lines = [line for line in precise.split("\n") if line]
    if not precise_lines or len(precise) < MERGE_FRAGMENT_SHARE * len(broad):
        return broad
    broad_lines = [line for line in broad.split("\n") if line]
    known = set(precise_lines)
    shared = [i for i, line in enumerate(broad_lines) if line in known]
    if len(shared) < 0.5 * len(precise_lines) or not known <= set(broad_lines):
        return precise
    first, last = shared[0], shared[-1]
    merged = [
        line
        for i, line in enumerate(broad_lines)
        if line in known or (first < i < last and _is_sentence_line(line))
    ]
    return "\n".join(merged)


def _is_sentence_line(line: str) -> bool:
    """Whether a line the broad run alone found may join the merge: a sentence, not a label."""
    return _word_count(line) >= MERGE_MIN_WORDS and bool(_SENTENCE_END_RE.search(line))


def _page_lines(tree: HtmlElement) -> list[str]:
    """The page's visible text cut into lines at every element that is not inline, in document
    order: the lines an extractor could return, found without running one."""
    parts: list[str] = []
    hidden = 0  # depth inside elements whose text is not shown (scripts, comments…)
    for event, element in iterwalk(tree, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else None
        is_hidden = tag is None or tag in _HIDDEN_TAGS
        edge = "" if is_hidden or tag in _INLINE_TAGS else "\0"
        if event == "start":
            hidden += is_hidden
            if not hidden:
                parts += [edge, element.text or ""]
        else:
            hidden -= is_hidden
            if not hidden:
                parts += [edge, element.tail or ""]
    text = "".join(parts).translate(_PAGE_LINE_BREAKS)
    return [line for line in text.split("\n") if line and not line.isspace()]


def _broad_run_can_add(tree: HtmlElement, precise: str) -> bool:
    """Whether trafilatura's balanced run could change what _merge_candidates makes of the
    precise run. It can add only what the precise run left out: sentence lines between its first
    and last lines, or, when the precise run is a fragment, the rest of the article. So the
    balanced run is skipped when the page holds neither, and run when the precise lines cannot be
    placed on the page."""
    if not precise:
        return True
    lines = _page_lines(tree)
    keys = [_fold(line) for line in lines]
    kept = {_fold(line) for line in precise.split("\n") if line}
    kept_text = f" {_fold(precise)} "
    placed = [i for i, key in enumerate(keys) if key in kept]
    if len(placed) < 2:
        return True
    left_out = [i for i, key in enumerate(keys) if key and f" {key} " not in kept_text]
    most_broad_could_find = len(kept_text) + sum(len(keys[i]) for i in left_out)
    if len(kept_text) < MERGE_FRAGMENT_SHARE * most_broad_could_find:
        return True
    first, last = placed[0], placed[-1]
    return any(first < i < last and _is_sentence_line(normalize_text(lines[i])) for i in left_out)


def _ancestry(element: HtmlElement, depth: int = 3) -> tuple[str, ...]:
    """Tag and first class of an element's nearest ancestors: its place in the page template."""
    path = []
    for ancestor in element.iterancestors():
        classes = (ancestor.get("class") or "").split()
        path.append(f"{ancestor.tag}.{classes[0] if classes else ''}")
        if len(path) == depth:
            break
    return tuple(path)


def _sibling_chunks(tree: HtmlElement, text: str) -> list[tuple[int, int, str]]:
    """Paragraphs of article chunks the extraction skipped: blocks of paragraphs in the same
    template position as most extracted paragraphs, but in containers it took nothing from.
    Returns (line index to insert after, document position, text) triples."""
    line_index = {_fold(line): i for i, line in enumerate(text.split("\n"))}
    folded_text = _fold(text)
    paragraphs = list(tree.iter("p"))
    matched = {}
    for pos, p in enumerate(paragraphs):
        key = _fold(p.text_content())
        if key and key in line_index:
            matched[pos] = line_index[key]
    if len(matched) < 2:
        return []
    ancestries = [_ancestry(paragraphs[pos]) for pos in matched]
    template = max(set(ancestries), key=ancestries.count)
    if ancestries.count(template) < max(2, len(matched) / 2):
        return []
    taken = {paragraphs[pos].getparent() for pos in matched}
    blocks: dict[HtmlElement, list[tuple[int, int, str]]] = {}
    for pos, p in enumerate(paragraphs):
        if pos in matched or p.getparent() in taken or _ancestry(p) != template:
            continue
        content = normalize_text(p.text_content())
        if len(content) < SIBLING_MIN_CHARS or not _SENTENCE_END_RE.search(content):
            continue
        if _fold(content) in folded_text or _boilerplate_rule(content):
            continue
        after = max((line for q, line in matched.items() if q < pos), default=-1)
        blocks.setdefault(p.getparent(), []).append((after, pos, content))
    return sorted(chunk for block in blocks.values() if len(block) >= 2 for chunk in block)


def _recover_sibling_chunks(tree: HtmlElement, text: str) -> str:
    """Insert the paragraphs of skipped sibling chunks (articles split around ads) in place."""
    chunks = _sibling_chunks(tree, text)
    if not chunks:
        return text
    lines = text.split("\n")
    inserts: dict[int, list[str]] = {}
    for after, _, content in chunks:
        inserts.setdefault(after, []).append(content)
    result = inserts.get(-1, [])
    for i, line in enumerate(lines):
        result += [line, *inserts.get(i, [])]
    return "\n".join(result)


def _detect_wall(text: str) -> str | None:
    """The name of the wall rule a short text matches (cookie, login, paywall…), else None."""
    if _word_count(text) > WALL_MAX_WORDS:
        return None
    return next((name for name, rule in _WALL_RULES.items() if rule.search(text)), None)


def _rejection_reason(text: str) -> str | None:
    """Why a text is not a usable article: no_text, not_article (a wall) or too_short."""
    if not text.strip():
        return "no_text"
    if _detect_wall(text):
        return "not_article"
    if _word_count(text) < MIN_WORDS and len(text) < MIN_CHARS:
        return "too_short"
    return None


# --- text scrapes ----------------------------------------------------------------------------


def _parse_dateline(line: str) -> datetime | None:
    """The moment a dateline line states ("12 Aug, 2021 16:21", "Thu 12 Aug 2021 10.29 BST"),
    else None. A line read as a date but in no shape here loses its date with the line (a
    weekday before it, a time with a dot, "p.m." or a zone's name did, before)."""
    for rule in _DATELINE_RULES.values():
        match = rule.match(line)
        if match:
            return _dateline_moment(match.groupdict())
    return None


def _dateline_moment(fields: dict[str, str | None]) -> datetime | None:
    if fields.get("iso"):
        return _parse_datetime_string(fields["iso"])
    day, month = _day_and_month(fields)
    if day is None or month is None:
        return None
    hour, minute = map(int, re.split(r"[:.]", fields.get("time") or "0:00"))
    if fields.get("ampm") and hour <= 12:  # "16:21 AM" is 16:21
        hour = hour % 12 + (12 if fields["ampm"].lower() == "p" else 0)
    try:
        moment = datetime(int(fields["year"] or 0), month, day, hour, minute)
    except ValueError:
        return None
    offset = _zone_offset(fields.get("tz"))
    if offset is None:
        return moment  # no zone, or one not known: the site's own time
    return _parse_datetime_string(moment.strftime("%Y-%m-%dT%H:%M") + offset)


def _day_and_month(fields: dict[str, str | None]) -> tuple[int | None, int | None]:
    """A dateline's day and month, the month named or numbered; two numbers split by slashes
    only when one is over 12 (12/08/2021 is August in London and December in New York)."""
    if fields.get("first"):
        first, second = int(fields["first"]), int(fields["second"] or 0)
        if first > 12 >= second:
            return first, second
        if second > 12 >= first:
            return second, first
        return None, None
    month = fields["month"] or ""
    number = int(month) if month.isdigit() else _MONTH_NUMBERS.get(month[:3].lower())
    return int(fields["day"] or 0), number


_MONTH_NUMBERS = {
    name: number for number, name in enumerate(_MONTHS.replace("|sept", "").split("|"), 1)
}  # not calendar.month_abbr, which is the locale's


def _zone_offset(zone: str | None) -> str | None:
    """A dateline zone as an ISO offset ("GMT+4:30" -> "+04:30"), None when unknown."""
    if not zone:
        return None
    zone = zone.strip().upper()
    if zone in _ZONE_OFFSETS:
        return _ZONE_OFFSETS[zone]
    found = re.fullmatch(r"(?:GMT|UTC)?\s*([+-])(\d{1,2}):?(\d{2})?", zone)
    if found is None:
        return None
    sign, hours, minutes = found.groups()
    if int(hours) > 14 or int(minutes or 0) > 59:  # no zone is: GMT+24 failed the whole page
        return None
    return f"{sign}{int(hours):02d}:{minutes or '00'}"


def _is_headline(line: str) -> bool:
    """Whether a line is shaped like a headline: short, and not a sentence-ending paragraph."""
    if len(line) > _HEADLINE_MAX_CHARS or _word_count(line) > _HEADLINE_MAX_WORDS:
        return False
    return not (line.endswith(".") and _word_count(line) > 12)


def _split_scrape(lines: list[str]) -> tuple[str | None, datetime | None, list[str]]:
    """Title, dateline moment and body lines of a scrape's non-empty lines; the first dateline
    gives the moment, one labelled "Updated" only when no other dateline is there."""
    title: str | None = None
    moment: datetime | None = None
    updated: datetime | None = None
    body: list[str] = []
    for line in lines:
        stated = _parse_dateline(line)
        if stated is not None and _UPDATED_DATELINE_RE.match(line):
            updated = updated or stated
            continue
        if stated is not None:
            moment = moment or stated
            continue
        if _boilerplate_rule(line):
            continue
        if title is None and not body and _is_headline(line):
            title = line
            continue
        if title is not None and line.casefold() == title.casefold():
            continue
        body.append(line)
    return title, moment or updated, body


# --- documents -------------------------------------------------------------------------------


def _merge_feed_entry(meta: _PageMeta, text: str, entry: FeedEntry | None) -> tuple[_PageMeta, str]:
    """Fill what the page did not give from its feed entry: title, author, a stated time (the
    feed's time beats a day guessed from the page), and the summary when the page has no text."""
    if entry is None:
        return meta, text
    meta.title = meta.title or _normalize_title(entry.title)
    meta.author = meta.author or (normalize_text(entry.author) if entry.author else None)
    stated = _to_published(entry.published_at) if entry.published_at else None
    if stated and (meta.published is None or not meta.published.exact):
        meta.published = stated._replace(offset=None)  # feeds reach us in UTC, offset unknown
    if _rejection_reason(text) and entry.summary:
        summary = normalize_text(entry.summary)  # plain text as the feed reader gives it
        if _rejection_reason(summary) is None:
            text = summary
    return meta, text


def _document(
    url: str, source_name: str, meta: _PageMeta, text: str, rejected_reason: str | None = None
) -> Document:
    """A Document from metadata and main text, rejected with a reason when the text is unusable."""
    return Document(
        url=url,
        source_name=source_name,
        canonical_url=meta.canonical_url,
        title=meta.title,
        author=meta.author,
        site_name=meta.site_name,
        language=text_language(text) or meta.language,
        published_at=meta.published.at if meta.published else None,
        published_offset=meta.published.offset if meta.published else None,
        text=text,
        rejected_reason=rejected_reason or _rejection_reason(text),
    )


def _is_text_scrape(fetch: FetchResult) -> bool:
    """Whether a fetch is a plain-text scrape rather than HTML (by content type, else by name)."""
    content_type = (fetch.content_type or "").split(";")[0].strip().lower()
    if content_type:
        return content_type in TEXT_CONTENT_TYPES
    return urlsplit(fetch.final_url or fetch.url).path.lower().endswith(".txt")


class _CleanTimeout(BaseException):
    """A page's clean outlasted its bound. A BaseException, like KeyboardInterrupt, so that the
    extractors' own `except Exception` clauses cannot swallow it and carry on."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _CleanTimeout in the block after `seconds` of wall time, and each second after
    that until the block ends. A SIGALRM timer, so it interrupts Python code and regular
    expressions but not a single long call into C (lxml parses a page in one call). Signals reach
    only a process's main thread; elsewhere, or with seconds 0, it does nothing."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _CleanTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _parse_html(html: str, url: str) -> HtmlElement | None:
    """The page's tree as trafilatura's load_html builds it from a string, parsed by _PAGE_PARSER:
    repaired first, parsed again as bytes when lxml refuses the string (an encoding declaration)
    or finds no element in it; None (logged) when there is nothing to parse, or when a page that
    does not say it is HTML parses to less than a head and a body."""
    if not html.strip():
        return None
    beginning = html[:50].lower()
    html = trafilatura_utils.repair_faulty_html(html, beginning)
    try:
        tree = fromstring(html, parser=_PAGE_PARSER)
    except (LxmlError, ValueError):
        tree = None
    if tree is None or len(tree) < 1:
        try:
            tree = fromstring(html.encode("utf8", "surrogatepass"), parser=_PAGE_PARSER)
        except (LxmlError, ValueError) as err:
            LOGGER.warning("unparseable HTML at %s: %s", url, err)
            return None
    if trafilatura_utils.is_dubious_html(beginning) and len(tree) < 2:
        LOGGER.warning("not HTML at %s: it parses to %d elements", url, len(tree))
        return None
    return tree


# --- public functions ----------------------------------------------------------------------


def local_day(published_at: datetime, published_offset: str | None) -> str:
    """The publication day (YYYY-MM-DD) as the publisher's own clock showed it."""
    if published_offset:
        sign = -1 if published_offset.startswith("-") else 1
        hours, minutes = published_offset[1:].split(":")
        offset = timedelta(hours=int(hours), minutes=int(minutes)) * sign
        return published_at.astimezone(timezone(offset)).date().isoformat()
    return published_at.date().isoformat()


def strip_site_name(title: str, url: str | None, site_name: str | None) -> str:
    """Remove a leading or trailing site name ("… | BBC News") from a title, never the headline."""
    title = _strip_whole_site_name(title, site_name)
    site_keys = _site_keys(url, site_name)
    parts = _TITLE_SEPARATOR_RE.split(title)
    separators = _TITLE_SEPARATOR_RE.findall(title)
    while len(parts) > 1 and _is_site_segment(parts[-1], site_keys):
        candidate = title[: title.rfind(separators[-1])]
        if len(candidate.strip()) < _TITLE_MIN_CHARS:
            break
        title, parts, separators = candidate, parts[:-1], separators[:-1]
    while len(parts) > 1 and _is_site_segment(parts[0], site_keys):
        candidate = title[title.find(separators[0]) + len(separators[0]) :]
        if len(candidate.strip()) < _TITLE_MIN_CHARS:
            break
        title, parts, separators = candidate, parts[1:], separators[1:]
    return title.strip()


def _headline_within(title: str, headlines: list[str]) -> str:
    """A title's part that is, whole, one of the page's headlines (its h1): the rest is a
    section's or a site's name in a form the site name does not give ("… - 自由財經" on 自由時報,
    "خبرگزاری آریا - …" on aryanews.com). The longest such part, if the longer one of the title
    (a blog's name in its h1 is not its post's headline); the title when none is."""
    keys = {_identity_key(headline) for headline in headlines}
    parts = [
        part.strip()
        for found in _TITLE_SEPARATOR_RE.finditer(title)
        for part in (title[: found.start()], title[found.end() :])
    ]
    within = [
        part
        for part in parts
        if len(_identity_key(part)) >= _TITLE_MIN_CHARS
        and _identity_key(part) in keys
        and len(part) > len(title) / 2
    ]
    return max(within, key=len, default=title)


def extract_main_text(
    tree: HtmlElement,
    url: str,
    titles: list[str] | None = None,
    mode: ExtractionMode = ExtractionMode.thorough,
) -> str:
    """The article body of a parsed page.

    trafilatura's precise run, widened with sentences its balanced run finds in between (run only
    where the page has such sentences to find), then skipped sibling chunks recovered and
    boilerplate lines (and a repeated headline) dropped. The fast mode runs trafilatura once,
    balanced, without its readability and jusText fallbacks (it scores higher than the precise
    run alone, for about the same CPU).

    Args:
        tree: the parsed page; embedded posts in it are unwrapped in place.
        url: the page URL.
        titles: the page's headline variants (title, og:title, h1), to drop from the body top.
        mode: thorough or fast (ExtractionMode).

    Returns:
        The normalised main text, paragraphs one per line; empty when there is none.
    """
    _unwrap_embedded_posts(tree)
    _drop_inline_popups(tree)
    if mode == ExtractionMode.fast:
        text = _extract_candidate(tree, url, fast=True)
    else:
        text = _extract_candidate(tree, url, favor_precision=True)
        if _broad_run_can_add(tree, text):
            text = _merge_candidates(text, _extract_candidate(tree, url))
    text = _strip_boilerplate(text, titles or [])
    return _recover_sibling_chunks(tree, text)


def normalize_text(text: str) -> str:
    """NFC, one kind of space and line break, no invisible characters, at most one blank line.

    Idempotent: normalize_text(normalize_text(t)) == normalize_text(t).
    """
    text = _LINE_BREAK_RE.sub("\n", text)
    text = _INVISIBLE_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES_RE.sub("\n\n", text).strip()
    return unicodedata.normalize("NFC", text)


def clean_html(
    html: str,
    url: str,
    source_name: str = "",
    *,
    feed_entry: FeedEntry | None = None,
    mode: ExtractionMode = ExtractionMode.thorough,
) -> Document:
    """Main text and metadata of an HTML page.

    Args:
        html: the decoded page.
        url: the URL it was fetched from (used for relative links and the site name).
        source_name: the configured source it came from.
        feed_entry: the feed entry that linked to the page, filling what the page lacks.
        mode: how much work to spend on its text and date (ExtractionMode).

    Returns:
        A Document; rejected ("no_text", "too_short", "not_article") when the page has no article.
    """
    tree = _parse_html(html, url)
    if tree is None:
        meta, text = _PageMeta(), ""
    else:
        meta = _read_page_meta(tree, html, url, mode)
        text = extract_main_text(tree, url, meta.headlines, mode)
    return _document(url, source_name, *_merge_feed_entry(meta, text, feed_entry))


def read_publication_time(
    html: str, url: str, mode: ExtractionMode = ExtractionMode.thorough
) -> tuple[datetime, str | None] | None:
    """The publication time an HTML page states, as clean_html reads it.

    Args:
        html: the decoded page.
        url: its URL (dates in URLs count as evidence).
        mode: thorough (htmldate's extensive search) or fast (its quick one).

    Returns:
        (UTC datetime, original offset such as "+04:30" or None), or None when the page has none.
    """
    tree = _parse_html(html, url)
    stamp = _read_page_date(tree, html, url, mode) if tree is not None else None
    return (stamp.at, stamp.offset) if stamp else None


def clean_text_scrape(
    text: str, url: str, source_name: str = "", *, feed_entry: FeedEntry | None = None
) -> Document:
    """Main text and metadata of a plain-text scrape: junk lines out, headline and dateline read.

    Args:
        text: the scraped text, UI junk included.
        url: where it came from (a file:// URI for files on disk).
        source_name: the configured source it came from.
        feed_entry: the feed entry that linked to it, filling what the scrape lacks.

    Returns:
        A Document whose title is the first headline line and whose time is the first dateline.
    """
    lines = [line for line in normalize_text(text).split("\n") if line]
    title, moment, body = _split_scrape(lines)
    meta = _PageMeta(
        title=_normalize_title(title), published=_to_published(moment) if moment else None
    )
    return _document(url, source_name, *_merge_feed_entry(meta, "\n".join(body), feed_entry))


def clean_page(fetch: FetchResult, mode: ExtractionMode = ExtractionMode.thorough) -> Document:
    """Clean one fetched page: HTML or text scrape by content type, feed entry filling the gaps.

    Args:
        fetch: a FetchResult with outcome "ok" and its decoded body in `html`.
        mode: how much work to spend on an HTML page's text and date (ExtractionMode).

    Returns:
        A Document with `fetch` attached; url is the final URL (else the requested one).
    """
    doc = clean_fetch(fetch, mode)
    doc.fetch = fetch
    return doc


def clean_fetch(fetch: FetchResult, mode: ExtractionMode, page_seconds: float = 0) -> Document:
    """Clean one fetch without attaching it: what an extraction worker sends back.

    A page that breaks an extractor is logged with its traceback and recorded as rejected
    "clean_error", one that takes longer than `page_seconds` (0: no bound; the extraction pool's
    workers set one) as "clean_timeout": cleaning is deterministic, so failing the batch (or
    waiting on it) would only lose its other pages.
    """
    url = fetch.final_url or fetch.url
    entry = fetch.item.feed_entry if fetch.item else None
    try:
        with _time_limit(page_seconds):
            if _is_text_scrape(fetch):
                return clean_text_scrape(fetch.html or "", url, fetch.source_name, feed_entry=entry)
            return clean_html(fetch.html or "", url, fetch.source_name, feed_entry=entry, mode=mode)
    except _CleanTimeout:
        LOGGER.error(
            "cleaning %s took more than %s s; recorded as rejected clean_timeout", url, page_seconds
        )
        return rejected_document(fetch, "clean_timeout")
    except Exception:
        LOGGER.exception("cleaning %s failed; recorded as rejected clean_error", url)
        return rejected_document(fetch, "clean_error")


def clean_fetches(
    fetches: list[FetchResult], clean: Callable[[FetchResult], Document]
) -> list[Document]:
    """A chunk of an extraction pool's pages, cleaned in order by `clean` (clean_fetch with its
    mode and bound): one pool task a chunk, as pool.map sends them."""
    return [clean(fetch) for fetch in fetches]


def rejected_document(fetch: FetchResult, reason: str) -> Document:
    """The Document of a page whose clean failed, with no text or metadata: its row says why."""
    return _document(fetch.final_url or fetch.url, fetch.source_name, _PageMeta(), "", reason)


def start_worker(level: int, pool_owner: int) -> None:
    """An extraction worker's start: it takes Ctrl-C again (its fork server was started with
    Ctrl-C blocked, tasks/clean.py), logs as the flow does, and ends when `pool_owner`, the
    process whose pool it serves, is gone."""
    unblock_sigint()
    log_to_stderr(level)
    watch = threading.Thread(target=_exit_without, args=(pool_owner,), name="pool-owner-watch")
    watch.daemon = True
    watch.start()


def _exit_without(pool_owner: int, every: float = 0.5) -> None:
    """Exit this worker once the process that owns its pool has died (SIGKILL, the OOM killer).

    A worker waiting for its next page never learns it otherwise: it holds its task queue's
    writing end itself. And while it lives, so does the fork server, whose children hold its
    "parent alive" pipe: a killed `newsflow` left its fork server and workers running, about
    350 MB, until the machine restarted."""
    try:
        owner = psutil.Process(pool_owner)
        while owner.is_running() and owner.status() != psutil.STATUS_ZOMBIE:
            time.sleep(every)
    except psutil.NoSuchProcess:
        pass
    os._exit(1)


def log_to_stderr(level: int) -> None:
    """An extraction worker's logging: what it logs at `level` and above (a page given up on, an
    extractor's traceback) goes to stderr in the format of the flow's own lines. The flow process
    has Prefect set its logging up; the workers do not import Prefect."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
