"""Account attribution: decide which account a signal is about, and say why.

The cascade, first decisive step wins: explicit CRM account id -> the customer's e-mail or web domain ->
the name, scored by a model fitted with cross-validation (scorer.py): the best candidate when it reaches
the fitted threshold and no other does -> abstain with the candidates as suggestions.
Pure and DB-free: the service builds an `AccountIndex` once and keeps it current with `upsert`/`remove`.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import sys
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from app.attribution.domains import domain_chain, host_of, is_mail_provider, registrable_domain
from app.attribution.normalize import (
    CONNECTORS,
    NameForms,
    fold,
    genitive_base,
    initials,
    name_forms,
    normalise_name,
    original_tokens,
    phonetic_key,
    raw_tokens,
    stem,
)
from app.attribution.scorer import Scored, score_name
from app.attribution.scorer import model as name_model

METHODS = ("crm_id", "email_domain", "web_domain", "exact_name", "alias", "fuzzy_name", "none")

# Kinds of name an account is known by; a lower rank is the stronger claim.
_NAME, _LEGAL, _ALIAS = 0, 1, 2
_KIND_LABEL = {_NAME: "name", _LEGAL: "legal_name", _ALIAS: "alias"}

# An index slot: one (account id, kind) or id when a key has one owner, else a dict or a set of them.
_KindSlot = tuple[str, int] | dict[str, int]
_IdSlot = str | set[str]
# Exact-key levels, strongest first: strict, folded, compact, word order, phonetic. Keys are written "f:name".
_KEY_LEVELS = ("s", "f", "c", "t", "p")

# Index-building choices (what is stored, not what is accepted): names of fewer letters than this get no
# phonetic key and make no span, and acronyms are kept for names of at least this many words.
FUZZY_MIN_LENGTH = 5
ACRONYM_MIN_LENGTH = 3
_BLOCK_POSTING_CAP = 400  # a token shared by more keys than this is too common to block on (speed)
_FUZZY_POOL_CAP = 600


@dataclass(frozen=True)
class AccountEntry:
    """One account of the directory as the matcher sees it."""

    id: str
    crm_id: str | None
    name: str
    legal_name: str | None = None
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True)
class CustomerHint:
    """What a signal says about its customer; any field may be missing."""

    crm_account_id: str | None = None
    email: str | None = None
    domain: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Candidate:
    account_id: str
    name: str
    score: float
    method: str


@dataclass(frozen=True)
class Attribution:
    """The decision, its method and confidence, JSON-serialisable evidence and up to 3 other candidates."""

    account_id: str | None
    method: str
    confidence: float
    evidence: dict[str, object]
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class _NameMatch:
    account_ids: tuple[str, ...]  # one: decided; several: ambiguous; none: no match
    method: str
    score: float  # 0..100
    margin: float
    evidence: dict[str, object]
    suggestions: tuple[Candidate, ...]


_MAX_SPAN_WORDS = 3


def _spans(words: list[str], heads_only: bool = False) -> list[str]:
    """Proper contiguous runs of up to 3 words ("flying tiger", "tiger copenhagen", "tiger", ...)."""
    n = len(words)
    out = []
    for size in range(1, min(n - 1, _MAX_SPAN_WORDS) + 1):
        for i in range(1 if heads_only else n - size + 1):
            span = words[i : i + size]
            if sum(len(w) for w in span) >= FUZZY_MIN_LENGTH:
                out.append(" ".join(span))
    return out


class AccountIndex:
    """In-memory lookup structures over the account directory; build once, update incrementally."""

    def __init__(self) -> None:
        self._entries: dict[str, AccountEntry] = {}
        self._by_crm: dict[str, str] = {}
        # Most keys belong to one account: their slot is then a bare (account id, kind) or id, not a dict or
        # a set (a third of the memory, and less to allocate); see _KindSlot, _IdSlot.
        self._domains: dict[str, _IdSlot] = {}
        # level ("s", "f", "c", "t", "p") -> key -> {account id: best kind}; keyed by the name's own strings
        self._exact: dict[str, dict[str, _KindSlot]] = {level: {} for level in _KEY_LEVELS}
        self._fuzzy: dict[str, _KindSlot] = {}  # folded key -> {account id: best kind}
        self._post: dict[str, _IdSlot] = {}  # first 4 letters of a folded word -> folded keys (blocking)
        self._span: dict[str, _IdSlot] = {}  # proper runs of words of a name ("flying tiger") -> accounts
        self._head: dict[str, _IdSlot] = {}  # the runs that begin a name -> accounts
        # account -> the stemmed word sets of its name and legal name: one set, or a tuple when they differ
        self._name_stems: dict[
            str, frozenset[str] | tuple[frozenset[str], ...]
        ] = {}  # the same, each word without a final -s
        self._stem_post: dict[str, _IdSlot] = {}  # stemmed word -> accounts whose name or legal name has it
        self._acronym: dict[str, _IdSlot] = {}  # initials of a multi-word name or legal name -> accounts

    @classmethod
    def build(cls, entries: Iterable[AccountEntry]) -> AccountIndex:
        """Index all entries at once.

        The index is hundreds of thousands of small acyclic containers: the cyclic GC, triggered by the
        allocations, would rescan the growing heap again and again for nothing (about a third of the time),
        so it is paused meanwhile. The new containers are then all in the youngest generation: a long-lived
        process should `gc.freeze()` after building (as the account directory does), or the first
        collections after it walk them all (about 70 ms for 50,000 accounts) in some later request.
        """
        index = cls()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            upsert = index.upsert
            for entry in entries:
                upsert(entry)
        finally:
            if gc_was_enabled:
                gc.enable()
        return index

    def dumps(self) -> bytes:
        """The whole index as bytes, for ``loads`` in another process: several times faster than ``build``.

        marshal of plain containers (dicts, sets, tuples, strings): loading it runs no code, unlike pickle.
        Only valid for the same code and Python: compare ``state_fingerprint()`` before loading.
        """
        tables = {name: value for name, value in vars(self).items() if name != "_entries"}
        entries = [
            (e.id, e.crm_id, e.name, e.legal_name, e.aliases, e.domains, e.country) for e in self._entries.values()
        ]
        return zlib.compress(marshal.dumps((entries, tables)), 1)

    @classmethod
    def loads(cls, data: bytes) -> AccountIndex:
        """The index ``dumps`` wrote (same ``state_fingerprint()``)."""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # as in build: hundreds of thousands of small acyclic containers
        try:
            # Our own processes wrote it into our own database; marshal builds containers and runs no code.
            entries, tables = marshal.loads(zlib.decompress(data))  # noqa: S302
            index = cls()
            index._entries = {row[0]: AccountEntry(*row) for row in entries}
            for name, value in tables.items():
                setattr(index, name, value)
        finally:
            if gc_was_enabled:
                gc.enable()
        return index

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._entries

    def get(self, account_id: str) -> AccountEntry | None:
        return self._entries.get(account_id)

    def upsert(self, entry: AccountEntry) -> None:
        """Add an account or replace it (all its names, aliases and domains) by id."""
        account_id = entry.id
        if account_id in self._entries:
            self.remove(account_id)
        self._entries[account_id] = entry
        if entry.crm_id:
            self._by_crm[entry.crm_id] = account_id
        if entry.domains:
            for host in _entry_hosts(entry):
                _add_id(self._domains, host, account_id)
        exact, fuzzy, post, spans = self._exact, self._fuzzy, self._post, self._span
        stem_sets: list[frozenset[str]] = []
        for forms, kind in _entry_names(entry):
            plan = _plan(forms)
            for level, key in plan.keys:
                table = exact[level]
                slot = table.get(key)
                if slot is None:
                    table[key] = (account_id, kind)
                elif isinstance(slot, tuple):
                    if slot[0] != account_id:
                        table[key] = {slot[0]: slot[1], account_id: kind}
                    elif slot[1] > kind:
                        table[key] = (account_id, kind)
                elif slot.get(account_id, 9) > kind:
                    slot[account_id] = kind
            for folded, blocks in plan.folds:
                fslot = fuzzy.get(folded)
                if fslot is None:
                    fuzzy[folded] = (account_id, kind)
                    for block in blocks:
                        _add_id(post, block, folded)
                elif isinstance(fslot, tuple):
                    if fslot[0] != account_id:
                        fuzzy[folded] = {fslot[0]: fslot[1], account_id: kind}
                    elif fslot[1] > kind:
                        fuzzy[folded] = (account_id, kind)
                elif fslot.get(account_id, 9) > kind:
                    fslot[account_id] = kind
            if kind != _ALIAS:
                if plan.stems not in stem_sets:
                    stem_sets.append(plan.stems)
                for span in plan.spans:
                    owners = spans.get(span)
                    if owners is None:
                        spans[span] = account_id
                    elif isinstance(owners, str):
                        if owners != account_id:
                            spans[span] = {owners, account_id}
                    else:
                        owners.add(account_id)
                for head in plan.heads:
                    _add_id(self._head, head, account_id)
                if plan.acronym:
                    _add_id(self._acronym, plan.acronym, account_id)
        if len(stem_sets) == 1:
            words = self._name_stems[account_id] = stem_sets[0]
        else:
            self._name_stems[account_id] = tuple(stem_sets)
            words = frozenset().union(*stem_sets)
        stem_post = self._stem_post
        for word in words:
            owners = stem_post.get(word)
            if owners is None:
                stem_post[word] = account_id
            elif isinstance(owners, str):
                stem_post[word] = {owners, account_id}  # one account's words are distinct: never the same id
            else:
                owners.add(account_id)

    def remove(self, account_id: str) -> None:
        """Forget an account; unknown ids are ignored."""
        entry = self._entries.pop(account_id, None)
        if entry is None:
            return
        if entry.crm_id and self._by_crm.get(entry.crm_id) == account_id:
            del self._by_crm[entry.crm_id]
        for host in _entry_hosts(entry):
            _discard(self._domains, host, account_id)
        for stems in _stem_sets(self._name_stems.pop(account_id, ())):
            for word in stems:
                _discard(self._stem_post, word, account_id)
        for forms, kind in _entry_names(entry):
            plan = _plan(forms)
            for level, key in plan.keys:
                _pop(self._exact[level], key, account_id)
            for folded, blocks in plan.folds:
                if _pop(self._fuzzy, folded, account_id):
                    for block in blocks:
                        _discard(self._post, block, folded)
            if kind != _ALIAS:
                for span in plan.spans:
                    _discard(self._span, span, account_id)
                for head in plan.heads:
                    _discard(self._head, head, account_id)
                if plan.acronym:
                    _discard(self._acronym, plan.acronym, account_id)

    # ------------------------------------------------------------------ lookups
    def by_crm_id(self, crm_id: str) -> str | None:
        crm_id = crm_id.strip()
        found = self._by_crm.get(crm_id)
        if found is None and crm_id in self._entries:
            found = crm_id
        return found

    def by_host(self, host: str) -> tuple[str, set[str]] | None:
        for domain in domain_chain(host):
            ids = self._domains.get(domain)
            if ids:
                return domain, _ids(ids)
        return None

    def exact(self, key: str) -> dict[str, int]:
        table = self._exact.get(key[:1])
        return _kinds(table.get(key[2:])) if table is not None and key[1:2] == ":" else {}

    def part_of(self, words: str) -> set[str]:
        """Accounts whose name or legal name holds these folded words as a proper run of its words."""
        return _ids(self._span.get(words))

    def beginning(self, words: str) -> set[str]:
        """Accounts whose name or legal name begins with these folded words (up to 3) and goes on."""
        return _ids(self._head.get(words))

    def fuzzy_pool(self, folded: str) -> list[str]:
        """Blocking: the folded keys that share a word's first 4 letters (or a short word) with the query."""
        pool: set[str] = set()
        probes = [t[:4] for t in folded.split()]
        compact = folded.replace(" ", "")
        if len(compact) >= 4:
            probes.append(compact[:4])
        for probe in probes:
            posting = self._post.get(probe)
            if posting is None:
                continue
            if isinstance(posting, str):
                pool.add(posting)
            elif len(posting) <= _BLOCK_POSTING_CAP:
                pool |= posting
            if len(pool) > _FUZZY_POOL_CAP:
                break
        return list(pool)

    def stem_frequency(self, word: str) -> int:
        """How many accounts have this stemmed word in their name or legal name (document frequency)."""
        return _count(self._stem_post.get(word))

    def stem_owners(self, word: str) -> set[str]:
        return _ids(self._stem_post.get(word))

    def name_stems(self, account_id: str) -> list[frozenset[str]]:
        return _stem_sets(self._name_stems.get(account_id, ()))

    def name_words(self, account_id: str) -> list[tuple[str, ...]]:
        """The folded words of the account's name and legal name, in order."""
        entry = self._entries.get(account_id)
        if entry is None:
            return []
        names = [entry.name] + ([entry.legal_name] if entry.legal_name else [])
        return [tuple(name_forms(n).folded.split()) for n in names]

    def by_acronym(self, acronym: str) -> set[str]:
        return _ids(self._acronym.get(acronym))

    def fuzzy_accounts(self, folded: str) -> dict[str, int]:
        return _kinds(self._fuzzy.get(folded))

    def display_name(self, account_id: str) -> str:
        entry = self._entries.get(account_id)
        return entry.name if entry else account_id


