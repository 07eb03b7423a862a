"""The web app driven the way people use it: labels, buttons, keyboard; axe on every page; no foreign requests."""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import SUGGEST_ALL, steered
from tests.browser.conftest import Requests, Site, axe_violations, sign_in

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.slow


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def test_a_contributor_reports_a_signal_and_sees_it_attributed_in_my_signals(page: Any, site: Site) -> None:
    expect = _expect()
    sign_in(page, site, "anna.berg@ourco.se", "contributor")
    page.get_by_role("link", name="Report a signal").first.click()
    # htmx (a deferred script) binds the typeahead once the document is parsed; typing before that sends no request.
    # The likely cause of this test's one CI failure: the option never came, on the first page the browser opened.
    page.wait_for_load_state("load")
    page.get_by_label("Customer").fill("Tailspin")
    # The typeahead offers the directory's account; take it.
    expect(page.locator("#account-options option[value='Tailspin Health AB']")).to_have_count(1)
    page.get_by_label("Customer").fill("Tailspin Health AB")
    page.get_by_label("Kind").select_option("expansion")
    page.get_by_label("Title").fill("Scheduling module for all 14 clinics")
    page.get_by_label("What did you notice?").fill(
        "Their operations lead asked whether our radiology scheduling could cover all 14 clinics."
    )
    page.get_by_label("What did you notice?").press("Tab")
    page.keyboard.press("Enter")  # the submit button has focus: keyboard only
    result = page.locator("#signal-result")
    expect(result).to_contain_text("Attributed to Tailspin Health AB")
    expect(result).to_be_focused()
    page.get_by_role("link", name="See my signals").click()
    row = page.get_by_role("row").filter(has_text="Scheduling module for all 14 clinics")
    expect(row).to_contain_text("Tailspin Health AB")
    expect(row).to_contain_text("attributed")


def test_a_seller_assigns_a_waiting_signal_and_the_contributor_sees_it(page: Any, context: Any, site: Site) -> None:
    expect = _expect()
    title = f"Warehouse robots pilot {uuid.uuid4().hex[:6]}"
    site.signal("per.lind@ourco.se", "delivery", "the new customer in Gothenburg", title, "They want a robot pilot.")
    sign_in(page, site, "sara.ek@ourco.se", "seller")
    page.get_by_role("link", name="Review").click()
    item = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=title))
    item.get_by_label("Other account (CRM id)").fill("HS-103")
    item.get_by_role("button", name="Assign", exact=True).click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("is now on Contoso Logistics AB")
    status.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.get_by_role("table")).to_contain_text("per.lind@ourco.se")
    # The contributor, in a browser of their own, sees the signal attributed.
    other = context.browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        mine = other.new_page()
        sign_in(mine, site, "per.lind@ourco.se", "contributor")
        mine.goto(f"{site.url}/app/me")
        expect(mine.get_by_role("row").filter(has_text=title)).to_contain_text("Contoso Logistics AB")
    finally:
        other.close()


def test_a_seller_merges_a_possible_duplicate_and_rejects_another_in_one_click(page: Any, site: Site) -> None:
    expect = _expect()
    tag = uuid.uuid4().hex[:6]
    with steered(site.engine, SUGGEST_ALL):  # whatever the model would say: the page is under test here
        first = site.signal("lena.holm@ourco.se", "support", "Fabrikam", f"Ticket export to BI {tag}",
                            "They want their ticket data exported to the BI tool every night.")  # fmt: skip
        second = site.signal("eva.lund@ourco.se", "engineering", "Fabrikam", f"Nightly BI export {tag}",
                             "Their BI team asked for a nightly export of all support tickets.")  # fmt: skip
        third = site.signal("nils.berg@ourco.se", "consulting", "Fabrikam", f"Chat widget {tag}",
                            "They asked about a chat widget on their support site.")  # fmt: skip
    assert second["duplicate_candidates"] and third["duplicate_candidates"]
    sign_in(page, site, "sara.ek@ourco.se", "seller")
    page.get_by_role("link", name="Review").click()
    item = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=second["title"], exact=True))
    expect(item).to_contain_text("their ticket data exported")  # the candidate's text beside the new one
    item.get_by_role("button", name=f"Same opportunity: merge into {first['title']}").click()
    merged = page.get_by_role("status").filter(has_text="is merged into")
    expect(merged).to_contain_text(second["title"])
    other = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=third["title"], exact=True))
    other.get_by_role("button", name="Different need").first.click()
    expect(page.get_by_role("status").filter(has_text=third["title"])).to_contain_text("stays its own opportunity")
    merged.get_by_role("link").click()
    expect(page.get_by_role("table")).to_contain_text("lena.holm@ourco.se")
    expect(page.get_by_role("table")).to_contain_text("eva.lund@ourco.se")


