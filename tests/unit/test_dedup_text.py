"""Words are folded per whitespace-separated chunk (and cached per chunk) for speed: they must be exactly the words
of the whole text folded at once, whatever the script, the normal form or the kind of space."""

from __future__ import annotations

import re

import pytest

from app.dedup.text import MIN_WORD, char_grams, fold, words

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)

TEXTS = [
    "Flyttanmälningar hanteras manuellt i Fakturix",
    "Straße ÅÄÖ åäö Ø ﬁle",  # casefold expands, accents go, a ligature decomposes
    "e\u0301te\u0301 \u0301abc",  # decomposed accents, and a combining mark right after a space
    "a\u00a0b\u00b4c\u2003d",  # no-break space, a spacing accent that NFKC turns into a space, an em space
    "\uff26\uff55\uff4c\uff4c \uff57\uff49\uff44\uff54\uff48 ①② 東京 タワー Ελληνικά",  # full-width letters
    "snake_case and__double x_y\tTab\u2028line",
    "NullPointerException at org.apache.hadoop.hdfs.DFSClient (ASCII fast path)",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_words_equal_folding_the_whole_text(text: str) -> None:
    assert words(text) == [w for w in _WORD_RE.findall(fold(text)) if len(w) >= MIN_WORD]


def test_character_grams_pad_each_word() -> None:
    grams = char_grams("Lönefil ok")
    assert grams[" lon"] == 1 and grams["fil "] == 1
    assert grams[" ok "] == 1  # a word shorter than a gram is one padded gram


def test_cached_term_counts_and_vectors_cost_the_garbage_collector_nothing() -> None:
    """The feature caches hold tens of thousands of entries for the life of a process; every container in them
    that the cyclic collector tracks is walked at each full collection (bench/gc_pause.py). Term counts and
    weighted vectors are plain dicts of atomic values, which CPython stops tracking."""
    import gc
    from datetime import UTC, datetime

    from app.dedup import features
    from app.dedup.corpus import Corpus
    from app.dedup.records import SignalText
    from app.dedup.text import chars, terms, vocabulary

    title, body = "Lönefil saknas i exporten", "Kunden säger att lönefilen till banken saknar rader sedan i tisdags."
    corpus = Corpus()
    corpus.add_all([vocabulary(title, body), vocabulary("Annat ärende", "Helt andra ord här")])
    signal = SignalText("s1", "anna@ourco.se", "need", title, body, datetime.now(UTC))
    v = features.vectors(corpus, signal)
    held = [terms(title, body).words, terms(title, body).title, chars(title, body), v.words, v.title]
    held.append(features.char_vector(corpus, signal))
    gc.collect()
    assert [type(x) for x in held] == [dict] * len(held)
    assert not any(gc.is_tracked(x) for x in held)
    assert not hasattr(v, "__dict__") and not hasattr(terms(title, body), "__dict__")  # slotted: one object each
