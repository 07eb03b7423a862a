"""decide(): re-posts, joins, new opportunities, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.clustering import (
    ClusterSettings,
    OpportunityCandidate,
    SignalText,
    decide,
    features,
    pair_similarity,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = ClusterSettings()


def sig(
    sid: str,
    title: str,
    body: str,
    *,
    kind: str = "new_use_case",
    who: str = "ann@ourco.se",
    at: datetime = T0,
    ref: str | None = None,
) -> SignalText:
    return SignalText(id=sid, contributor=who, kind=kind, title=title, body=body, observed_at=at, opportunity_ref=ref)


def opp(oid: str, *signals: SignalText, crm_id: str | None = None) -> OpportunityCandidate:
    return OpportunityCandidate(id=oid, crm_id=crm_id, signals=signals)


PAYROLL_SV = sig(
    "s1",
    "Lönefilen blir fel varje månad",
    "Löneavdelningen på Norrfors knappar in alla tidrapporter för hand i lönesystemet, ungefär 700 i veckan. "
    "De vill ha en integration så att attesterade tidrapporter går direkt till lönen.",
    kind="inefficiency",
    who="bo@ourco.se",
)
PAYROLL_EN = sig(
    "s2",
    "Timesheets retyped into payroll by hand",
    "Norrfors payroll staff type about 700 approved timesheets a week into the payroll system by hand. "
    "They asked for an integration that sends approved timesheets straight to payroll.",
    kind="new_use_case",
    at=T0 + timedelta(days=20),
)
ROOMS = sig(
    "s3",
    "Meeting room booking on paper",
    "Reception keeps a paper calendar for the twelve meeting rooms and double bookings happen every week. "
    "They want room booking in the intranet with screens outside each room.",
    at=T0 - timedelta(days=5),
)


class TestOpportunityRef:
    def test_payload_naming_an_opportunity_id_joins_it_whatever_the_text(self) -> None:
        new = sig("n", "Unrelated words", "Nothing in common with anything.", ref="OPP-7")
        d = decide(new, [opp("OPP-1", ROOMS), opp("OPP-7", PAYROLL_SV)])
        assert d.opportunity_id == "OPP-7"
        assert d.repost_of is None

    def test_payload_naming_a_crm_deal_id_joins_that_opportunity(self) -> None:
        new = sig("n", "Unrelated words", "Nothing in common.", ref=" deal-991 ")
        d = decide(new, [opp("OPP-1", ROOMS, crm_id="DEAL-991"), opp("OPP-2", PAYROLL_SV)])
        assert d.opportunity_id == "OPP-1"

    def test_unknown_ref_falls_back_to_text_matching(self) -> None:
        new = sig("n", "Unrelated words", "Nothing in common at all.", ref="OPP-404")
        assert decide(new, [opp("OPP-1", ROOMS)]).opportunity_id is None


class TestRepost:
    def test_same_contributor_near_identical_text_within_window_is_a_repost(self) -> None:
        again = sig(
            "s9",
            PAYROLL_SV.title,
            PAYROLL_SV.body + " ",
            kind="inefficiency",
            who="BO@ourco.se",
            at=T0 + timedelta(hours=5),
        )
        d = decide(again, [opp("O1", PAYROLL_SV), opp("O2", ROOMS)])
        assert d.repost_of == "s1"
        assert d.opportunity_id == "O1"
        assert d.matched_signal_ids == ("s1",)

    def test_same_text_from_another_contributor_is_a_new_signal_not_a_repost(self) -> None:
        other = sig("s9", PAYROLL_SV.title, PAYROLL_SV.body, kind="inefficiency", who="cy@ourco.se")
        d = decide(other, [opp("O1", PAYROLL_SV)])
        assert d.repost_of is None
        assert d.opportunity_id == "O1"  # it still joins: same opportunity, a second credit

    def test_same_text_after_the_repost_window_is_not_a_repost(self) -> None:
        late = sig(
            "s9",
            PAYROLL_SV.title,
            PAYROLL_SV.body,
            kind="inefficiency",
            who="bo@ourco.se",
            at=T0 + timedelta(hours=SETTINGS.repost_window_hours + 1),
        )
        assert decide(late, [opp("O1", PAYROLL_SV)]).repost_of is None


class TestJoin:
    def test_same_opportunity_told_in_swedish_and_english_joins(self) -> None:
        d = decide(PAYROLL_EN, [opp("O1", PAYROLL_SV), opp("O2", ROOMS)], account_names=["Norrfors"])
        assert d.opportunity_id == "O1", d.reason
        assert d.scores["O1"] > d.scores["O2"]

    def test_unrelated_signal_at_the_same_account_starts_a_new_opportunity(self) -> None:
        d = decide(ROOMS, [opp("O1", PAYROLL_SV, PAYROLL_EN)])
        assert d.opportunity_id is None
        assert d.repost_of is None

    def test_window_is_respected(self) -> None:
        stale = opp("O1", PAYROLL_SV)
        new = sig("n", PAYROLL_EN.title, PAYROLL_EN.body, at=T0 + timedelta(days=SETTINGS.window_days + 1))
        d = decide(new, [stale])
        assert d.opportunity_id is None
        assert d.scores == {}
        inside = sig("n", PAYROLL_EN.title, PAYROLL_EN.body, at=T0 + timedelta(days=SETTINGS.window_days - 1))
        assert decide(inside, [stale]).opportunity_id == "O1"


class TestStaysApart:
    def test_opposite_direction_stays_apart(self) -> None:
        win = sig(
            "a",
            "Lindby want to replace their billing vendor with us",
            "Lindby's finance team is unhappy with their subscription billing vendor and asked whether our "
            "billing platform could take over invoicing for their 4,000 subscribers.",
            kind="expansion",
        )
        lose = sig(
            "b",
            "We risk being replaced as Lindby's billing vendor",
            "Lindby's new CFO asked why they should keep paying us for subscription billing; another billing "
            "vendor offered to take over invoicing for their 4,000 subscribers.",
            kind="renewal_risk",
            at=T0 + timedelta(days=10),
        )
        d = decide(lose, [opp("O1", win)])
        assert d.opportunity_id is None, d.reason

    def test_different_geography_stays_apart(self) -> None:
        norway = sig(
            "a",
            "Field service app for the Bergen office",
            "The Norwegian subsidiary in Bergen wants our field service app for its 40 technicians, with "
            "work orders on the phone instead of paper.",
            kind="expansion",
        )
        denmark = sig(
            "b",
            "Field service app for the Aarhus office",
            "The Danish subsidiary in Aarhus wants our field service app for its 40 technicians, with work "
            "orders on the phone instead of paper.",
            kind="expansion",
            who="per@ourco.se",
            at=T0 + timedelta(days=7),
        )
        assert decide(denmark, [opp("O1", norway)]).opportunity_id is None

    def test_identical_text_across_a_conflict_stays_below_the_threshold(self) -> None:
        text = ("Field service app", "They want our field service app for 40 technicians, work orders on the phone.")
        a = features(sig("a", *text, kind="expansion"))
        risk = features(sig("b", *text, kind="renewal_risk"))
        assert pair_similarity(a, risk, SETTINGS) < SETTINGS.join_threshold
        bergen = features(sig("c", text[0] + " in Bergen", text[1], kind="expansion"))
        aarhus = features(sig("d", text[0] + " in Aarhus", text[1], kind="expansion"))
        assert pair_similarity(bergen, aarhus, SETTINGS) < SETTINGS.join_threshold

    def test_growing_an_existing_service_and_a_new_project_weigh_less(self) -> None:
        text = ("Field service app", "They want our field service app for 40 technicians, work orders on the phone.")
        grow = features(sig("a", *text, kind="expansion"))
        new = features(sig("b", *text, kind="new_use_case"))
        pain = features(sig("c", *text, kind="inefficiency"))
        assert pair_similarity(grow, new, SETTINGS) < pair_similarity(pain, new, SETTINGS)
        assert pair_similarity(pain, new, SETTINGS) > 0.99

    def test_finance_reporting_and_hr_reporting_stay_apart(self) -> None:
        finance = sig(
            "a",
            "Month-end consolidation in Excel",
            "The group controller consolidates trial balances from six subsidiaries in a large workbook; "
            "closing the books takes eight days. They want automated consolidation and a board pack.",
            kind="inefficiency",
        )
        hr = sig(
            "b",
            "HR wants sick leave and headcount dashboards",
            "The HR director builds headcount, sick leave and staff turnover figures per country by hand from "
            "payroll exports every month and wants a dashboard.",
            kind="new_use_case",
            at=T0 + timedelta(days=9),
        )
        assert decide(hr, [opp("O1", finance)]).opportunity_id is None


class TestNoChaining:
    def test_a_signal_like_one_member_but_not_the_opportunity_as_a_whole_does_not_join(self) -> None:
        a = sig(
            "a",
            "Claims arrive as free-text e-mail",
            "Claims handlers retype every claim from e-mail into the claims system; a claim form in the "
            "portal would remove the retyping.",
            kind="inefficiency",
        )
        b = sig(
            "b",
            "Structured claim form instead of e-mail",
            "A guided claim form would replace e-mailed claims and feed the claims system directly. In the "
            "same meeting they mentioned that customers cannot log in with BankID.",
            at=T0 + timedelta(days=3),
        )
        c = sig(
            "c",
            "BankID login for the customer pages",
            "Customers cannot log in with BankID today and the call centre resets passwords all day.",
            at=T0 + timedelta(days=6),
        )
        fa, fb, fc = (features(s) for s in (a, b, c))
        # a and b are one opportunity; c looks like b (single linkage would join it) but nothing like a
        assert pair_similarity(fa, fb, SETTINGS) >= SETTINGS.join_threshold
        assert pair_similarity(fc, fb, SETTINGS) >= SETTINGS.join_threshold
        assert pair_similarity(fc, fa, SETTINGS) < SETTINGS.support_floor
        d = decide(c, [opp("O1", a, b)])
        assert d.opportunity_id is None, d.reason
        assert "part" in d.reason


class TestDecisionExplains:
    def test_scores_and_reason_name_the_candidates(self) -> None:
        d = decide(PAYROLL_EN, [opp("O1", PAYROLL_SV), opp("O2", ROOMS)])
        assert set(d.scores) == {"O1", "O2"}
        assert "O1" in d.reason
        assert d.matched_signal_ids == ("s1",)

    def test_no_candidates_starts_a_new_opportunity(self) -> None:
        d = decide(ROOMS, [])
        assert d.opportunity_id is None
        assert d.score == 0.0