def _entry_hosts(entry: AccountEntry) -> list[str]:
    hosts = []
    for value in entry.domains:
        host = host_of(value)
        # A CRM record carrying a gmail.com "domain" must not capture every gmail sender.
        if host is not None and not is_mail_provider(host):
            hosts.append(host)
    return hosts


def _entry_names(entry: AccountEntry) -> list[tuple[NameForms, int]]:
    """The distinct normalised names of an account, strongest kind first ("Acme AB" and "Acme" are one).

    Not through `name_forms`' cache: a directory's names would fill it with forms only `remove` reads again.
    """
    forms = normalise_name(entry.name)
    out = [(forms, _NAME)] if forms.strict else []
    seen = {"", forms.strict}  # an empty name (only punctuation or a legal form) names nothing
    if entry.legal_name:
        forms = normalise_name(entry.legal_name)
        if forms.strict not in seen:
            seen.add(forms.strict)
            out.append((forms, _LEGAL))
    for alias in entry.aliases:
        if alias:
            forms = normalise_name(alias)
            if forms.strict not in seen:
                seen.add(forms.strict)
                out.append((forms, _ALIAS))
    return out


class _Plan(NamedTuple):
    """Everything the index stores for one normalised name."""

    keys: list[tuple[str, str]]  # exact-lookup keys: (level, key), strongest level first
    folds: list[tuple[str, tuple[str, ...]]]  # (folded spelling for fuzzy matching, its blocking keys)
    stems: frozenset[str]
    spans: list[str]
    heads: list[str]  # the spans that begin the name ("flying tiger" of "flying tiger copenhagen")
    acronym: str


