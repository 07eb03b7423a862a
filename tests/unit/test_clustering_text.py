"""Tokenising and evidence terms for Swedish and English signal text."""

from __future__ import annotations

from app.clustering.text import detect_language, join_thousands, stem, terms_of


def test_thousands_separators_are_joined() -> None:
    assert join_thousands("runt 1 200 flyttar, 52,000 meters") == "runt 1200 flyttar, 52000 meters"


def test_inflections_share_a_stem() -> None:
    assert stem("invoicing", "en") == stem("invoices", "en")
    assert stem("integrationen", "sv") == stem("integration", "en")


def test_language_is_detected_from_stopwords() -> None:
    assert detect_language(["de", "vill", "ha", "en", "app", "och", "det", "är", "bråttom"]) == "sv"
    assert detect_language(["they", "want", "an", "app", "and", "it", "is", "urgent"]) == "en"


def test_swedish_and_english_wordings_share_concepts() -> None:
    sv = terms_of("Fakturering", "Löneavdelningen knappar in tidrapporter för hand.")
    en = terms_of("Invoicing", "Payroll retypes the timesheets by hand.")
    shared = {t for t in sv if t.startswith("c:")} & {t for t in en if t.startswith("c:")}
    assert {"c:invoice", "c:payroll", "c:timesheet", "c:manual"} <= shared


def test_compound_words_yield_their_parts_concepts() -> None:
    assert "c:invoice" in terms_of("", "De ifrågasätter fakturasystemet.")


def test_city_names_place_a_signal_in_its_country() -> None:
    assert "c:norway" in terms_of("Rollout to the Bergen office", "")
    assert "c:denmark" in terms_of("", "Kontoret i Aarhus")


def test_ignored_words_leave_no_trace() -> None:
    terms = terms_of("Norrfors wants an app", "Norrfors again", ignore=frozenset({"norrfors"}))
    assert not any("norrf" in t for t in terms)


def test_short_or_cut_off_lexicon_stems_do_not_capture_unrelated_words() -> None:
    # "meter" cut by Swedish rules is "met", "måler" is "mål" (a goal), "personalavdelning" starts "person"
    assert "c:meter" not in terms_of("Met the service manager", "")
    assert "c:meter" not in terms_of("Målet är dag 4", "")
    assert "c:hr" not in terms_of("A named person is responsible", "")
    # inflected forms of long entries still count: "leverantörer" is "leverantör"
    assert "c:vendor" in terms_of("Nya leverantörer", "")


def test_inflected_phrases_map_to_their_concept() -> None:
    assert "c:work_order" in terms_of("Mobile work orders", "")
    assert "c:customer_service" in terms_of("The customer service manager called", "")


def test_english_plurals_and_final_e_share_a_stem() -> None:
    assert stem("sites", "en") == stem("site", "en")
    assert stem("types", "en") == stem("typed", "en") == stem("type", "en")
    assert stem("boxes", "en") == stem("box", "en")


def test_possessives_and_unaccented_names_are_ignored_too() -> None:
    from app.clustering.similarity import ignore_words

    ignore = ignore_words(["Hirvelä Forest"])
    terms = terms_of("Hirvelä's dealers", "Data from Hirvela arrived", ignore=ignore)
    assert not any("hirvel" in t for t in terms)
