"""Account attribution: the cascade, each rule's exactness and its abstentions."""

from __future__ import annotations

import json

import pytest

from app.attribution import AccountEntry, AccountIndex, CustomerHint, attribute
from app.attribution.domains import host_of, is_mail_provider, registrable_domain
from app.attribution.normalize import name_forms

ACCOUNTS = [
    AccountEntry(
        "A001",
        "crm-1",
        "Hallvik Energi AB",
        "Hallvik Energi AB",
        ("Hallvik Energi", "HEAB"),
        ("hallvikenergi.se",),
        "SE",
    ),
    AccountEntry("A002", "crm-2", "Hallvik Elnät AB", None, ("Hallvik Nät",), ("hallvikelnat.se",), "SE"),
    AccountEntry("A003", "crm-3", "Torsvik Group AB", "Torsvik Group AB (publ)", ("Torsvik",), ("torsvik.com",)),
    AccountEntry("A004", "crm-4", "Torsvik Marin AS", None, ("Torsvik Norge",), ("torsvikmarin.no",), "NO"),
    AccountEntry("A005", "crm-5", "Coop Sverige AB", None, (), ("coop.se",), "SE"),
    AccountEntry("A006", "crm-6", "Sverige Konsult AB", None, (), (), "SE"),
    AccountEntry("A007", "crm-7", "Granholm Bygg AB", None, ("Granholm",), ("granholmbygg.se",)),
    AccountEntry("A008", "crm-8", "Granholms Fastigheter AB", None, ("Granholms",), ("granholmsfastigheter.se",)),
    AccountEntry("A009", "crm-9", "Nordkraft AB", None, (), ("nordkraft.se",)),
    AccountEntry("A010", "crm-10", "Sjöberg Retail Group AB", None, ("SRG",), ("sjobergretail.se",)),
    AccountEntry("A011", "crm-11", "Thyborg Møbler A/S", None, (), ("thyborg.dk",), "DK"),
    AccountEntry("A012", "crm-12", "Lindqvist & Sterner Advokatbyrå", None, (), ("lsadvokat.se",)),
    AccountEntry(
        "A013", "crm-13", "Ekvall Försäkring AB", "Försäkringsaktiebolaget Ekvall (publ)", (), ("ekvallforsakring.se",)
    ),
    AccountEntry("A014", "crm-14", "Britannia Widgets Ltd", None, (), ("britanniawidgets.co.uk",)),
    AccountEntry("A015", "crm-15", "Saarenpää Digital Oyj", None, (), ("saarenpaa.fi",), "FI"),
]


@pytest.fixture(scope="module")
def index() -> AccountIndex:
    return AccountIndex.build(ACCOUNTS)


def who(index: AccountIndex, **hint: str) -> str | None:
    return attribute(CustomerHint(**hint), index).account_id


def first(index: AccountIndex, name: str) -> str | None:
    """The attributed account, or else the first suggestion: where the model ranks the right account."""
    a = attribute(CustomerHint(name=name), index)
    return a.account_id or (a.candidates[0].account_id if a.candidates else None)


class TestCrmId:
    def test_known_crm_id_resolves_exactly(self, index: AccountIndex) -> None:
        a = attribute(CustomerHint(crm_account_id="crm-7", name="Torsvik"), index)
        assert (a.account_id, a.method, a.confidence) == ("A007", "crm_id", 1.0)

    def test_unknown_crm_id_falls_through_to_the_rest_of_the_cascade(self, index: AccountIndex) -> None:
        a = attribute(CustomerHint(crm_account_id="crm-999", email="x@nordkraft.se"), index)
        assert (a.account_id, a.method) == ("A009", "email_domain")
        assert a.evidence["crm_account_id_unknown"] == "crm-999"