def _plan(forms: NameForms) -> _Plan:
    """The keys of one name (computed per name, not kept: `remove` computes them again).

    Exact-lookup keys come strongest level first, with their level. Keys that would equal a stronger one
    (an ASCII name's strict and folded forms, a one-word name's compact and word-order forms) are left
    out: the stronger level finds the same accounts first.
    """
    strict, folded, alt, compact = forms.strict, forms.folded, forms.folded_alt, forms.compact
    keys = [("s", strict), ("f", folded)] if strict != folded else [("f", folded)]
    if alt != folded:
        keys.append(("f", alt))
    words = folded.split()
    multi = len(forms.tokens) > 1
    if multi:
        keys.append(("c", compact))
        keys.append(("t", " ".join(sorted(set(words)))))
    if len(compact) >= FUZZY_MIN_LENGTH:
        keys.append(("p", phonetic_key(compact)))
    folds: list[tuple[str, tuple[str, ...]]]
    if len(words) == 1:
        folds = [(folded, (folded[:4],))] if alt == folded else [(folded, (folded[:4],)), (alt, (alt[:4],))]
        return _Plan(keys, folds, frozenset((stem(folded),)), [], [], "")
    folds = [(folded, tuple({t[:4] for t in words}))]
    if alt != folded:
        folds.append((alt, tuple({t[:4] for t in alt.split()})))
    # An acronym has a letter per word: a name of fewer words than ACRONYM_MIN_LENGTH has none.
    acronym = initials(words) if len(words) >= ACRONYM_MIN_LENGTH else ""
    if len(words) == 2:  # most names
        spans = [w for w in words if len(w) >= FUZZY_MIN_LENGTH]
        heads = spans[:1] if len(words[0]) >= FUZZY_MIN_LENGTH else []
        return _Plan(keys, folds, frozenset((stem(words[0]), stem(words[1]))), spans, heads, acronym)
    return _Plan(
        keys,
        folds,
        frozenset([stem(w) for w in words]),
        _spans(words),
        _spans(words, heads_only=True),
        acronym if len(acronym) >= ACRONYM_MIN_LENGTH else "",
    )


