"""The control tower in a real browser: each role logs in and opens each of its views, the
scope holds on screen, an event recorded through the form appears (and live in another
tab), bad input is named next to its field, and nothing fails in the browser."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import TRIAL, Problems, Server, Session, screenshot, wait_for_charts

ROLE_VIEWS = {
    "sponsor": ["overview", "patients", "worklist", "capacity", "vector", "enrolment", "risks",
                "whatif", "shipments", "events", "audit"],
    "site": ["overview", "patients", "worklist", "risks", "shipments", "events"],
    "cdmo": ["overview", "patients", "worklist", "capacity", "vector", "risks", "shipments",
             "events"],
    "courier": ["shipments", "risks", "events"],
    "auditor": ["overview", "patients", "capacity", "vector", "enrolment", "risks",
                "shipments", "events", "audit"],
}
CHARTS = {"overview": 1, "patients": 1, "vector": 1, "enrolment": 1}
PATIENT_ID = re.compile(r"\bP0\d\d\b")
AsRole = Callable[[str], Session]


@pytest.mark.parametrize("role", list(ROLE_VIEWS))
def test_each_role_opens_each_of_its_views(as_role: AsRole, role: str) -> None:
    """Every view of the role renders through its menu, with its charts drawn; views of
    other roles are refused; a screenshot of each is kept."""
    user = as_role(role)
    page = user.page
    menu = page.get_by_role("navigation", name="Views")
    expect(menu.get_by_role("link")).to_have_count(len(ROLE_VIEWS[role]))
    for view in ROLE_VIEWS[role]:
        menu.locator(f'a[href$="/{view}"]').click()
        page.wait_for_url(f"**/trials/{TRIAL}/{view}")
        wait_for_charts(page)
        expect(page.locator("h1")).to_be_visible()
        expect(menu.locator("[aria-current=page]")).to_have_count(1)
        if view in CHARTS:
            assert page.locator(".chart .main-svg").count() >= CHARTS[view]
        if view == "capacity":
            assert page.locator(".chart .main-svg").count() >= 1
        expect(page.locator("#live-status")).to_have_text("live", timeout=10_000)
        screenshot(page, f"{role}-{view}")
    others = [v for v in ROLE_VIEWS["sponsor"] if v not in ROLE_VIEWS[role]]
    if others:
        response = page.request.get(f"{user.base}/trials/{TRIAL}/{others[0]}")
        assert response.status == 403


def test_login_names_the_wrong_field(browser, server: Server, problems: Problems) -> None:
    """A wrong password is an error next to the password field, not a crash."""
    context = browser.new_context()
    page = problems.watch(context.new_page())
    page.goto(f"{server.url}/login")
    page.get_by_label("User name").fill("demo-sponsor")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#password-error")).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "login-error")
    context.close()


def _text(page: Page) -> str:
    return page.locator("main").inner_text()


def test_cdmo_sees_chain_of_identity_ids_never_patient_ids(as_role: AsRole) -> None:
    """On every CDMO page patients appear only as COI ids, and only its facility."""
    user = as_role("cdmo")
    for view in ROLE_VIEWS["cdmo"]:
        page = user.open(view)
        text = _text(page) + page.locator("#live-feed").inner_text()
        assert not PATIENT_ID.search(text), f"{view} shows a patient id"
        assert "CDMO-B" not in text, f"{view} shows another facility"
    page = user.open("patients")
    expect(page.locator("tbody th").first).to_contain_text("CHA0000")


def test_site_sees_only_its_own_patients(as_role: AsRole) -> None:
    """The S01 coordinator sees S01's patients and none of S02's."""
    user = as_role("site")
    for view in ("overview", "patients", "worklist", "events"):
        text = _text(user.open(view))
        for other in ("P003", "P005", "P007", "P009", "Houston"):
            assert other not in text, f"{view} shows {other}"
    expect(user.open("patients").locator("tbody th", has_text="P004")).to_have_count(1)


def test_auditor_reads_but_has_no_forms(as_role: AsRole) -> None:
    """Auditors see the record and the audit trail without a single write form."""
    user = as_role("auditor")
    page = user.open("events")
    expect(page.locator("#record-form")).to_have_count(0)
    page = user.open("risks")
    expect(page.locator("form.ack-form")).to_have_count(0)
    page = user.open("audit")
    expect(page.locator("p[role=status]")).to_contain_text("intact")
    assert page.locator("table.audit tbody tr").count() > 0


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_recorded_event_appears_and_reaches_another_tab_live(as_role: AsRole,
                                                            problems: Problems) -> None:
    """The site enrols a patient through the form: the event is listed on its page, and
    a sponsor's open page shows it without reloading."""
    sponsor = as_role("sponsor")
    watcher = sponsor.open("events")
    expect(watcher.locator("#live-status")).to_have_text("live", timeout=10_000)
    watcher.evaluate("window.__marker = 'not reloaded'")

    site = as_role("site")
    page = site.open("events", "?kind=patient_enrolled")
    page.get_by_label("New patient id").fill("P011")
    page.get_by_label("Site").select_option("S01")
    page.get_by_label("Day it happened").fill(_today())
    page.get_by_role("button", name="Record event").click()
    expect(page.get_by_role("status").filter(has_text="Recorded")).to_contain_text(
        "Patient enrolled for P011")
    expect(page.locator("#events-table tbody tr").first).to_contain_text("P011")
    screenshot(page, "site-event-recorded")

    feed = watcher.locator("#live-feed li", has_text="Patient enrolled")
    expect(feed.first).to_contain_text("P011", timeout=15_000)
    expect(watcher.locator("#events-table tbody tr").first).to_contain_text("P011")
    assert watcher.evaluate("window.__marker") == "not reloaded"
    screenshot(watcher, "sponsor-event-live")

    cdmo = as_role("cdmo")
    cdmo_events = cdmo.open("events")
    assert "P011" not in _text(cdmo_events)


