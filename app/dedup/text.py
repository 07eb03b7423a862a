"""A signal's text as countable terms: words, title words and character n-grams. No word lists: which words
matter is learned from the deployment's own corpus (app.dedup.corpus), in any language."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
CHAR_N = 4  # character n-grams inside words: inflections, compounds, typos and identifiers still overlap
# Characters of the body read for character n-grams: the opening states the need; long bodies add stack traces.
CHAR_TEXT_LIMIT = 600
MIN_WORD = 2


def fold(text: str) -> str:
    """Case-folded, accents removed: "Lönefil" and "lonefil" are one word."""
    if text.isascii():  # nothing to normalise or strip: the common case, and much the cheapest
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def _chunk_words(chunk: str) -> tuple[str, ...]:
    return tuple(w for w in _WORD_RE.findall(fold(chunk)) if len(w) >= MIN_WORD)


def words(text: str) -> list[str]:
    """The folded words of ``text``. Folded per whitespace-separated chunk, and cached per chunk: a deployment's
    texts repeat their words, and folding non-ASCII text character by character is the costliest step of
    featurising an open opportunity's signals (no word spans whitespace, so this equals folding the whole)."""
    if text.isascii():
        return [w for w in _WORD_RE.findall(text.lower()) if len(w) >= MIN_WORD]
    out: list[str] = []
    for chunk in text.split():
        out.extend(_chunk_words(chunk))
    return out


@lru_cache(maxsize=32768)
def _word_grams(w: str) -> tuple[str, ...]:
    padded = f" {w} "
    if len(padded) <= CHAR_N:
        return (padded,)
    return tuple(padded[i : i + CHAR_N] for i in range(len(padded) - CHAR_N + 1))


# Term counts as plain dicts, not Counters. The caches below hold tens of thousands of them for the life of the
# process, and the cyclic garbage collector must walk every entry of every Counter (a dict subclass is always
# tracked) at each full collection: 100-200 ms with the caches full, a pause in whichever request it falls on.
# A plain dict of strings to integers is not tracked at all (CPython untracks dicts of atomic values).
Counts = dict[str, int]


def char_grams(text: str) -> Counts:
    grams: Counter[str] = Counter()
    for w in words(text):
        grams.update(_word_grams(w))
    return dict(grams)


@dataclass(frozen=True, slots=True)
class Terms:
    """Word counts of one signal."""

    words: Counts  # title and body
    title: Counts


@lru_cache(maxsize=16384)
def terms(title: str, body: str) -> Terms:
    """Word counts of a signal's text; cached, since an open opportunity's signals are compared again and again."""
    return Terms(words=dict(Counter(words(f"{title}\n{body}"))), title=dict(Counter(words(title))))


@lru_cache(maxsize=4096)
def chars(title: str, body: str) -> Counts:
    """Character n-grams of the title and the opening of the body (computed only for the closest candidates)."""
    return char_grams(f"{title}\n{body[:CHAR_TEXT_LIMIT]}")


def vocabulary(title: str, body: str) -> frozenset[str]:
    """What a signal adds to the document frequencies: its words, and its character n-grams (prefixed)."""
    return frozenset(terms(title, body).words) | frozenset("#" + g for g in chars(title, body))


def weighted(counts: Counts, idf: dict[str, float], default_idf: float, prefix: str = "") -> dict[str, float]:
    """Unit-length sublinear-tf x idf vector."""
    get = idf.get
    # Most terms occur once: 1 + log(1) is 1, so no logarithm for them.
    vec = {t: (1.0 + math.log(c) if c > 1 else 1.0) * get(prefix + t, default_idf) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b[t] for t, v in a.items() if t in b)
