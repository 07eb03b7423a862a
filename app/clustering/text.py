"""Turning a signal's Swedish or English text into weighted evidence terms.

A term is one of: a word stem (``w:``), a concept from the bilingual lexicon (``c:``) or a number (``n:``).
Stems are cut from light suffix stripping plus truncation, which also lines up many Swedish/English
cognates ("integrationen"/"integration", "dokument"/"document"); the lexicon lines up the rest.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from app.clustering.lexicon import CONCEPTS, PLACE_NAMES, STOPWORDS_EN, STOPWORDS_SV, WEAK_WORDS

STEM_LENGTH = 6
MAX_PHRASE_WORDS = 3
MIN_COMPOUND_PART = 4
MIN_LEXICON_STEM = 4
MAX_STEM_CUT = 3  # characters a lexicon stem may lose to the cut at STEM_LENGTH

_WORD_RE = re.compile(r"[^\W_]+(?:[-'\u2019/][^\W_]+)*", re.UNICODE)
# "1 200", "52,000", "38 000 000": thousands separators inside numbers, joined before tokenising.
_THOUSANDS_RE = re.compile(r"(?<![\d.,])(\d{1,3})(?:[ \u00a0\u202f,](\d{3}))+(?![\d,]*\d)")
_SENTENCE_END_RE = re.compile(r"[.!?:;]\s*$|^\s*$")

_SUFFIXES_EN = ("ations", "ation", "ings", "ing", "ied", "ies", "ed", "es", "ly", "s")
_SUFFIXES_SV = tuple(
    """
    heterna hetens heten heter arnas ernas ornas andet arens ingar ingen ering ande arna erna orna aste ning ade are
    ast ens ern het ets an ad at en ar er or as es et a e s
    """.split()  # noqa: SIM905
)


def fold(text: str) -> str:
    """Unicode-normalised, case-folded text."""
    return unicodedata.normalize("NFKC", text).casefold()


def strip_accents(text: str) -> str:
    """``text`` without combining marks: "hirvelä" -> "hirvela" (names are often typed without them)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def join_thousands(text: str) -> str:
    return _THOUSANDS_RE.sub(lambda m: re.sub(r"[ \u00a0\u202f,]", "", m.group(0)), text)


def _cognate_spelling(stem: str) -> str:
    # Spelling differences that separate many Swedish/English cognates: c/k, ph/f, th/t.
    return stem.replace("ph", "f").replace("th", "t").replace("c", "k").replace("q", "k")


@lru_cache(maxsize=65536)
def base_form(word: str, lang: str) -> str:
    """``word`` without its possessive and one common inflectional suffix, in cognate spelling; not cut."""
    w = word.strip("'\u2019-")
    if w.endswith(("'s", "\u2019s")):
        w = w[:-2]
    suffixes = _SUFFIXES_SV if lang == "sv" else _SUFFIXES_EN
    for suffix in suffixes:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if lang != "sv" and suffix == "es" and not w.endswith(("ses", "xes", "zes", "ches", "shes")):
                suffix = "s"  # "sites" is "site" + s, "boxes" is "box" + es
            w = w[: -len(suffix)]
            break
    if lang != "sv" and w.endswith("e") and len(w) >= 4:
        w = w[:-1]  # "site"/"sites"/"sited", "type"/"typed", "manage"/"managed" share one stem
    return _cognate_spelling(w)


def stem(word: str, lang: str) -> str:
    """A light stem: strip one common inflectional suffix, then cut to ``STEM_LENGTH`` characters."""
    return base_form(word, lang)[:STEM_LENGTH]


def detect_language(words: Iterable[str]) -> str:
    """``"sv"`` or ``"en"`` by stopword counts; Norwegian and Danish fall to ``"sv"``, which suits them."""
    en = sv = 0
    for w in words:
        en += w in STOPWORDS_EN
        sv += w in STOPWORDS_SV
    return "sv" if sv > en else "en"


@dataclass(frozen=True)
class _Lexicon:
    words: dict[str, str]  # stem -> concept
    phrases: dict[str, str]  # "work order" -> concept
    phrase_starts: frozenset[str]  # first words of the phrases
    compound_parts: dict[str, str]  # part of a compound word -> concept


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    words: dict[str, str] = {}
    phrases: dict[str, str] = {}
    parts: dict[str, str] = {}
    for concept, entries in CONCEPTS.items():
        for entry in entries:
            e = fold(entry)
            if " " in e:
                phrases[e] = concept
                for lang in ("en", "sv"):  # inflected phrases: "work orders", "laddar upp"
                    phrases.setdefault(" ".join(stem(w, lang) for w in e.split()), concept)
                continue
            words[e] = words.get(e, concept)
            for lang in ("en", "sv"):
                # A stem stands for the entry's inflected forms, but only a stem that is neither so short that
                # unrelated words share it ("meter" -> "met", "måler" -> "mål") nor the cut-off head of a long
                # compound ("personalavdelning" -> "person"): those entries count as whole words only.
                b = base_form(e, lang)
                if len(b) >= MIN_LEXICON_STEM:
                    words.setdefault(b, concept)
                    if len(b) <= STEM_LENGTH + MAX_STEM_CUT:
                        words.setdefault(b[:STEM_LENGTH], concept)
            if len(e) >= MIN_COMPOUND_PART + 1 and "-" not in e:
                parts.setdefault(e, concept)
                if len(stem(e, "sv")) >= STEM_LENGTH:
                    parts.setdefault(stem(e, "sv"), concept)
    starts = frozenset(p.split(" ", 1)[0] for p in phrases)
    return _Lexicon(words=words, phrases=phrases, phrase_starts=starts, compound_parts=parts)