def _stem_sets(stems: frozenset[str] | tuple[frozenset[str], ...]) -> list[frozenset[str]]:
    return [stems] if isinstance(stems, frozenset) else list(stems)


def _kinds(slot: _KindSlot | None) -> dict[str, int]:
    if slot is None:
        return {}
    if isinstance(slot, tuple):
        return {slot[0]: slot[1]}
    return slot


def _ids(slot: _IdSlot | None) -> set[str]:
    if slot is None:
        return set()
    if isinstance(slot, str):
        return {slot}
    return slot


def _count(slot: _IdSlot | None) -> int:
    if slot is None:
        return 0
    return 1 if isinstance(slot, str) else len(slot)


def _add_id(mapping: dict[str, _IdSlot], key: str, value: str) -> None:
    slot = mapping.get(key)
    if slot is None:
        mapping[key] = value
    elif isinstance(slot, str):
        if slot != value:
            mapping[key] = {slot, value}
    else:
        slot.add(value)


def _pop(mapping: dict[str, _KindSlot], key: str, account_id: str) -> bool:
    """Remove one account from a key's slot; True when the key is gone."""
    slot = mapping.get(key)
    if slot is None:
        return False
    if isinstance(slot, tuple):
        if slot[0] != account_id:
            return False
        del mapping[key]
        return True
    slot.pop(account_id, None)
    if len(slot) == 1:
        ((other, kind),) = slot.items()
        mapping[key] = (other, kind)
    elif not slot:
        del mapping[key]
        return True
    return False