def test_bad_input_is_named_next_to_its_field(as_role: AsRole) -> None:
    """Missing and malformed fields come back as messages beside the field, never a 500."""
    site = as_role("site")
    page = site.open("events", "?kind=apheresis_scheduled&patient=P004")
    page.get_by_role("button", name="Record event").click()
    expect(page.locator("#f-day-error")).to_contain_text("required")
    expect(page.get_by_label("Apheresis day")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("not recorded")
    screenshot(page, "site-event-errors")

    page = site.open("events", "?kind=apheresis_done&patient=P004")
    page.get_by_label("Chain-of-identity id").fill("CHA00002600000X")
    page.get_by_role("button", name="Record event").click()
    expect(page.locator("#f-coi-error")).to_contain_text("COI")

    page = site.open("events", "?kind=patient_enrolled")
    page.get_by_label("New patient id").fill("P012")
    page.get_by_label("Site").select_option("S01")
    page.get_by_label("Day it happened").fill("2099-01-01")
    page.get_by_role("button", name="Record event").click()
    expect(page.locator("#f-occurred_on-error")).to_contain_text("future")


def test_sponsor_acknowledges_and_assigns_a_risk(as_role: AsRole) -> None:
    """An empty comment is refused by field; a full one is kept with the assignee."""
    sponsor = as_role("sponsor")
    page = sponsor.open("risks")
    card = page.locator("article.alert-card").first
    card.locator("summary").click()
    card.get_by_role("button", name="Acknowledge").click()
    card = page.locator("article.alert-card").first
    expect(card.locator(".error")).to_contain_text("Comment")
    card.get_by_label("Comment").fill("Supply chain lead on it")
    card.get_by_label("Assign to").fill("vector supply lead")
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".flash")).to_have_text("Alert acknowledged.")
    expect(page.locator("article.alert-card").first.locator(".ack")).to_contain_text(
        "assigned to vector supply lead")
    screenshot(page, "sponsor-risks-acknowledged")


def test_what_if_shows_plan_and_forecast_side_by_side(as_role: AsRole) -> None:
    """An extra suite compares plan and forecast; a rate above 1 is named as the fault."""
    sponsor = as_role("sponsor")
    page = sponsor.open("whatif")
    page.get_by_label("An extra suite").check()
    page.get_by_label("Available from").fill("2027-01-11")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("table", name="Plan")).to_be_visible()
    expect(page.get_by_role("table", name=re.compile("Forecast"))).to_contain_text(
        "vector stock-out")
    screenshot(page, "sponsor-whatif-result")
    page.get_by_label("Manufacturing success rate").check()
    page.get_by_label("Rate (0 to 1)").fill("2")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator(".error", has_text="Rate")).to_be_visible()


def test_courier_records_only_hand_overs(as_role: AsRole) -> None:
    """A courier's form offers hand-overs only, with the chain-of-custody fields."""
    courier = as_role("courier")
    page = courier.open("events")
    options = page.locator("#kind-choice option").all_inner_texts()
    assert options
    assert all(("shipped" in o or "received" in o) for o in options)
    expect(page.get_by_label("Signed by")).to_have_value("Demo Courier")
    response = page.request.get(f"{courier.base}/trials/{TRIAL}/overview")
    assert response.status == 403
    assert "not part of the courier role" in response.text()


def test_cdmo_records_a_reservation_that_shows_on_its_capacity(as_role: AsRole) -> None:
    """A CDMO planner records suites taken by another client; the capacity view lists it."""
    cdmo = as_role("cdmo")
    page = cdmo.open("events", "?kind=reservation_added")
    expect(page.get_by_label("Facility")).to_have_value("CDMO-A")
    page.get_by_label("Day it happened").fill(_today())
    page.get_by_label("Suites").fill("1")
    page.get_by_label("First day").fill("2027-04-05")
    page.get_by_label("Last day").fill("2027-04-20")
    page.get_by_label("Label").fill("shutdown for maintenance")
    page.get_by_role("button", name="Record event").click()
    expect(page.locator(".flash")).to_contain_text("Suites reserved by others")
    page = cdmo.open("capacity")
    expect(page.get_by_role("table", name="Reservations (capacity not ours)")).to_contain_text(
        "shutdown for maintenance")
    screenshot(page, "cdmo-capacity-after-reservation")


