"""Deduplication primitives: canonical URL keys, text hashes, MinHash signatures, LSH buckets."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import numpy as np
from courlan.clean import decode_punycode, normalize_part
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from tasks.records import Document

LOGGER = logging.getLogger(__name__)

SHINGLE_SIZE = 5  # words per shingle
NUM_PERM = 128  # MinHash permutations (signature length)
BANDS = 32  # LSH bands of ROWS slots: P(candidate) = 1 - (1 - J^4)^32, 0.87 at J = 0.5
ROWS = NUM_PERM // BANDS  # 0.99 at 0.6, 0.23 at 0.3, 0.05 at 0.2, 0.003 at 0.1
# A shared canonical URL makes one story only where one text holds at least this share of the
# other's shingles (an AMP teaser's few are all in the article): a CMS that gave two stories one
# canonical (a template's, a copy-paste) merged them; search engines, too, take a canonical as a
# hint to check against the pages
CANONICAL_CONTAINMENT = 0.5
NEAR_THRESHOLD = 0.5  # least estimated Jaccard of 5-word shingles for a near duplicate: a new
# headline + one edited paragraph leaves 150-word reports at ~0.5-0.8, 400+ words at 0.6-0.95;
# unrelated news pairs stay below 0.16 and a follow-up reusing half the text scores ~0.36

_MERSENNE = np.uint64((1 << 61) - 1)
_LOW32 = np.uint64(0xFFFFFFFF)
_EMPTY_SLOT = 0xFFFFFFFF  # every slot of the signature of a text without words
_SHIFT_61 = np.uint64(61)
_POLY_BASE = np.uint64(0x100000001B3)  # FNV-64 prime: shingle hash = polynomial over word hashes
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 finaliser constants
_MIX_2 = np.uint64(0x94D049BB133111EB)
_CHUNK_SHINGLES = 1024  # shingles per broadcast: a (128, n) uint64 matrix that stays in cache
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_PREFIXES = frozenset({"www", "amp", "m", "mobile"})
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "wbraid",
        "gbraid", "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid", "cmp",
        "intcmp", "icid", "ocid", "smid", "smtyp", "ito", "xtor", "ftag", "soc_src", "soc_trk",
        "_ga", "_gl", "__twitter_impression", "sr_share", "s_cid", "spm",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "_hs")
_AMP_QUERY_VALUES = {"amp": {"", "1", "true", "yes"}, "outputtype": {"amp"}, "output": {"amp"}}
_AMP_SUFFIX_RE = re.compile(r"(?:\.amp)+(?=(?:\.html?)?$)")
_HTTP_SCHEME_RE = re.compile(r"^https?://", re.IGNORECASE)
_WORD_JOINER_RE = re.compile(r"(?<=\w)['\u2019\u02bc.](?=\w)")  # don't, U.S. -> dont, us
_WORD_RE = re.compile(r"[^\W_]+")
# A declared canonical URL names an article only on a real host: not "http://" (an empty template
# variable) nor "{{url}}"; and not the home page under another name ("/index.html", "/home").
# Any host a URL may name (localhost, a port, [::1]): not extraction's _HOSTLIKE_SEGMENT_RE,
# which wants a dotted name ending in a letter TLD, as a site's name in a page title is.
_CANONICAL_HOST_RE = re.compile(r"[\w-]+(?:\.[\w-]+)*(?::\d+)?|\[[0-9a-f:.]+\](?::\d+)?")
_HOME_PAGE_RE = re.compile(r"(?:(?:index|default|home)(?:\.[a-z]+)?)?", re.IGNORECASE)


def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed (a, b) for h(x) = (a*x + b) mod (2^61 - 1), derived from sha256 so they never drift."""
    a = np.empty((num_perm, 1), dtype=np.uint64)
    b = np.empty((num_perm, 1), dtype=np.uint64)
    for i in range(num_perm):
        digest = hashlib.sha256(f"newsflow-minhash-{i}".encode()).digest()
        a[i, 0] = int.from_bytes(digest[:8], "little") % 0xFFFFFFFF + 1  # a*x < 2^64: exact
        b[i, 0] = int.from_bytes(digest[8:16], "little") % int(_MERSENNE)
    return a, b


_PERM_A, _PERM_B = _permutations(NUM_PERM)


@dataclass
class Fingerprint:
    """What dedupe knows about one document: its identity keys, text hash and MinHash buckets."""

    article_id: str
    url_key: str
    canonical_key: str | None
    text_hash: str
    signature: np.ndarray
    buckets: list[int]
    shingles: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint32))  # distinct, sorted