class TestDomains:
    @pytest.mark.parametrize(
        ("hint", "expected", "method"),
        [
            ({"email": "kundservice@hallvikenergi.se"}, "A001", "email_domain"),
            ({"email": "hr.support@se.torsvik.com"}, "A003", "email_domain"),  # subdomain -> registrable
            ({"domain": "https://www.thyborg.dk/om-os"}, "A011", "web_domain"),
            ({"domain": "Saarenpaa.FI"}, "A015", "web_domain"),
            ({"email": "sales@uk.britanniawidgets.co.uk"}, "A014", "email_domain"),  # .co.uk suffix
        ],
    )
    def test_customer_domains_resolve_exactly(
        self, index: AccountIndex, hint: dict[str, str], expected: str, method: str
    ) -> None:
        a = attribute(CustomerHint(**hint), index)
        assert (a.account_id, a.method) == (expected, method)

    def test_lookalike_domain_does_not_match(self, index: AccountIndex) -> None:
        assert who(index, email="x@widgets.co.uk") is None
        assert who(index, email="x@hallvikenergi.se.evil.com") is None

    @pytest.mark.parametrize("host", ["tailspin.example", "hr.tailspin.example", "tailspin.test", "tailspin.corp"])
    def test_a_top_level_domain_outside_the_public_suffix_list_still_names_the_account(self, host: str) -> None:
        # The demo CRM's companies live under the reserved .example TLD (RFC 2606), intranets under .corp.
        tld = host.rsplit(".", 1)[1]
        directory = AccountIndex.build([AccountEntry("T1", "crm-t", "Tailspin Health", domains=(f"tailspin.{tld}",))])
        a = attribute(CustomerHint(email=f"someone@{host}"), directory)
        assert (a.account_id, a.method) == ("T1", "email_domain")
        assert registrable_domain(host) == f"tailspin.{tld}"

    @pytest.mark.parametrize("host", ["10.0.0.1", "co.uk", "example"])
    def test_an_ip_address_or_a_bare_suffix_has_no_registrable_domain(self, host: str) -> None:
        assert registrable_domain(host) is None

    @pytest.mark.parametrize(
        "email",
        [
            "peter.granholm@telia.com",
            "a@gmail.com",
            "b@hotmail.se",
            "c@outlook.se",
            "d@bredband.net",
            "e@comhem.se",
            "f@online.no",
            "g@get2net.dk",
            "h@live.fi",
            "i@mailinator.com",
            "j@pp.inet.fi",
        ],
    )
    def test_free_mail_and_isp_domains_never_attribute(self, index: AccountIndex, email: str) -> None:
        a = attribute(CustomerHint(email=email), index)
        assert a.account_id is None
        assert is_mail_provider(host_of(email) or "")

    def test_free_mail_account_domain_is_not_indexed(self) -> None:
        idx = AccountIndex.build([AccountEntry("X", None, "Solo Consulting", domains=("gmail.com",))])
        assert attribute(CustomerHint(email="anyone@gmail.com"), idx).account_id is None

    def test_free_mail_with_a_name_lets_the_name_decide(self, index: AccountIndex) -> None:
        a = attribute(CustomerHint(email="peter.granholm@telia.com", name="Granholm Bygg"), index)
        assert (a.account_id, a.method) == ("A007", "exact_name")
        assert a.evidence["email_ignored"] == {"host": "telia.com", "reason": "mail_provider"}

    def test_registrable_domain_is_public_suffix_aware(self) -> None:
        assert registrable_domain("a.b.bbc.co.uk") == "bbc.co.uk"
        assert registrable_domain("hr.se.torsvik.com") == "torsvik.com"

    def test_domain_beats_an_alias_of_another_account(self, index: AccountIndex) -> None:
        assert who(index, email="p.granholm@granholmbygg.se", name="Granholms") == "A007"

    def test_subsidiary_full_name_beats_the_group_domain(self, index: AccountIndex) -> None:
        a = attribute(CustomerHint(email="it@torsvik.com", name="Torsvik Marin"), index)
        assert a.account_id == "A004"
        assert "domain_overridden_by_name" in a.evidence


