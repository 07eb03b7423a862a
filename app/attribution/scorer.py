"""Learned name scoring: which accounts a company name may mean, and how likely each one is.

Candidates come from every cheap lookup the index has (exact keys at each level, the fuzzy blocking pool,
accounts sharing the query's rarest word or holding its words, acronyms). Each (query, account) pair gets
features that carry over to any directory, because they are measured against the directory itself: how
much of the query's and the name's rarity (IDF over the directory's own names) the shared words carry,
spelling ratios, equality at each normalisation level, where the words sit, and how far the candidate is
ahead of the others. Gradient-boosted trees fitted by bench/train_attribution.py with cross-validation grouped
by account (data/name_model.json) turns them into a probability; the caller attributes above the fitted
threshold and abstains otherwise. No word list and no hand-set cut-off decides.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

from rapidfuzz import fuzz, process

from app.attribution.normalize import NameForms, initials, name_forms, phonetic_key, stem

if TYPE_CHECKING:
    from app.attribution.matcher import AccountIndex

FEATURES = (
    "equal_folded",  # the same name once case, accents and legal forms are set aside
    "equal_compact",  # ... and spaces ("Bike Co" == "BikeCo")
    "equal_word_set",  # ... and word order
    "equal_phonetic",  # ... and spelling that sounds alike (ph/f, c/k, double letters)
    "ratio",  # rapidfuzz ratio of the folded names, 0..1
    "token_sort",  # the same, words sorted
    "partial",  # best alignment of the shorter inside the longer
    "query_covered",  # share of the query's IDF mass that the name's words explain
    "name_covered",  # share of the name's IDF mass found in the query
    "rarest_shared",  # IDF of the rarest shared word (0 when none is shared)
    "query_unexplained",  # IDF mass of query words the name lacks
    "name_unexplained",  # IDF mass of name words the query lacks
    "same_first_word",
    "name_in_query",  # the name's words in a row inside the query ("Volvo" in "Volvo Cars Sverige")
    "query_in_name",  # the query's words in a row inside the name ("Flying Tiger" in "Flying Tiger Copenhagen")
    "acronym",  # one is the initials of the other ("SMHI")
    "query_length",  # log letters
    "name_length",
    "is_alias",
    "is_legal_name",
    "other_script",  # the query or the name was romanised from another script
    "ratio_lead",  # this candidate's ratio minus the best other candidate's
    "cover_lead",  # the same for query_covered + name_covered
    "equal_rivals",  # other candidates equal to the query at the folded level
    "unique_claim",  # the only account whose name, legal name or alias equals the query (exact_claims)
)

_KIND_NAME, _KIND_LEGAL, _KIND_ALIAS = 0, 1, 2

# Speed bounds (not accuracy rules): a word more names share than this is not used to find candidates, and
# at most this many candidates are scored.
_RARE_POSTING_CAP = 200
_MAX_CANDIDATES = 30


class Query(NamedTuple):
    forms: NameForms
    words: tuple[str, ...]  # folded words
    stems: frozenset[str]
    compact: str
    phonetic: str
    other_script: bool


@dataclass(frozen=True)
class Scored:
    """One candidate account for a name: its probability, the name of it that matched and the features."""

    account_id: str
    probability: float
    matched: str  # the account's name, legal name or alias that scored best (folded)
    kind: int  # 0 name, 1 legal name, 2 alias
    equal: bool  # equal to the query at the folded, compact or word-order level
    features: tuple[float, ...]


class _Tree(NamedTuple):
    """One regression tree of the boosted ensemble, as flat arrays (sklearn's layout; leaves have left == -1)."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]


@dataclass(frozen=True)
class NameModel:
    """Gradient-boosted trees over FEATURES: log-odds = init + rate * sum of the trees' leaf values."""

    init: float
    rate: float
    trees: tuple[_Tree, ...]
    threshold: float  # attribute at or above this probability (chosen by grouped CV for the precision target)

    def probability(self, x: tuple[float, ...]) -> float:
        total = 0.0
        for tree in self.trees:
            left, feature, threshold = tree.left, tree.feature, tree.threshold
            node = 0
            while left[node] != -1:
                node = left[node] if x[feature[node]] <= threshold[node] else tree.right[node]
            total += tree.value[node]
        z = self.init + self.rate * total
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


@cache
def model() -> NameModel:
    """The fitted model shipped as package data (data/name_model.json, written by bench/train_attribution.py)."""
    text = resources.files("app.attribution").joinpath("data/name_model.json").read_text("utf-8")
    return model_from_json(json.loads(text))


def model_from_json(data: dict[str, Any]) -> NameModel:
    if tuple(data["features"]) != FEATURES:
        raise ValueError("name_model.json was fitted for other features: run bench/train_attribution.py")
    trees = tuple(
        _Tree(
            tuple(int(v) for v in t["feature"]),
            tuple(float(v) for v in t["threshold"]),
            tuple(int(v) for v in t["left"]),
            tuple(int(v) for v in t["right"]),
            tuple(float(v) for v in t["value"]),
        )
        for t in data["trees"]
    )
    return NameModel(float(data["init"]), float(data["rate"]), trees, float(data["threshold"]))


def _other_script(text: str) -> bool:
    """Letters beyond the Latin blocks (the romanising fold rewrote them)."""
    return any(ord(c) > 0x24F and not 0x1E00 <= ord(c) <= 0x1EFF and c.isalpha() for c in text)


def query_of(forms: NameForms) -> Query:
    words = tuple(forms.folded.split())
    return Query(
        forms,
        words,
        frozenset(stem(w) for w in words),
        forms.compact,
        phonetic_key(forms.compact),
        not forms.strict.isascii() and _other_script(forms.strict),
    )


# ---------------------------------------------------------------------- candidates
def candidates(index: AccountIndex, query: Query) -> list[str]:
    """Every account a cheap lookup connects with the query, the likeliest first, at most _MAX_CANDIDATES."""
    found: dict[str, float] = {}  # account id -> a rough order (exact first, then by spelling)
    forms = query.forms
    keys = [f"s:{forms.strict}", f"f:{forms.folded}", f"f:{forms.folded_alt}", f"c:{query.compact}"]
    keys += [f"f:{query.compact}", "t:" + " ".join(sorted(set(query.words))), f"p:{query.phonetic}"]
    for key in keys:
        for account_id in index.exact(key):
            found.setdefault(account_id, 200.0)
    pool = index.fuzzy_pool(forms.folded)
    if pool:
        for key, score, _ in process.extract(forms.folded, pool, scorer=fuzz.ratio, limit=12, score_cutoff=50):
            for account_id in index.fuzzy_accounts(key):
                if found.get(account_id, -1.0) < score:
                    found[account_id] = float(score)
    if len(query.words) > 1:
        for account_id in index.part_of(forms.folded) | index.beginning(forms.folded):
            found.setdefault(account_id, 100.0)
    # Accounts sharing the query's rarest words (of those any name has), and accounts whose whole name is
    # among the query's words ("Bindoy District" in "bindoy district of negros oriental schools division").
    known = [(n, w) for n, w in sorted((index.stem_frequency(w), w) for w in query.stems) if n > 0]
    for n, word in known[:2]:
        if n <= _RARE_POSTING_CAP:
            for account_id in index.stem_owners(word):
                found.setdefault(account_id, 50.0 - n / _RARE_POSTING_CAP)
    if len(query.stems) > 1:
        for n, word in known:
            if n > _RARE_POSTING_CAP:
                break
            for account_id in index.stem_owners(word):
                if any(name <= query.stems for name in index.name_stems(account_id)):
                    found[account_id] = max(found.get(account_id, 0.0), 100.0)
    if len(query.words) == 1 and query.words[0].isalpha():
        for account_id in index.by_acronym(query.words[0]):
            found.setdefault(account_id, 60.0)
    elif len(query.words) > 2:
        acronym = initials(query.words)
        if acronym:
            for account_id in index.exact(f"f:{acronym}"):
                found.setdefault(account_id, 60.0)
    order = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    return [a for a, _ in order[:_MAX_CANDIDATES]]


# ---------------------------------------------------------------------- features
def _idf(index: AccountIndex, word: str, log_n: float) -> float:
    """Inverse document frequency over the directory's names, 0..1 (a word no name has is 1)."""
    return math.log((len(index) + 1) / (index.stem_frequency(word) + 1)) / log_n


def _in_a_row(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    n = len(inner)
    if n == 0 or n >= len(outer):
        return False
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def _pair_features(
    index: AccountIndex, query: Query, name: NameForms, kind: int, idf: dict[str, float], log_n: float
) -> list[float]:
    q, n = query.forms.folded, name.folded
    name_words = tuple(n.split())
    name_stems = frozenset(stem(w) for w in name_words)
    for w in name_stems - idf.keys():
        idf[w] = _idf(index, w, log_n)
    shared = query.stems & name_stems
    q_mass = sum(idf[w] for w in query.stems) or 1.0
    n_mass = sum(idf[w] for w in name_stems) or 1.0
    s_mass = sum(idf[w] for w in shared)
    equal_folded = q == n or query.forms.folded_alt == name.folded_alt
    equal_compact = equal_folded or query.compact == name.compact
    equal_words = equal_compact or (bool(name_words) and frozenset(query.words) == frozenset(name_words))
    equal_phonetic = equal_words or (len(name.compact) > 0 and query.phonetic == phonetic_key(name.compact))
    acronym = (len(query.words) == 1 and len(name_words) > 1 and query.words[0] == initials(name_words)) or (
        len(name_words) == 1 and len(query.words) > 1 and name_words[0] == initials(query.words)
    )
    return [
        float(equal_folded),
        float(equal_compact),
        float(equal_words),
        float(equal_phonetic),
        fuzz.ratio(q, n) / 100.0,
        fuzz.token_sort_ratio(q, n) / 100.0,
        fuzz.partial_ratio(q, n) / 100.0,
        s_mass / q_mass,
        s_mass / n_mass,
        max((idf[w] for w in shared), default=0.0),
        q_mass - s_mass if query.stems else 0.0,
        n_mass - s_mass if name_stems else 0.0,
        float(bool(name_words) and bool(query.words) and name_words[0] == query.words[0]),
        float(_in_a_row(name_words, query.words)),
        float(_in_a_row(query.words, name_words)),
        float(acronym),
        math.log1p(len(query.compact)),
        math.log1p(len(name.compact)),
        float(kind == _KIND_ALIAS),
        float(kind == _KIND_LEGAL),
        float(query.other_script or (not name.strict.isascii() and _other_script(name.strict))),
    ]


def _names(index: AccountIndex, account_id: str) -> list[tuple[NameForms, int]]:
    entry = index.get(account_id)
    if entry is None:
        return []
    out = [(name_forms(entry.name), _KIND_NAME)]
    if entry.legal_name:
        out.append((name_forms(entry.legal_name), _KIND_LEGAL))
    out += [(name_forms(a), _KIND_ALIAS) for a in entry.aliases if a]
    return [(f, k) for f, k in out if f.strict]


def exact_claims(index: AccountIndex, forms: NameForms) -> tuple[list[str], int]:
    """Accounts whose name, legal name or alias equals the query (folded, compact or word order), and the
    kind of that name; only the strongest kind is kept.

    An account's own name is a stronger claim than another's legal name, and that than an alias.
    """
    if not forms.strict:
        return [], _KIND_NAME
    words = forms.folded.split()
    keys = (
        f"s:{forms.strict}",
        f"f:{forms.folded}",
        f"f:{forms.folded_alt}",
        f"c:{forms.compact}",
        f"f:{forms.compact}",
        "t:" + " ".join(sorted(set(words))),
    )
    claims: dict[str, int] = {}
    for key in keys:
        for account_id, kind in index.exact(key).items():
            if claims.get(account_id, 9) > kind:
                claims[account_id] = kind
    if not claims:
        return [], _KIND_NAME
    strongest = min(claims.values())
    return sorted(a for a, k in claims.items() if k == strongest), strongest


def score_name(index: AccountIndex, forms: NameForms, fitted: NameModel | None = None) -> list[Scored]:
    """The candidate accounts for a normalised name with their probabilities, the likeliest first.

    With `fitted=None` the shipped model scores; the training script passes its own (or a zero model to
    read the features).
    """
    if not forms.strict or not len(index):
        return []
    query = query_of(forms)
    log_n = math.log(len(index) + 1)
    idf = {w: _idf(index, w, log_n) for w in query.stems}
    rows: list[tuple[str, list[float], str, int]] = []
    for account_id in candidates(index, query):
        best: tuple[list[float], str, int] | None = None
        for name, kind in _names(index, account_id):
            x = _pair_features(index, query, name, kind, idf, log_n)
            # the name of the account closest to the query speaks for it: equality first, then spelling
            if best is None or (x[0], x[1], x[2], x[4] + x[7] + x[8]) > (
                best[0][0],
                best[0][1],
                best[0][2],
                best[0][4] + best[0][7] + best[0][8],
            ):
                best = (x, name.folded, kind)
        if best is not None:
            rows.append((account_id, *best))
    if not rows:
        return []
    # Lead over the best other candidate, and how many others are equal too.
    ratios = sorted((r[1][4] for r in rows), reverse=True)
    covers = sorted((r[1][7] + r[1][8] for r in rows), reverse=True)
    n_equal = sum(1 for r in rows if r[1][0] or r[1][1] or r[1][2])
    claims, _kind = exact_claims(index, forms)
    unique = claims[0] if len(claims) == 1 else None
    m = fitted or model()
    out = []
    for account_id, x, matched, kind in rows:
        ratio, cover, equal = x[4], x[7] + x[8], bool(x[0] or x[1] or x[2])
        other_ratio = ratios[1] if ratio == ratios[0] and len(ratios) > 1 else (ratios[0] if ratio < ratios[0] else 0)
        other_cover = covers[1] if cover == covers[0] and len(covers) > 1 else (covers[0] if cover < covers[0] else 0)
        features = (*x, ratio - other_ratio, cover - other_cover, float(n_equal - equal), float(account_id == unique))
        out.append(Scored(account_id, m.probability(features), matched, kind, equal, features))
    out.sort(key=lambda s: (-s.probability, s.account_id))
    return out