@dataclass(frozen=True)
class BatchMatch:
    """Why a fingerprint duplicates an earlier one of its batch; `index` is its group's first."""

    index: int
    kind: str  # "canonical_url", "exact" or "near"
    similarity: float | None  # estimated Jaccard with the member it matched directly


def _canonical_host(hostname: str) -> str:
    """Lowercase, punycode-decoded host without trailing dot or www./amp./m./mobile. labels."""
    labels = decode_punycode(hostname.lower().rstrip(".")).split(".")
    while len(labels) > 2 and labels[0] in _HOST_PREFIXES:
        labels.pop(0)
    return ".".join(labels)


def _path_segments(segments: list[str]) -> list[str]:
    """One pass: drop empty, '.' and 'amp' segments, resolve '..', strip a trailing .amp suffix."""
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            kept = kept[:-1]
        elif segment not in ("", ".", "amp"):
            kept.append(segment)
    if kept:
        kept[-1] = _AMP_SUFFIX_RE.sub("", kept[-1])
    return kept


def _canonical_path(path: str) -> str:
    """Path without duplicate or trailing slashes and AMP markers, percent-encoded alike."""
    segments = path.split("/")
    while (reduced := _path_segments(segments)) != segments:
        segments = reduced  # each changing pass shortens the path, so this ends
    return normalize_part("/" + "/".join(segments))


def _is_noise_param(key: str, value: str) -> bool:
    """Tracking parameters and AMP switches: they never change which article a URL names."""
    key = key.lower()
    if key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES):
        return True
    return value.lower() in _AMP_QUERY_VALUES.get(key, ())


def _canonical_query(query: str) -> str:
    """Remaining parameters, sorted and re-encoded one way."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(sorted((k, v) for k, v in pairs if not _is_noise_param(k, v)))


def _canonical_http_url(url: str) -> str | None:
    """The canonical form of an http(s) URL, or None when it is not one urllib can take apart."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    port = parts.port
    host = _canonical_host(parts.hostname)
    if not host or any(char.isspace() for char in host):
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit(
        (scheme, netloc, _canonical_path(parts.path), _canonical_query(parts.query), "")
    )


def canonical_url(url: str) -> str:
    """The one spelling of a URL that all its variants share; never raises.

    Lowercases scheme and host, drops default ports, userinfo, fragments, tracking parameters and
    AMP/mobile markers (amp./m./mobile./www. hosts, /amp segments, .amp suffixes, ?amp=1,
    outputType=amp), sorts the query, collapses duplicate slashes and drops a trailing slash
    except the root's. file:// URIs only lose their fragment; anything that is not an http(s)
    URL urllib can parse comes back stripped but otherwise unchanged.

    Args:
        url: any string.

    Returns:
        The canonical URL, e.g. "https://example.com/news/a?id=1".
    """
    stripped = url.strip()
    if stripped[:7].lower() == "file://":
        return stripped.partition("#")[0].rstrip()
    try:
        # urllib raises ValueError for bad ports and netlocs, UnicodeEncodeError (a ValueError)
        # for lone surrogates: both mean "not a URL we can take apart".
        canonical = _canonical_http_url(stripped)
    except ValueError:
        return stripped
    return stripped if canonical is None else canonical


def url_key(url: str) -> str:
    """The identity of an article: its canonical URL without the http(s) scheme.

    Args:
        url: any string; http and https variants give the same key.

    Returns:
        e.g. "example.com/news/a?id=1"; non-http(s) URIs keep their scheme ("file:///x").
    """
    return _HTTP_SCHEME_RE.sub("", canonical_url(url), count=1).strip()