def test_sponsor_stores_the_plan_and_logs_out(as_role: AsRole) -> None:
    """The plan shown can be stored as the current plan; logging out ends the session."""
    sponsor = as_role("sponsor")
    page = sponsor.open("overview")
    store = page.get_by_role("button", name="Store as the current plan")
    if store.count():
        store.click()
        wait_for_charts(page)
    expect(page.locator(".plan-note")).to_contain_text("Current plan, made")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto(f"{sponsor.base}/trials/{TRIAL}/overview")
    assert "/login" in page.url


def _enrol(user: Session, patient: str, site: str) -> None:
    page = user.open("events", "?kind=patient_enrolled")
    page.get_by_label("New patient id").fill(patient)
    page.get_by_label("Site").select_option(site)
    page.get_by_label("Day it happened").fill(_today())
    page.get_by_role("button", name="Record event").click()
    expect(page.locator(".flash")).to_contain_text(f"for {patient}")


def test_a_radar_action_is_tried_as_a_what_if(as_role: AsRole) -> None:
    """More patients than suites: the radar recommends suites, and the sponsor sees that
    action's plan and forecast next to the trial as it stands."""
    sponsor = as_role("sponsor")
    for patient in ("P021", "P022"):
        _enrol(sponsor, patient, "S02")
    page = sponsor.open("risks")
    page.get_by_role("link", name="Try this action as a what-if").first.click()
    expect(page.get_by_role("table", name="Plan")).to_be_visible()
    expect(page.locator(".whatif-result")).to_contain_text("recommended action")
    screenshot(page, "sponsor-whatif-from-alert")


def _last_collection_day() -> dt.date:
    """The latest day S01 collects on (Mon-Thu) at least two days ago, so that the hand-over
    the next morning is in the past whatever the time of day the test runs."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    while day.weekday() > 3:
        day -= dt.timedelta(days=1)
    return day


def _custody(page: Page, giver: str, taker: str, signer: str, where: str,
             at: dt.datetime) -> None:
    page.get_by_label("Handed over by (party)").fill(giver)
    page.get_by_label("Received by (party)").fill(taker)
    page.get_by_label("Signed by").fill(signer)
    page.get_by_label("Where").fill(where)
    page.get_by_label("When (UTC)").fill(at.strftime("%Y-%m-%dT%H:%M"))


def test_chain_of_custody_from_site_to_courier_to_cdmo(as_role: AsRole) -> None:
    """The site collects and hands the material to the courier; the courier, who knows the
    patient only by COI id, records the hand-over at the CDMO; each sees its shipments."""
    collected = _last_collection_day()
    site = as_role("site")
    page = site.open("events", "?kind=patient_enrolled")
    page.get_by_label("New patient id").fill("P031")
    page.get_by_label("Site").select_option("S01")
    page.get_by_label("Day it happened").fill((collected - dt.timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Record event").click()
    expect(page.locator(".flash")).to_contain_text("for P031")

    page = site.open("events", "?kind=apheresis_done&patient=P031")
    coi = page.get_by_label("Chain-of-identity id").input_value()
    assert coi.startswith("CH")
    page.get_by_label("Day it happened").fill(collected.isoformat())
    page.get_by_role("button", name="Record event").click()
    expect(page.locator(".flash")).to_contain_text("Apheresis done for P031")

    page = site.open("events", "?kind=material_shipped&patient=P031")
    expect(page.get_by_label("Chain-of-identity id")).to_have_value(coi)
    page.get_by_label("Day it happened").fill(collected.isoformat())
    page.get_by_label("To facility").select_option("CDMO-A")
    handed = dt.datetime.combine(collected, dt.time(14, 0))
    _custody(page, "S01", "Demo Courier", "Research nurse", "Boston", handed)
    page.get_by_role("button", name="Record event").click()
    expect(page.locator(".flash")).to_contain_text("Apheresis material shipped for P031")

    courier = as_role("courier")
    page = courier.open("shipments")
    expect(page.locator("tbody tr").first).to_contain_text(coi)
    assert "P031" not in _text(page)
    page = courier.open("events", "?kind=material_received")
    page.get_by_label("Chain-of-identity id").fill(coi)
    page.get_by_label("Day it happened").fill((collected + dt.timedelta(days=1)).isoformat())
    page.get_by_label("Facility").select_option("CDMO-A")
    _custody(page, "Demo Courier", "CDMO-A", "Demo Courier", "Philadelphia",
             handed + dt.timedelta(hours=20))
    page.get_by_role("button", name="Record event").click()
    expect(page.locator(".flash")).to_contain_text(f"received at CDMO for {coi}")
    page = courier.open("shipments")
    expect(page.locator("tbody tr")).to_have_count(2)
    screenshot(page, "courier-shipments-after-handover")

    cdmo = as_role("cdmo")
    expect(cdmo.open("worklist").locator("tbody")).to_contain_text(coi)