def _discard(mapping: dict[str, _IdSlot], key: str, value: str) -> None:
    slot = mapping.get(key)
    if slot is None:
        return
    if isinstance(slot, str):
        if slot == value:
            del mapping[key]
        return
    slot.discard(value)
    if len(slot) == 1:
        mapping[key] = next(iter(slot))
    elif not slot:
        del mapping[key]


# ---------------------------------------------------------------------- name matching
def _exact_candidates(index: AccountIndex, ids: Iterable[str], method: str) -> tuple[Candidate, ...]:
    return tuple(Candidate(a, index.display_name(a), 1.0, method) for a in sorted(ids))[:3]


def _method_of(scored: Scored) -> str:
    if not scored.equal:
        return "fuzzy_name"
    return "alias" if scored.kind == _ALIAS else "exact_name"


def match_name(index: AccountIndex, name: str) -> _NameMatch:
    """The account a company name means; a tie abstains.

    The fitted model scores the candidates (app/attribution/scorer.py): the best candidate is taken when its
    probability reaches the fitted threshold and no other candidate does (two accounts that both fit the
    name well is a question for a person).
    """
    forms = name_forms(name)
    evidence: dict[str, object] = {"name": name, "normalised": forms.strict, "folded": forms.folded}
    if forms.legal_forms:
        evidence["legal_forms_stripped"] = list(forms.legal_forms)
    scored = score_name(index, forms)
    if not scored:
        return _NameMatch((), "none", 0.0, 0.0, evidence, ())
    threshold = name_model().threshold
    top = scored[0]
    runner_up = scored[1].probability if len(scored) > 1 else 0.0
    evidence.update(
        {
            "matched_key": top.matched,
            "matched_as": _KIND_LABEL[top.kind],
            "probability": round(top.probability, 3),
            "runner_up_probability": round(runner_up, 3),
            "threshold": threshold,
        }
    )
    suggestions = [
        Candidate(s.account_id, index.display_name(s.account_id), round(s.probability, 3), _method_of(s))
        for s in scored[:4]
    ]
    score, margin = top.probability * 100.0, (top.probability - runner_up) * 100.0
    if top.probability < threshold:
        evidence["rejected"] = "below_threshold"
        return _NameMatch((), "none", score, margin, evidence, tuple(suggestions[:3]))
    if runner_up >= threshold:
        tied = tuple(s.account_id for s in scored if s.probability >= threshold)
        evidence["ambiguous"] = list(tied[:10])
        return _NameMatch(tied, _method_of(top), score, margin, evidence, tuple(suggestions[:3]))
    return _NameMatch((top.account_id,), _method_of(top), score, margin, evidence, tuple(suggestions[1:]))