def article_id(key: str) -> str:
    """The first 16 hex characters of sha1(key): the articles.id of a url_key."""
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _words(text: str) -> list[str]:
    """Casefolded NFKC words with punctuation stripped (inside words) or split on (between)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD_RE.findall(_WORD_JOINER_RE.sub("", folded))


def normalize_for_hash(text: str) -> str:
    """Text reduced to what makes it different: casefolded NFKC words, one space apart."""
    return " ".join(_words(text))


def text_hash(text: str) -> str:
    """sha1 hex of normalize_for_hash(text): equal for texts differing only in case/punctuation."""
    return hashlib.sha1(normalize_for_hash(text).encode("utf-8", "surrogatepass")).hexdigest()


def _shingle_hashes(words: list[str], size: int = SHINGLE_SIZE) -> np.ndarray:
    """32-bit hashes of every `size`-word shingle (of all the words when there are fewer).

    Each word is crc32-hashed once; a shingle's hash is a polynomial over its words' hashes
    (wrapping uint64) passed through the splitmix64 finaliser, top 32 bits kept.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    tokens = np.array([zlib.crc32(w.encode("utf-8", "surrogatepass")) for w in words], np.uint64)
    width = min(size, tokens.size)
    count = tokens.size - width + 1
    acc = np.zeros(count, dtype=np.uint64)
    for offset in range(width):
        acc *= _POLY_BASE
        acc += tokens[offset : offset + count]
    acc ^= acc >> np.uint64(30)
    acc *= _MIX_1
    acc ^= acc >> np.uint64(27)
    acc *= _MIX_2
    acc ^= acc >> np.uint64(31)
    return acc >> np.uint64(32)