def _compound_concepts(word: str) -> set[str]:
    """Concepts of the lexicon words a long (Swedish) compound is made of: "fakturasystemet" -> invoice."""
    found: set[str] = set()
    n = len(word)
    if n < 2 * MIN_COMPOUND_PART:
        return found
    parts = _lexicon().compound_parts
    shortest = MIN_COMPOUND_PART + 1
    # a part counts at the start of the word or after at least a compound-sized head
    for i in (0, *range(MIN_COMPOUND_PART - 1, n - shortest + 1)):
        for j in range(i + shortest, n + 1):
            concept = parts.get(word[i:j])
            if concept:
                found.add(concept)
    return found


@dataclass(frozen=True)
class Token:
    text: str  # folded surface form
    capitalised_mid_sentence: bool
    in_title: bool


def tokenize(text: str, *, in_title: bool = False) -> list[Token]:
    """Words and numbers of ``text``; marks words written with a capital letter inside a sentence."""
    text = join_thousands(unicodedata.normalize("NFKC", text))
    tokens: list[Token] = []
    for m in _WORD_RE.finditer(text):
        raw = m.group(0)
        before = text[max(0, m.start() - 3) : m.start()]
        sentence_start = m.start() == 0 or bool(_SENTENCE_END_RE.search(before))
        capital = raw[:1].isupper() and not sentence_start
        word = fold(raw).strip("'\u2019")
        if word.endswith(("'s", "\u2019s")):  # English possessive: "Sjöberg's stores"
            word = word[:-2]
        tokens.append(Token(text=word, capitalised_mid_sentence=capital, in_title=in_title))
    return tokens


_NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)?$")
_UNIT_NUMBER_RE = re.compile(r"^(\d+(?:[.,]\d+)?)[-]?([^\W\d_]+)$")


@dataclass(frozen=True)
class TermWeights:
    stopword: float = 0.0
    weak: float = 0.25
    word: float = 1.0
    concept: float = 1.0
    capitalised: float = 1.5
    number: float = 1.5
    small_number: float = 0.4
    title: float = 1.3


DEFAULT_WEIGHTS = TermWeights()


def _number_term(value: str) -> tuple[str, bool]:
    v = value.replace(",", ".")
    try:
        x = float(v)
    except ValueError:
        return "n:" + v, False
    small = x < 13 and x == int(x)
    return "n:" + (str(int(x)) if x == int(x) else str(x)), small


def terms_of(
    title: str,
    body: str,
    *,
    ignore: frozenset[str] = frozenset(),
    weights: TermWeights = DEFAULT_WEIGHTS,
) -> dict[str, float]:
    """Weighted evidence terms of a signal's text (not normalised). ``ignore`` holds folded words to drop."""
    tokens = tokenize(title, in_title=True) + tokenize(body)
    lang = detect_language(t.text for t in tokens)
    lex = _lexicon()
    out: dict[str, float] = {}

    def add(term: str, w: float) -> None:
        if w > out.get(term, 0.0):
            out[term] = w

    n = len(tokens)
    for i, tok in enumerate(tokens):
        word = tok.text
        if not word or word in ignore:
            continue
        tw = weights.title if tok.in_title else 1.0
        # phrases of 2..3 words map to a concept
        if i + 1 < n and (word in lex.phrase_starts or stem(word, lang) in lex.phrase_starts):
            for k in range(2, min(MAX_PHRASE_WORDS, n - i) + 1):
                window = tokens[i : i + k]
                concept = lex.phrases.get(" ".join(t.text for t in window)) or lex.phrases.get(
                    " ".join(stem(t.text, lang) for t in window)
                )
                if concept:
                    add("c:" + concept, weights.concept * tw)
        if _NUMBER_RE.match(word):
            term, small = _number_term(word)
            add(term, (weights.small_number if small else weights.number) * tw)
            continue
        unit = _UNIT_NUMBER_RE.match(word)
        if unit:  # "15-minute", "4-week", "24h"
            term, small = _number_term(unit.group(1))
            add(term, (weights.small_number if small else weights.number) * tw)
            word = unit.group(2)
        if word in STOPWORDS_EN or word in STOPWORDS_SV:
            continue
        weak = word in WEAK_WORDS
        base = weights.weak if weak else weights.word
        if tok.capitalised_mid_sentence and not weak:
            base *= weights.capitalised
        parts = [word, *[p for p in re.split(r"[-/]", word) if p and p != word]]
        for part in parts:
            if part in ignore or part in STOPWORDS_EN or part in STOPWORDS_SV:
                continue
            place = PLACE_NAMES.get(part)
            if place:
                add("c:" + place, weights.concept * tw)
            b = base_form(part, lang)
            s = b[:STEM_LENGTH]
            if len(s) < 2:
                continue
            concept = lex.words.get(part) or lex.words.get(b) or lex.words.get(s)
            if concept:
                # the concept alone, so a Swedish and an English wording of it weigh the same
                add("c:" + concept, max(base, weights.concept) * tw)
                continue
            add("w:" + s, base * tw)
            if lang == "sv" or len(part) >= 10:
                for c in _compound_concepts(part):
                    add("c:" + c, weights.concept * tw * 0.8)
    return out


def normalise(vec: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two unit vectors stored as dicts."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


def comparable_text(title: str, body: str) -> str:
    """Whitespace- and case-normalised text used to recognise re-posts."""
    return " ".join(fold(f"{title}\n{body}").split())