class TestNames:
    @pytest.mark.parametrize(
        ("name", "expected", "method"),
        [
            ("Hallvik Energi", "A001", "exact_name"),
            ("hallvik energi ab", "A001", "exact_name"),
            ("Thyborg Mobler A/S", "A011", "exact_name"),  # folded ø
            ("Thyborg Moebler", "A011", "exact_name"),  # transliterated ø
            ("Saarenpaa Digital", "A015", "exact_name"),
            ("Lindqvist och Sterner Advokatbyrå", "A012", "exact_name"),
            ("Lindqvist and Sterner advokatbyra", "A012", "exact_name"),
            ("Coop Sverige", "A005", "exact_name"),
        ],
    )
    def test_exact_names_and_aliases(self, index: AccountIndex, name: str, expected: str, method: str) -> None:
        a = attribute(CustomerHint(name=name), index)
        assert (a.account_id, a.method) == (expected, method)

    @pytest.mark.parametrize(("name", "expected"), [("HEAB", "A001"), ("Ekvall", "A013")])
    def test_alias_and_legal_name_rank_their_account_first(self, index: AccountIndex, name: str, expected: str) -> None:
        # ("Ekvall": a legal name with a Nordic compound form and (publ).) Whether a four-letter alias alone is
        # enough is the fitted model's call; the account must come first either way.
        assert first(index, name) == expected

    def test_legal_forms_are_stripped_only_at_the_edges(self, index: AccountIndex) -> None:
        assert name_forms("Coop Sverige AB").strict == "coop sverige"
        assert name_forms("AB Volvo").strict == "volvo"
        assert name_forms("Bike & Co").strict == "bike co"
        assert who(index, name="Sverige") is None  # "Coop Sverige AB" is not "Sverige"

    def test_genitive_and_org_unit_rank_the_company_first(self, index: AccountIndex) -> None:
        # (The hand-written org-unit word list is gone: the model decides from the directory's own words.)
        assert first(index, "Nordkrafts ekonomiavdelning") == "A009"
        assert first(index, "Nordkrafts") == "A009"
        assert first(index, "Sjöbergs") == "A010"

    def test_a_name_two_accounts_share_abstains(self, index: AccountIndex) -> None:
        a = attribute(CustomerHint(name="Hallvik"), index)
        assert (a.account_id, a.method) == (None, "none")
        assert {c.account_id for c in a.candidates} == {"A001", "A002"}

    def test_equal_exact_claims_abstain(self) -> None:
        idx = AccountIndex.build([AccountEntry("X", None, "Nova AB"), AccountEntry("Y", None, "Nova Oy")])
        a = attribute(CustomerHint(name="Nova"), idx)
        assert a.account_id is None
        assert {c.account_id for c in a.candidates} == {"X", "Y"}

    @pytest.mark.parametrize(
        "name", ["Hallvik Hamn", "Granholm Måleri", "Kallbäcken Energi AB", "Solrosen Omsorg", "Bergsätra förskolor"]
    )
    def test_unknown_organisations_abstain(self, index: AccountIndex, name: str) -> None:
        a = attribute(CustomerHint(name=name), index)
        assert (a.account_id, a.method, a.confidence) == (None, "none", 0.0)

    def test_word_subset_alone_does_not_attribute(self) -> None:
        idx = AccountIndex.build([AccountEntry("H", None, "Hub"), AccountEntry("M", None, "Milence")])
        assert attribute(CustomerHint(name="Milence Charging Hub"), idx).account_id != "H"

    def test_a_model_decision_reports_its_probability_threshold_and_runner_up(self, index: AccountIndex) -> None:
        a = attribute(CustomerHint(name="Lindqvist Stener Advokatbyra"), index)
        ev = a.evidence["name_match"]
        assert isinstance(ev, dict)
        assert 0.0 < ev["threshold"] < 1.0
        assert ev["runner_up_probability"] <= ev["probability"]
        if a.account_id is None:
            assert ev["probability"] < ev["threshold"] and a.candidates[0].account_id == "A012"
        else:
            assert (a.account_id, a.method, a.confidence) == ("A012", "fuzzy_name", ev["probability"])

    def test_a_name_two_accounts_both_carry_is_a_question(self) -> None:
        # (A hand-written country-word list used to break such ties; it was chosen by reading errors.)
        idx = AccountIndex.build(
            [AccountEntry("S", None, "Coop", country="SE"), AccountEntry("N", None, "Coop", country="NO")]
        )
        for name in ("Coop", "Coop Norge"):
            a = attribute(CustomerHint(name=name), idx)
            assert a.account_id is None
            assert {c.account_id for c in a.candidates} == {"S", "N"}