def _perm_params(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    if num_perm == NUM_PERM:
        return _PERM_A, _PERM_B
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    return _permutations(num_perm)


def _permute_min(hashes: np.ndarray, perm_a: np.ndarray, perm_b: np.ndarray) -> np.ndarray:
    """(a*x + b) mod (2^61 - 1), low 32 bits, as one (num_perm, n) broadcast reduced in place."""
    values = perm_a * hashes  # exact: a < 2^32 and x < 2^32
    high = values >> _SHIFT_61
    values &= _MERSENNE
    values += high  # x mod (2^61 - 1) for a Mersenne prime, up to one extra modulus
    values += perm_b
    np.right_shift(values, _SHIFT_61, out=high)
    values &= _MERSENNE
    values += high
    values[values >= _MERSENNE] -= _MERSENNE
    values &= _LOW32
    return values


def _signatures(shingle_sets: list[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash signatures of many shingle-hash arrays, one broadcast per chunk of shingles."""
    perm_a, perm_b = _perm_params(num_perm)
    out = np.full((len(shingle_sets), num_perm), _EMPTY_SLOT, dtype=np.uint32)
    filled = [i for i, hashes in enumerate(shingle_sets) if hashes.size]
    start = 0
    while start < len(filled):
        stop, total = start, 0
        while stop < len(filled) and (stop == start or total < _CHUNK_SHINGLES):
            total += shingle_sets[filled[stop]].size
            stop += 1
        members = filled[start:stop]
        slots = _permute_min(np.concatenate([shingle_sets[i] for i in members]), perm_a, perm_b)
        offsets = np.cumsum([0] + [shingle_sets[i].size for i in members[:-1]])
        out[members] = np.minimum.reduceat(slots, offsets, axis=1).T
        start = stop
    return out


def minhash_signature(text: str, num_perm: int = NUM_PERM) -> np.ndarray:
    """MinHash of the text's SHINGLE_SIZE-word shingles (on normalize_for_hash words).

    Args:
        text: any text; one with no words gets all slots 0xFFFFFFFF (and no LSH buckets).
        num_perm: signature length.

    Returns:
        uint32 array of shape (num_perm,), identical in every process and on every run.
    """
    return _signatures([_shingle_hashes(_words(text))], num_perm)[0]


def band_buckets(signature: np.ndarray, bands: int = BANDS) -> list[int]:
    """LSH buckets: one unsigned 64-bit hash per band of the signature (position = band number).

    Args:
        signature: a MinHash signature whose length `bands` divides.
        bands: how many bands to cut it into.

    Returns:
        `bands` ints in [0, 2^64), or [] for the signature of a text without words.
    """
    values = np.asarray(signature, dtype="<u4")
    if values.ndim != 1 or bands < 1 or values.size % bands:
        raise ValueError(f"a signature of shape {values.shape} cannot be cut into {bands} bands")
    if (values == _EMPTY_SLOT).all():
        return []
    return [
        int.from_bytes(
            hashlib.blake2b(
                band.tobytes(), digest_size=8, salt=number.to_bytes(2, "little")
            ).digest(),
            "little",
        )
        for number, band in enumerate(values.reshape(bands, -1))
    ]


def estimate_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two texts: the fraction of equal signature slots."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"signatures of shapes {a.shape} and {b.shape} cannot be compared")
    return float(np.count_nonzero(a == b)) / a.size


def near_duplicate_of(
    signature: np.ndarray, candidates: dict[str, np.ndarray], threshold: float = NEAR_THRESHOLD
) -> tuple[str, float] | None:
    """The most similar candidate at or above the threshold (ties: smallest id), else None.

    Args:
        signature: the new document's signature.
        candidates: article id -> signature, e.g. fetched through shared LSH buckets.
        threshold: least estimated Jaccard similarity that counts.

    Returns:
        (article id, estimated similarity) or None.
    """
    best: tuple[str, float] | None = None
    for candidate_id in sorted(candidates):
        try:
            similarity = estimate_similarity(signature, candidates[candidate_id])
        except ValueError as exc:
            raise ValueError(f"candidate {candidate_id}: {exc}") from None
        if similarity >= threshold and (best is None or similarity > best[1]):
            best = (candidate_id, similarity)
    return best


def _canonical_key(doc: Document) -> str | None:
    """url_key of the declared canonical URL; ignored when it names no host or an article
    declares its site's home page (every page of such a template would be one story)."""
    declared = (doc.canonical_url or "").strip()
    if not declared:
        return None
    if "://" not in declared:
        try:
            declared = urljoin(doc.url, declared)  # a relative <link rel=canonical>
        except ValueError:
            return None
    key = url_key(declared)
    if not _HTTP_SCHEME_RE.match(canonical_url(declared)):
        return None  # "about:blank", "urn:…": not a web page
    if not _CANONICAL_HOST_RE.fullmatch(key.partition("/")[0]):
        return None  # "http://" (no host), "https://{{url}}" (a template never filled in)
    own = url_key(doc.url)
    if _is_site_root(key) and not _is_site_root(own):
        return None  # CMS templates that point every article at the home page
    return key


def _is_site_root(key: str) -> bool:
    """A home page: "/" or "/index.html", "/default.aspx", "/home", with no query."""
    host, slash, rest = key.partition("/")
    return bool(host) and slash == "/" and _HOME_PAGE_RE.fullmatch(rest) is not None


def fingerprints(docs: list[Document]) -> list[Fingerprint]:
    """Fingerprints of many documents, their MinHash computed in shared numpy broadcasts.

    Args:
        docs: documents (rejected ones too; callers usually filter them out first).

    Returns:
        One Fingerprint per document, in order.
    """
    words = [_words(doc.text) for doc in docs]
    hashes = [_shingle_hashes(w) for w in words]
    signatures = _signatures(hashes, NUM_PERM)
    result = []
    for doc, doc_words, doc_hashes, signature in zip(docs, words, hashes, signatures, strict=True):
        key = url_key(doc.url)
        normalized = " ".join(doc_words)
        result.append(
            Fingerprint(
                article_id=article_id(key),
                url_key=key,
                canonical_key=_canonical_key(doc),
                text_hash=hashlib.sha1(normalized.encode("utf-8", "surrogatepass")).hexdigest(),
                signature=signature,
                buckets=band_buckets(signature),
                shingles=np.unique(doc_hashes).astype(np.uint32),
            )
        )
    return result


def shingle_set(text: str) -> np.ndarray:
    """A text's distinct shingle hashes, sorted (a Fingerprint's `shingles`)."""
    return np.unique(_shingle_hashes(_words(text))).astype(np.uint32)


def fingerprint(doc: Document) -> Fingerprint:
    """The Fingerprint of one document: url_key/article_id from doc.url, canonical key, hashes."""
    return fingerprints([doc])[0]


def shares_a_story(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two texts that share a canonical URL (their distinct shingles) are one story: one
    holds at least CANONICAL_CONTAINMENT of the other's. Counted exactly, not estimated from
    MinHash, which for a short text against a long one is too rough (0.05 for a true 0.10)."""
    smaller = min(a.size, b.size)
    held = np.intersect1d(a, b, assume_unique=True).size
    return bool(smaller) and held / smaller >= CANONICAL_CONTAINMENT


def still_one_story(new: np.ndarray, old: np.ndarray) -> bool:
    """Whether an article's new text (its distinct shingles) still tells the story its old one
    did: Jaccard of at least NEAR_THRESHOLD (an edit, a paragraph added), or one holding the
    other (a live page grown, a text cut). Counted exactly: one pair, one article a time."""
    union = np.union1d(new, old).size
    held = np.intersect1d(new, old, assume_unique=True).size
    return (bool(union) and held / union >= NEAR_THRESHOLD) or shares_a_story(new, old)


def _key_match(
    fp: Fingerprint,
    fps: list[Fingerprint],
    key_holders: dict[str, list[int]],
    hash_owner: dict[str, int],
) -> BatchMatch | None:
    """The earliest member sharing a canonical URL with this one whose text holds this one's or
    is held by it, else the same text. Every member sharing the key is tried, as the warehouse's
    match_canonical tries every stored article: a CMS stamps one canonical on unrelated pages, and
    a teaser checked against the first of them only was a story of its own (QA)."""
    holders = sorted(
        {j for key in (fp.canonical_key, fp.url_key) if key for j in key_holders.get(key, [])}
    )
    for j in holders:
        if shares_a_story(fp.shingles, fps[j].shingles):
            return BatchMatch(j, "canonical_url", None)
    if fp.text_hash in hash_owner:
        return BatchMatch(hash_owner[fp.text_hash], "exact", 1.0)
    return None


def _near_match(
    fp: Fingerprint, fps: list[Fingerprint], bucket_members: dict[tuple[int, int], list[int]]
) -> BatchMatch | None:
    """The most similar earlier LSH candidate at or above NEAR_THRESHOLD (ties: earliest)."""
    candidates = {
        j for band, bucket in enumerate(fp.buckets) for j in bucket_members.get((band, bucket), [])
    }
    best: BatchMatch | None = None
    for j in sorted(candidates):
        similarity = estimate_similarity(fp.signature, fps[j].signature)
        if similarity >= NEAR_THRESHOLD and (best is None or similarity > best.similarity):
            best = BatchMatch(j, "near", similarity)
    return best


def match_batch(fps: list[Fingerprint]) -> list[BatchMatch | None]:
    """For each fingerprint, the earlier one of the batch it duplicates, and why (see group_batch).

    Args:
        fps: fingerprints in arrival order.

    Returns:
        Per fingerprint: None (first of its group, or a repeat of an earlier URL: the same
        article), else a BatchMatch whose index is the first member of the group.
    """
    root: list[int] = []
    url_owner: dict[str, int] = {}
    key_holders: dict[str, list[int]] = {}  # url_key or canonical key -> members holding it
    hash_owner: dict[str, int] = {}
    bucket_members: dict[tuple[int, int], list[int]] = {}
    matches: list[BatchMatch | None] = []
    for i, fp in enumerate(fps):
        match = None
        if fp.url_key in url_owner:
            root.append(root[url_owner[fp.url_key]])
        else:
            direct = _key_match(fp, fps, key_holders, hash_owner) or _near_match(
                fp, fps, bucket_members
            )
            if direct is not None:
                match = BatchMatch(root[direct.index], direct.kind, direct.similarity)
            root.append(i if match is None else match.index)
        url_owner.setdefault(fp.url_key, i)
        for key in {fp.url_key, fp.canonical_key} - {None}:
            key_holders.setdefault(key, []).append(i)
        hash_owner.setdefault(fp.text_hash, i)
        for band, bucket in enumerate(fp.buckets):
            bucket_members.setdefault((band, bucket), []).append(i)
        matches.append(match)
    return matches


def group_batch(fps: list[Fingerprint]) -> list[int | None]:
    """For each fingerprint, the index of the first member of the earlier group it duplicates.

    Duplicates share a canonical URL (declared or own), the same text hash, or are near
    duplicates (LSH candidates with estimated similarity >= NEAR_THRESHOLD). A repeat of an
    earlier url_key is the same article (a re-fetch or new version), so it gets None.

    Args:
        fps: fingerprints in arrival order.

    Returns:
        Per fingerprint: an index < its own, or None.
    """
    return [None if match is None else match.index for match in match_batch(fps)]


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run logger inside a flow or task run, the module logger outside one."""
    try:
        return get_run_logger()
    except MissingContextError:
        return LOGGER


@task(name="dedupe_batch", cache_policy=NO_CACHE)
def dedupe_batch(docs: list[Document]) -> list[Fingerprint]:
    """Fingerprint the usable documents of a batch (pure: no retries).

    Args:
        docs: cleaned documents; rejected ones are skipped.

    Returns:
        Fingerprints of the non-rejected documents, in order.
    """
    usable = [doc for doc in docs if not doc.rejected]
    result = fingerprints(usable)
    kinds: dict[str, int] = {}
    for match in match_batch(result):
        if match is not None:
            kinds[match.kind] = kinds.get(match.kind, 0) + 1
    _run_logger().info(
        "dedupe: %d documents, %d rejected skipped, %d fingerprinted; in-batch duplicates: %s",
        len(docs),
        len(docs) - len(usable),
        len(result),
        ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none",
    )
    return result