# ---------------------------------------------------------------------- text as weak evidence
def text_mentions(index: AccountIndex, text: str) -> dict[str, list[str]]:
    """Accounts whose multi-word name/alias, or capitalised distinctive one-word name, occurs in the text."""
    original = original_tokens(text)
    tokens = [t for t in raw_tokens(text)]
    if len(original) != len(tokens):  # casefolding changed the split; compare without the case check
        original = tokens
    pairs = [(fold(t), o) for t, o in zip(tokens, original, strict=True) if t not in CONNECTORS]
    found: dict[str, list[str]] = {}
    for i in range(len(pairs)):
        for n in (4, 3, 2, 1):
            window = pairs[i : i + n]
            if len(window) < n:
                continue
            words = [w for w, _ in window]
            for variant in (words, [*words[:-1], genitive_base(words[-1]) or ""]):
                key = " ".join(variant)
                hits = index.exact(f"f:{key}")
                if not hits:
                    continue
                if n == 1 and (len(key) < 5 or not window[0][1][:1].isupper()):
                    continue  # a lower-case common word ("skifte") is not a company mention
                for account_id in hits:
                    found.setdefault(account_id, []).append(key)
    return found


# ---------------------------------------------------------------------- the cascade
def _related(index: AccountIndex, a: str, b: str) -> bool:
    """Two accounts whose names begin with the same word (a group and its subsidiary, typically)."""
    ea, eb = index.get(a), index.get(b)
    if ea is None or eb is None:
        return False
    ta, tb = name_forms(ea.name).tokens, name_forms(eb.name).tokens
    return bool(ta and tb and fold(ta[0]) == fold(tb[0]))


def attribute(hint: CustomerHint, index: AccountIndex, *, text: str | None = None) -> Attribution:
    """Decide the account a customer hint (plus optional signal text) is about; abstain when unsure."""
    evidence: dict[str, object] = {}

    # 1. Explicit CRM account id.
    if hint.crm_account_id and hint.crm_account_id.strip():
        found = index.by_crm_id(hint.crm_account_id)
        if found is not None:
            evidence["crm_account_id"] = hint.crm_account_id.strip()
            return Attribution(found, "crm_id", 1.0, evidence, ())
        evidence["crm_account_id_unknown"] = hint.crm_account_id.strip()

    # 2. The customer's own domains.
    domain_hits: list[tuple[str, str, list[str]]] = []  # (method, matched domain, account ids)
    unknown_corporate: list[str] = []
    for method, value in (("email_domain", hint.email), ("web_domain", hint.domain)):
        if not value or not value.strip():
            continue
        field_name = "email" if method == "email_domain" else "domain"
        host = host_of(value)
        if host is None:
            evidence[f"{field_name}_invalid"] = True
            continue
        if is_mail_provider(host):
            evidence[f"{field_name}_ignored"] = {"host": host, "reason": "mail_provider"}
            continue
        hit = index.by_host(host)
        if hit is None:
            reg = registrable_domain(host)
            evidence[f"{field_name}_unknown"] = reg or host
            unknown_corporate.append(reg or host)
            continue
        matched, ids = hit
        domain_hits.append((method, matched, sorted(ids)))
        evidence[f"{field_name}_matched"] = {"host": host, "domain": matched, "accounts": sorted(ids)}

    name_match = match_name(index, hint.name) if hint.name and hint.name.strip() else None
    if name_match is not None:
        evidence["name_match"] = {
            "method": name_match.method,
            "accounts": list(name_match.account_ids),
            **name_match.evidence,
        }

    if domain_hits:
        return _decide_with_domains(index, domain_hits, name_match, evidence)

    # 3./4. Name: exact or alias, then fuzzy with a margin.
    if name_match is not None and len(name_match.account_ids) == 1:
        (account_id,) = name_match.account_ids
        entry = index.get(account_id)
        if name_match.method == "fuzzy_name" and unknown_corporate and entry is not None and entry.domains:
            # The customer writes from a domain this account does not have: another organisation.
            evidence["fuzzy_rejected"] = "domain_not_the_accounts"
            return _abstain(index, evidence, name_match.suggestions or _one(index, account_id, name_match))
        # The model's probability is the confidence; a corporate domain no account has lowers it a little.
        conf = round(name_match.score / 100.0 - (0.1 if unknown_corporate else 0.0), 3)
        return Attribution(account_id, name_match.method, conf, evidence, name_match.suggestions)
    if name_match is not None and len(name_match.account_ids) > 1:
        evidence["abstain_reason"] = "ambiguous_name"
        return _abstain(index, evidence, name_match.suggestions)

    # 5. Text as weak evidence, only when the hint names nothing at all.
    if text and name_match is None and not unknown_corporate:
        mentions = text_mentions(index, text)
        if mentions:
            evidence["text_mentions"] = {a: sorted(set(k)) for a, k in sorted(mentions.items())}
        if len(mentions) == 1:
            ((account_id, _keys),) = mentions.items()
            evidence["source"] = "text"
            return Attribution(account_id, "exact_name", 0.6, evidence, ())
        if len(mentions) > 1:
            evidence["abstain_reason"] = "text_names_several_accounts"
            return _abstain(index, evidence, _exact_candidates(index, mentions, "exact_name"))

    evidence.setdefault("abstain_reason", "no_match")
    return _abstain(index, evidence, name_match.suggestions if name_match else ())