class TestTextAndEvidence:
    def test_text_names_the_account_only_when_the_hint_names_nothing(self, index: AccountIndex) -> None:
        text = "Spoke with their CFO: Thyborg Møbler wants dealer ordering."
        a = attribute(CustomerHint(email="someone@gmail.com"), index, text=text)
        assert a.account_id == "A011"
        assert a.confidence <= 0.6
        assert attribute(CustomerHint(name="Unknown Co"), index, text=text).account_id is None

    def test_lower_case_common_word_in_text_is_not_a_mention(self) -> None:
        idx = AccountIndex.build([AccountEntry("S", None, "Skifte")])
        assert attribute(CustomerHint(), idx, text="vi har ett skifte i planeringen").account_id is None

    def test_evidence_is_json_serialisable(self, index: AccountIndex) -> None:
        for hint in (
            CustomerHint(name="Hallvik"),
            CustomerHint(email="x@torsvik.com", name="Torsvik Marin"),
            CustomerHint(name="Lindqvist Stener Advokatbyra"),
        ):
            json.dumps(attribute(hint, index).evidence)


class TestIndexUpdates:
    def test_upsert_replaces_and_remove_forgets(self) -> None:
        idx = AccountIndex.build([AccountEntry("X", "c1", "Alpha Energi AB", domains=("alpha.se",))])
        idx.upsert(AccountEntry("X", "c1", "Beta Energi AB", domains=("beta.se",)))
        assert len(idx) == 1
        assert attribute(CustomerHint(name="Alpha Energi"), idx).account_id is None
        assert attribute(CustomerHint(email="a@alpha.se"), idx).account_id is None
        assert attribute(CustomerHint(name="Beta Energi"), idx).account_id == "X"
        idx.remove("X")
        assert len(idx) == 0
        assert attribute(CustomerHint(email="a@beta.se"), idx).account_id is None
        assert attribute(CustomerHint(crm_account_id="c1"), idx).account_id is None
        idx.remove("missing")  # ignored


class TestGeneralisingRules:
    IDX = [
        AccountEntry("S", None, "Swedish Meteorological and Hydrological Institute"),
        AccountEntry("C", None, "Costco"),
        AccountEntry("GE", None, "Glitre Energi"),
        AccountEntry("GN", None, "Glitre Nett"),
        AccountEntry("V", None, "Vodafone"),
        AccountEntry("B", None, "Bike & Co"),
        AccountEntry("T", None, "Target"),
        AccountEntry("TC", None, "Target Corporation"),
        AccountEntry("N", None, "NH Collection Hotels"),
    ]

    @pytest.fixture(scope="class")
    def idx(self) -> AccountIndex:
        return AccountIndex.build(self.IDX)

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("SMHI", "S"),  # initials
            ("Pharmacie Costco", "C"),  # the whole name among other words
            ("Vodaphone", "V"),  # same sound
            ("Bike og Co", "B"),  # a legal-form word after a connector is part of the brand
            ("Target Corporation", "TC"),
            ("NH Hotels", "N"),  # every word of the query in one name
        ],
    )
    def test_each_candidate_source_puts_the_right_account_first(
        self, idx: AccountIndex, name: str, expected: str
    ) -> None:
        # (These were hand rules with thresholds; the model now decides whether to attribute or suggest.)
        assert first(idx, name) == expected

    def test_two_accounts_names_held_at_once_is_not_decided(self, idx: AccountIndex) -> None:
        assert attribute(CustomerHint(name="Glitre Energi Nett"), idx).account_id is None

    def test_a_name_another_account_name_begins_with_ranks_its_own_account_first(self, idx: AccountIndex) -> None:
        # (A hand rule used to always ask here; the model learns from dev when such a rival means "ask".)
        assert first(idx, "Target") == "T"

    def test_upsert_and_remove_keep_the_new_indexes_consistent(self) -> None:
        idx = AccountIndex.build(self.IDX)
        idx.remove("S")
        assert first(idx, "SMHI") != "S"
        idx.remove("GN")
        a = attribute(CustomerHint(name="Glitre Energi Nett"), idx)
        assert "GN" not in {c.account_id for c in a.candidates} | {a.account_id}
        idx.upsert(AccountEntry("GN", None, "Glitre Nett"))
        a = attribute(CustomerHint(name="Glitre Energi Nett"), idx)
        assert a.account_id is None and {"GE", "GN"} <= {c.account_id for c in a.candidates}
