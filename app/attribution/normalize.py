"""Name normalisation for account attribution.

A name is reduced to tokens: Unicode NFKC, casefolded, apostrophes dropped, dotted and slashed abbreviations
collapsed ("S.A." -> "sa", "A/S" -> "as"), other punctuation split, connectors ("&", "och", "and", ...)
dropped and legal forms stripped at the edges only. Two spellings are kept: the *strict* one keeps Nordic
letters (å ä ö ø æ), the *folded* ones map them to ASCII (ö -> o and ö -> oe), because people type both.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from anyascii import anyascii

from app.attribution.legal_forms import strip_legal_forms

# Words that join two names; "Lindqvist & Sterner" and "Lindqvist och Sterner" are the same name.
CONNECTORS = frozenset({"&", "+", "and", "och", "og", "o", "und", "ja", "et", "y", "e", "n"})

_APOSTROPHES = re.compile("['`\u2019\u00b4\u02bc]")  # ' ` right quote, acute accent, modifier apostrophe
_DOTTED = re.compile(r"\b(?:\w\.){2,}(?:\w\b)?")
_SLASHED = re.compile(r"\b(\w{1,2})/(\w{1,2})\b")
_SPLIT = re.compile(r"[^\w&+]+|_")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

# ASCII folding beyond what NFKD + dropping combining marks gives.
_FOLD_SPECIAL = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "ł": "l"})
# The German/Danish transliteration people also type: "Samsoe", "Jaervinen", "Aalborg".
_FOLD_ALT = str.maketrans(
    {"å": "aa", "ä": "ae", "ö": "oe", "ø": "oe", "æ": "ae", "ü": "ue", "œ": "oe", "ß": "ss", "þ": "th"}
)


def fold(text: str) -> str:
    """ASCII-fold a casefolded string: å/ä -> a, ö/ø -> o, æ -> ae, é -> e; other scripts romanised."""
    if text.isascii():
        return text
    quick = text.translate(_FOLD_LATIN)
    if quick.isascii():
        return quick  # the common case: only Latin letters with marks, folded one character at a time
    if " " in text:
        return " ".join(_fold_word(w) for w in text.split(" "))
    return _fold_word(text)


@lru_cache(maxsize=100_000)
def _fold_word(text: str) -> str:
    """`fold` of one word, cached: directories reuse words ("energi", "fastigheter")."""
    latin = _drop_marks(text)
    if latin.isascii():
        return latin
    # Another script: its standard romanisation (anyascii: "Фикс Прайс" -> "fiks prays", "ポポンデッタ" ->
    # "popondetta"), so a name written in Cyrillic, Greek or kana can meet its Latin spelling. Romanised as
    # written: NFKD would first strip the kana voicing marks ("ポ" -> "ホ").
    return _NOT_ALNUM.sub("", anyascii(text.translate(_FOLD_SPECIAL)).lower())


def _drop_marks(text: str) -> str:
    """Latin folding: the special letters, then NFKD without its combining marks."""
    text = text.translate(_FOLD_SPECIAL)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fold_latin_table() -> dict[int, str]:
    """`_drop_marks` of each Latin letter and combining mark whose result is ASCII.

    Folding is per character (NFKD decomposes each character on its own; only the order of combining
    marks, which are dropped, can change), so translating with this table gives what `_fold_word` gives.
    """
    table = {}
    for code in (*range(0x80, 0x250), *range(0x300, 0x370), *range(0x1E00, 0x1F00)):
        folded = _drop_marks(chr(code))
        if folded.isascii():
            table[code] = folded
    return table


_FOLD_LATIN = _fold_latin_table()


def fold_alt(text: str) -> str:
    """The transliterating fold: å -> aa, ä -> ae, ö/ø -> oe (then as `fold`)."""
    return fold(text.translate(_FOLD_ALT))


def _join_groups(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2)


def _prepare(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = _APOSTROPHES.sub("", text)
    elif "'" in text or "`" in text:
        text = _APOSTROPHES.sub("", text)
    if "." in text:
        text = _DOTTED.sub(lambda m: m.group().replace(".", ""), text)
    if "/" in text:
        text = _SLASHED.sub(_join_groups, text)
    if "&" in text:
        text = text.replace("&", " & ")
    if "+" in text:
        text = text.replace("+", " + ")
    return text


def raw_tokens(text: str) -> list[str]:
    """Tokens of a name before connector and legal-form handling."""
    # Plain words and spaces (most directory names): nothing to prepare, nothing to split on but spaces.
    if text.isascii():
        if text.replace(" ", "").isalnum():
            return text.lower().split()
    elif unicodedata.is_normalized("NFKC", text):
        folded = text.casefold()
        if folded.replace(" ", "").isalnum() and "\u02bc" not in folded:  # U+02BC is a letter and an apostrophe
            return folded.split()
    return _slow_tokens(text)


def _slow_tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(_prepare(text).casefold()) if t]


def original_tokens(text: str) -> list[str]:
    """Tokens as `raw_tokens` splits them, with their original case (to tell "Skifte" from "skifte")."""
    return [t for t in _SPLIT.split(_prepare(text)) if t]


def _drop_connectors(tokens: list[str]) -> list[str]:
    """Drop connectors between two words; one at an edge is part of the name ("Mobi.E", "& Other Stories")."""
    if CONNECTORS.isdisjoint(tokens):
        return tokens
    last = len(tokens) - 1
    return [t for i, t in enumerate(tokens) if t not in CONNECTORS or i == 0 or i == last]


class NameForms(NamedTuple):
    """The comparison keys of one name."""

    tokens: tuple[str, ...]  # strict tokens, legal forms stripped at the edges, connectors dropped
    strict: str  # " ".join(tokens)
    folded: str  # ASCII-folded strict key
    folded_alt: str  # transliterating fold ("oe" for ö)
    compact: str  # folded key without spaces ("bike co" == "bikeco")
    legal_forms: tuple[str, ...]  # what was stripped, for the evidence


@lru_cache(maxsize=200_000)
def name_forms(name: str) -> NameForms:
    """Normalise a company name into its comparison keys (cached: names repeat)."""
    return normalise_name(name)


def normalise_name(name: str) -> NameForms:
    """`name_forms` without the cache."""
    tokens = raw_tokens(name)
    if tokens and tokens[0] == "the" and len(tokens) > 1:
        tokens = tokens[1:]
    core, stripped = strip_legal_forms(tokens)
    core = _drop_connectors(core)
    strict = " ".join(core)
    if strict.isascii():
        folded = alt = strict
    else:
        folded, alt = fold(strict), fold_alt(strict)
    # tokens, strict, folded, folded_alt, compact, legal_forms (positional: keywords cost a third more)
    return NameForms(tuple(core), strict, folded, alt, folded.replace(" ", ""), tuple(stripped))


def genitive_base(token: str) -> str | None:
    """The base of a Nordic/English genitive or plural ("nordkrafts" -> "nordkraft"), or None if it is not one.

    Only the word-comparison features use it (scorer.py); -ss, -us, -is end Latin and Greek stems, not a
    genitive ("Nexus", "Thalis").
    """
    if len(token) >= 5 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return None


# Words left out of an acronym ("Swedish Meteorological and Hydrological Institute" -> "smhi").
ACRONYM_SKIP = frozenset({"of", "for", "the", "de", "du", "des", "la", "le", "del", "di", "der", "i", "pa", "av", "af"})


def initials(words: list[str] | tuple[str, ...]) -> str:
    """The acronym of a multi-word folded name, or "" when it has fewer than two significant words."""
    kept = [w for w in words if w not in ACRONYM_SKIP and w not in CONNECTORS and w.isalpha()]
    if len(kept) < 2 or len(kept) != len([w for w in words if w not in ACRONYM_SKIP and w not in CONNECTORS]):
        return ""  # a name with digits or symbols as words has no reliable acronym
    return "".join(w[0] for w in kept)


# Letter groups first, in this order ("sch" before "ch", "ck" before "c"; "ch" is kept), then single letters.
_PHONETIC_GROUPS = (("sch", "sj"), ("ph", "f"), ("ck", "k"), ("ch", "\x01"), ("qu", "kv"), ("th", "t"))
_PHONETIC_LETTERS = str.maketrans({"c": "k", "q": "k", "w": "v", "z": "s", "x": "ks", "\x01": "ch"})
_DOUBLE = re.compile(r"(?<=(.))\1+")  # the repeats after a letter (deleting them is faster than r"\1")


def phonetic_key(compact: str) -> str:
    """A spelling-insensitive key of a folded, compact name: ph/f, c/k, w/v, z/s and double letters."""
    for old, new in _PHONETIC_GROUPS:
        if old in compact:
            compact = compact.replace(old, new)
    return _DOUBLE.sub("", compact.translate(_PHONETIC_LETTERS))


@lru_cache(maxsize=100_000)
def stem(token: str) -> str:
    """A folded word without its genitive or plural -s ("hotels" -> "hotel", "goteborgs" -> "goteborg")."""
    return genitive_base(token) or token