def _one(index: AccountIndex, account_id: str, match: _NameMatch) -> tuple[Candidate, ...]:
    return (Candidate(account_id, index.display_name(account_id), round(match.score / 100.0, 3), match.method),)


def _abstain(index: AccountIndex, evidence: dict[str, object], suggestions: tuple[Candidate, ...]) -> Attribution:
    return Attribution(None, "none", 0.0, evidence, suggestions[:3])


def _decide_with_domains(
    index: AccountIndex,
    domain_hits: list[tuple[str, str, list[str]]],
    name_match: _NameMatch | None,
    evidence: dict[str, object],
) -> Attribution:
    by_domain: dict[str, str] = {}  # account id -> method that found it (e-mail first)
    for method, _, ids in domain_hits:
        for account_id in ids:
            by_domain.setdefault(account_id, method)
    named = name_match.account_ids if name_match is not None else ()
    if len(by_domain) == 1:
        ((account_id, method),) = by_domain.items()
        if name_match is not None and len(named) == 1 and named[0] != account_id:
            other = named[0]
            if name_match.method == "exact_name" and _related(index, account_id, other):
                # A subsidiary's people often write from the group's domain ("Torsvik Marin" at torsvik.com);
                # the account's own full name is the more specific claim.
                evidence["domain_overridden_by_name"] = {"domain_account": account_id, "name_account": other}
                return Attribution(other, "exact_name", 0.8, evidence, _exact_candidates(index, [account_id], method))
            evidence["name_disagrees"] = other
            return Attribution(account_id, method, 0.85, evidence, _exact_candidates(index, [other], name_match.method))
        conf = 0.99 if account_id in named else 0.97
        return Attribution(account_id, method, conf, evidence, ())
    # Several accounts share the domain(s): let the name choose among them, or abstain.
    chosen = [a for a in named if a in by_domain]
    if len(chosen) == 1 and name_match is not None:
        evidence["domain_shared_name_decides"] = sorted(by_domain)
        return Attribution(chosen[0], by_domain[chosen[0]], 0.9, evidence, ())
    evidence["abstain_reason"] = "domain_shared_by_accounts"
    return _abstain(index, evidence, _exact_candidates(index, by_domain, "email_domain"))


@cache
def state_fingerprint() -> str:
    """Names the index layout ``dumps`` writes: this package's code and data, and the Python reading it."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}/{marshal.version}".encode())
    root = Path(__file__).parent
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".txt", ".json")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]