def test_an_analyst_sees_every_insight_as_a_chart_and_downloads_a_csv(page: Any, site: Site) -> None:
    expect = _expect()
    sign_in(page, site, "ulla.data@ourco.se", "analyst")
    page.get_by_role("link", name="Insights").click()
    for name in ("participation", "adoption", "credit-by-function", "credit-by-person", "concentration", "ageing"):
        expect(page.locator(f"section#{name}[aria-busy]")).to_have_count(0)  # its own request has answered
        section = page.locator(f"section#{name}")
        expect(section.get_by_role("heading", level=2)).to_be_visible()
        if section.locator("canvas").count():
            expect(section.locator("canvas")).to_have_attribute("data-drawn", "true")
    # Chart.js drew something: the canvas is not blank.
    painted = page.evaluate(
        "() => { const c = document.querySelector('#chart-credit-by-function');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }"
    )
    assert painted
    page.get_by_label("Function", exact=True).select_option("support")
    page.get_by_role("button", name="Apply").click()
    assert "function=support" in page.url
    with page.expect_download() as info:
        page.locator("section#credit-by-function").get_by_role("link", name=re.compile("Download CSV")).click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert [r["key"] for r in rows] == ["support"]
    assert float(rows[0]["pipeline_value"]) + float(rows[0]["won_value"]) > 0


def _pages(site: Site) -> list[tuple[str, str, str]]:
    """(name, role, path) of every page, with a real object for the pages that show one."""
    opp = site.api.get("/v1/opportunities?limit=1").json()["items"][0]["id"]
    return [
        ("login", "", "/app/login"),
        ("home", "contributor", "/app"),
        ("report-signal", "contributor", "/app/signals/new"),
        ("my-signals", "contributor", "/app/me"),
        ("review", "seller", "/app/review"),
        ("opportunity", "seller", f"/app/opportunities/{opp}"),
        ("insights", "analyst", "/app/insights"),
        ("not-found", "contributor", "/app/opportunities/00000000-0000-0000-0000-000000000000"),
    ]


def test_no_page_has_serious_or_critical_accessibility_violations(browser: Any, site: Site) -> None:
    site.signal("omar.said@ourco.se", "delivery", "Adventure Works", "Wants a data export", "Asked for exports.")
    failures = {}
    for name, role, path in _pages(site):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            if role:
                sign_in(page, site, "anna.berg@ourco.se" if role == "contributor" else f"{role}@ourco.se", role)
            page.goto(site.url + path)
            page.wait_for_load_state("networkidle")
            found = axe_violations(page)
            if found:
                failures[name] = found
        finally:
            context.close()
    assert failures == {}


def test_no_page_or_api_doc_requests_anything_from_another_host(
    context: Any, site: Site, requests_seen: Requests
) -> None:
    page = context.new_page()
    sign_in(page, site, "admin@ourco.se", "admin")
    for _name, _role, path in _pages(site):
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
    for docs in ("/docs", "/redoc"):
        page.goto(site.url + docs)
        page.wait_for_load_state("networkidle")
    page.wait_for_selector(".swagger-ui, redoc, [role='navigation']", state="attached")
    assert any(u.endswith("/openapi.json") for u in requests_seen.seen)
    assert requests_seen.external == []  # the context fixture asserts it again, for every test


def test_a_request_to_another_host_is_caught(context: Any, site: Site, requests_seen: Requests) -> None:
    """The guard itself: a page that asks for a foreign URL is noticed (and the request never leaves). On /docs,
    which has no Content-Security-Policy; the /app pages' policy would stop the request inside the browser."""
    page = context.new_page()
    page.goto(site.url + "/docs")
    page.evaluate("() => fetch('https://cdn.example.com/x.js').catch(() => null)")
    assert requests_seen.external == ["https://cdn.example.com/x.js"]
    requests_seen.external.clear()  # expected here; keep the fixture's own check for the other tests


def test_screenshots_of_every_page(browser: Any, site: Site, tmp_path: Path) -> None:
    """1280x800 screenshots of each page; written to docs/screenshots when UPDATE_SCREENSHOTS=1."""
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    # Something in both review queues to show: a signal with no account, and a possible duplicate.
    site.signal("lena.holm@ourco.se", "support", "Northwind Traders", "Wants EDI invoicing", "Asked for EDI.")
    with steered(site.engine, SUGGEST_ALL):  # a suggestion whatever the model says: the page is pictured here
        site.signal("omar.said@ourco.se", "delivery", "Contoso Logistics", "Temperature logs for pharma",
                    "A pharma customer of theirs wants a temperature log for every cold-chain shipment.")  # fmt: skip
    for name, role, path in _pages(site):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            if role:
                sign_in(page, site, "anna.berg@ourco.se" if role == "contributor" else f"{role}@ourco.se", role)
            page.goto(site.url + path)
            page.wait_for_load_state("networkidle")
            # The review page's second queue is below the fold: the whole page shows both.
            page.screenshot(path=str(target / f"{name}.png"), full_page=name == "review")
        finally:
            context.close()
        assert (target / f"{name}.png").stat().st_size > 5_000
