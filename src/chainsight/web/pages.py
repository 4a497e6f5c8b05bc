"""The control tower's pages: thin routes that read through ``board`` (the API's services
and scoping), build figures with ``charts`` and render Jinja2 templates."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session

from chainsight.api import repository as repo
from chainsight.api.auth import service as auth
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import Db, Services, ServicesDep, mark_changed
from chainsight.api.problems import ApiProblem
from chainsight.api.routers.events import record_one
from chainsight.api.schemas import AcknowledgeIn
from chainsight.api.scoping import (
    TrialContext,
    alert_view,
    identifies_patients,
    may,
    require,
    sees_facility,
    sees_lot,
    sees_shipment,
    visible_patients,
)
from chainsight.domain import ScenarioInvalid
from chainsight.domain.journey import EventRefused
from chainsight.domain.readiness import facility_ready_day
from chainsight.forecast import whatif
from chainsight.record import repository as record_repo
from chainsight.record.audit import entry_dict, verify_chain
from chainsight.web import board, charts, forms
from chainsight.web.session import (
    PageError,
    PageUser,
    check_csrf,
    csrf_token,
    session_token,
)
from chainsight.web.worklist import worklist

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
router = APIRouter(include_in_schema=False)


async def posted_form(request: Request) -> dict[str, str]:
    """The posted form's text fields."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Form = Annotated[dict[str, str], Depends(posted_form)]


def render(request: Request, template: str, *, principal: Principal | None = None,
           ctx: TrialContext | None = None, view: str | None = None, status: int = 200,
           **values: Any) -> HTMLResponse:
    """A page with what every page needs: the user, the trial, the menu, the form token."""
    services = request.app.state.services
    token = session_token(request, services)
    context: dict[str, Any] = {
        "principal": principal, "ctx": ctx, "trial": ctx.scenario.trial if ctx else None,
        "views": board.views_for(principal) if principal and ctx else [], "active": view,
        "csrf": csrf_token(token) if token else "",
        "identifies": identifies_patients(principal) if principal else False,
        "may_write": principal is not None and may(principal, "record_event"),
        **values,
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page (status and a sentence), never a traceback."""
    return render(request, "error.html", status=status, status_code=status, message=message)


def _page(request: Request, session: Session, principal: Principal, trial_id: str,
          view: str) -> TrialContext:
    board.require_view(principal, view)
    return board.trial_in_scope(session, principal, trial_id)


# ---------------------------------------------------------------- login


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The login form."""
    return render(request, "login.html", next=_safe_next(next), errors={}, name="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: Form, session: Db, services: ServicesDep) -> Response:
    """Check the name and password and start a browser session (the same cookie the API
    accepts)."""
    name, password = form.get("name", "").strip(), form.get("password", "")
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Enter your user name."
    if not password:
        errors["password"] = "Enter your password."
    principal = None
    if not errors:
        principal = auth.principal_for_password(session, hasher=services.hasher, name=name,
                                                password=password)
        if principal is None:
            errors["password"] = "Wrong user name or password."
    if principal is None:
        # 200, like every form shown again with its errors: the page loaded fine, the
        # message is for the person (a 4xx page would be a failed load to the browser).
        return render(request, "login.html", next=_safe_next(form.get("next")),
                      errors=errors, name=name)
    settings = services.settings
    token = auth.start_session(session, principal=principal, hours=settings.session_hours)
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    response.set_cookie(settings.session_cookie_name, token, httponly=True, samesite="strict",
                        secure=settings.cookie_secure,
                        max_age=int(settings.session_hours * 3600), path="/")
    return response


@router.post("/logout")
def logout(request: Request, form: Form, session: Db, services: ServicesDep) -> Response:
    """End the session."""
    token = session_token(request, services)
    check_csrf(token, form.get("csrf"))
    if token:
        auth.end_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(services.settings.session_cookie_name, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: PageUser, session: Db) -> Response:
    """The trials the user may see; straight into the trial when there is one."""
    trials = board.visible_trials(session, principal)
    if len(trials) == 1:
        trial = trials[0].trial.id
        return RedirectResponse(f"/trials/{trial}/{board.home_view(principal)}",
                                status_code=303)
    return render(request, "trials.html", principal=principal, trials=trials,
                  home=board.home_view(principal))


@router.get("/trials/{trial_id}")
def trial_home(trial_id: str, principal: PageUser, session: Db) -> Response:
    """The user's first view of a trial."""
    board.trial_in_scope(session, principal, trial_id)
    return RedirectResponse(f"/trials/{trial_id}/{board.home_view(principal)}",
                            status_code=303)


# ---------------------------------------------------------------- overview


def _kpi(values: list[int]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "n": 0}
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    p90 = ordered[max(0, -(-9 * len(ordered) // 10) - 1)]
    return {"median": median, "p90": p90, "n": len(ordered)}


def _next_days(principal: Principal, ctx: TrialContext, plan: dict[str, Any] | None,
               days: int = 14) -> list[dict[str, Any]]:
    today = ctx.scenario.trial.today
    end = today + dt.timedelta(days=days)
    found: list[dict[str, Any]] = []

    def add(day: Any, what: str, who: str) -> None:
        if day is None:
            return
        when = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        if today <= when < end:
            found.append({"day": when, "what": what, "who": who})

    for row in (plan or {}).get("patients") or []:
        name = board.label_of(principal, ctx, row)
        patient = row.get("patient")
        if patient and ctx.state(str(patient)) in ("infused", "withdrawn"):
            continue
        add(row.get("apheresis"), "apheresis", name)
        add(row.get("manufacturing_start"), f"run starts at {row.get('facility')}", name)
        add(row.get("release"), "QC release", name)
        add(row.get("dp_arrival"), "drug product arrives at site", name)
        if row.get("infusion"):
            infusion = dt.date.fromisoformat(str(row["infusion"]))
            add(infusion - dt.timedelta(days=5), "lymphodepletion starts", name)
            add(infusion, "infusion", name)
    for lot in ctx.scenario.vector.lots:
        if not sees_lot(principal, ctx, lot):
            continue
        add(lot.effective_expiry, "vector lot expires", lot.id)
        if lot.extension is not None and lot.extension.status == "pending":
            add(lot.extension.readout, "extension readout (stability data)", lot.id)
        if lot.released > today:
            add(lot.released, "vector lot released", lot.id)
    for facility in ctx.scenario.facilities:
        if sees_facility(principal, facility.id):
            for r in facility.reservations:
                add(r.start, f"{r.suites} suite(s) taken: {r.label or 'reservation'}",
                    facility.id)
    found.sort(key=lambda item: (item["day"], item["who"]))
    return found


@router.get("/trials/{trial_id}/overview", response_class=HTMLResponse)
def overview(request: Request, trial_id: str, principal: PageUser, session: Db,
             services: ServicesDep) -> HTMLResponse:
    """Patients at each stage, time to treatment and vein-to-vein against target, the next
    14 days, and the top risks."""
    ctx = _page(request, session, principal, trial_id, "overview")
    info = board.scoped_plan(session, principal, ctx, services)
    plan = info.document if info else None
    stages = board.stage_counts(principal, ctx)
    ttt, v2v = [], []
    for row in (plan or {}).get("patients") or []:
        infusion = row.get("infusion")
        if infusion and row.get("enrolled"):
            ttt.append((dt.date.fromisoformat(infusion)
                        - dt.date.fromisoformat(row["enrolled"])).days)
        if infusion and row.get("apheresis"):
            v2v.append((dt.date.fromisoformat(infusion)
                        - dt.date.fromisoformat(row["apheresis"])).days)
    radar = board.radar_of(session, principal, ctx, services)
    return render(
        request, "overview.html", principal=principal, ctx=ctx, view="overview",
        plan_info=info, stage_chart=charts.stages_chart(stages), stages=stages,
        ttt=_kpi(ttt), v2v=_kpi(v2v), targets=board.targets(),
        next_days=_next_days(principal, ctx, plan), alerts=radar.alerts[:5],
        alerts_total=len(radar.alerts),
        critical=sum(1 for a in radar.alerts if a["severity"] == "critical"),
        unplanned=(plan or {}).get("unplanned") or [],
        patients_seen=len(visible_patients(principal, ctx)))


# ---------------------------------------------------------------- patient journeys


def _actual_dates(ctx: TrialContext, patient_id: str) -> dict[str, dt.date | None]:
    patient = ctx.scenario.patient(patient_id)
    journey = ctx.journeys.get(patient_id)
    start = patient.manufacturing_start
    days = ctx.scenario.process_at(patient.facility).manufacturing_days if patient.facility \
        else ctx.scenario.process.manufacturing_days
    end = journey.run_ends if journey and journey.run_ends else (
        start + dt.timedelta(days=days) if start else None)
    return {"enrolled": patient.enrolled, "apheresis": patient.apheresis,
            "manufacturing_start": start, "manufacturing_end": end,
            "release": journey.released_on if journey else None,
            "dp_arrival": journey.dp_received_on if journey else None,
            "infusion": patient.infusion}


@router.get("/trials/{trial_id}/patients", response_class=HTMLResponse)
def patients(request: Request, trial_id: str, principal: PageUser, session: Db,
             services: ServicesDep) -> HTMLResponse:
    """Each patient's journey as a Gantt chart, plan against actual, with why it waits."""
    ctx = _page(request, session, principal, trial_id, "patients")
    info = board.scoped_plan(session, principal, ctx, services)
    plan = info.document if info else {}
    today = ctx.scenario.trial.today
    rows, table = [], []
    for row in plan.get("patients") or []:
        patient_id = row.get("patient") or ctx.patient_by_coi(str(row.get("coi")))
        label = board.label_of(principal, ctx, row)
        actual = _actual_dates(ctx, str(patient_id)) if patient_id else {}
        if not identifies_patients(principal):
            actual["enrolled"] = None
        why = "; ".join(row.get("explanations") or [row.get("reason") or ""])
        rows.append({"label": label, "plan": charts.plan_segments(row),
                     "actual": charts.actual_segments(actual, today), "why": why})
        table.append({"label": label, "row": row, "why": why,
                      "coi": ctx.coi(str(patient_id)) if patient_id else None,
                      "state": ctx.state(str(patient_id)) if patient_id else None})
    return render(request, "patients.html", principal=principal, ctx=ctx, view="patients",
                  plan_info=info, gantt=charts.gantt_chart(rows, today), table=table,
                  unplanned=plan.get("unplanned") or [])


# ---------------------------------------------------------------- worklist


@router.get("/trials/{trial_id}/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, trial_id: str, principal: PageUser, session: Db,
                  services: ServicesDep) -> HTMLResponse:
    """What to do for which patient, by when."""
    ctx = _page(request, session, principal, trial_id, "worklist")
    info = board.scoped_plan(session, principal, ctx, services)
    tasks = worklist(principal, ctx, info.document if info else None)
    return render(request, "worklist.html", principal=principal, ctx=ctx, view="worklist",
                  tasks=tasks, today=ctx.scenario.trial.today,
                  recordable=set(forms.kinds_for(principal)))


# ---------------------------------------------------------------- capacity and vector


@router.get("/trials/{trial_id}/capacity", response_class=HTMLResponse)
def capacity(request: Request, trial_id: str, principal: PageUser, session: Db,
             services: ServicesDep) -> HTMLResponse:
    """Suites by day at each drug product facility the user sees."""
    ctx = _page(request, session, principal, trial_id, "capacity")
    info = board.scoped_plan(session, principal, ctx, services)
    plan = info.document if info else {}
    forecast = board.forecast_of(principal, ctx, services)
    figures = []
    for facility in ctx.scenario.dp_facilities:
        if not sees_facility(principal, facility.id):
            continue
        runs = [(dt.date.fromisoformat(r["manufacturing_start"]),
                 dt.date.fromisoformat(r["manufacturing_end"]))
                for r in plan.get("patients") or []
                if r.get("facility") == facility.id and r.get("manufacturing_start")]
        runs += [(dt.date.fromisoformat(b["manufacturing_start"]),
                  dt.date.fromisoformat(b["manufacturing_end"]))
                 for b in plan.get("batches") or [] if b.get("facility") == facility.id]
        util = None
        if forecast is not None:
            util = [(dt.date.fromisoformat(w["week_start"]),
                     float((w.get("suite_utilisation") or {}).get(facility.id, 0.0)))
                    for w in forecast.get("weekly", [])]
        ready = facility_ready_day(ctx.scenario, facility.id)
        figures.append({"id": f"capacity-{facility.id}", "facility": facility, "ready": ready,
                        "figure": charts.capacity_chart(ctx.scenario, facility.id, runs, ready,
                                                        util)})
    return render(request, "capacity.html", principal=principal, ctx=ctx, view="capacity",
                  figures=figures, has_forecast=forecast is not None)


@router.get("/trials/{trial_id}/vector", response_class=HTMLResponse)
def vector(request: Request, trial_id: str, principal: PageUser, session: Db,
           services: ServicesDep) -> HTMLResponse:
    """Vector on hand over time, expiries, extension readouts and the forecast band."""
    ctx = _page(request, session, principal, trial_id, "vector")
    info = board.scoped_plan(session, principal, ctx, services)
    plan = info.document if info else {}
    lots = [lot for lot in ctx.scenario.vector.lots if sees_lot(principal, ctx, lot)]
    use: dict[str, list[dt.date]] = {}
    for row in [*(plan.get("patients") or []), *(plan.get("batches") or [])]:
        if row.get("vector_lot") and row.get("manufacturing_start"):
            use.setdefault(row["vector_lot"], []).append(
                dt.date.fromisoformat(row["manufacturing_start"]))
    forecast = board.forecast_of(principal, ctx, services)
    figure = charts.vector_chart(ctx.scenario, [lot.id for lot in lots], use, forecast)
    usage = {u["lot"]: u for u in plan.get("vector_lots") or []}
    campaigns = ctx.scenario.vector.campaigns if principal.role in ("sponsor", "auditor") else []
    return render(request, "vector.html", principal=principal, ctx=ctx, view="vector",
                  figure=figure, lots=lots, usage=usage, campaigns=campaigns,
                  forecast=forecast)


@router.get("/trials/{trial_id}/enrolment", response_class=HTMLResponse)
def enrolment(request: Request, trial_id: str, principal: PageUser, session: Db,
              services: ServicesDep) -> HTMLResponse:
    """Cumulative enrolment against the forecast's fan."""
    ctx = _page(request, session, principal, trial_id, "enrolment")
    require(principal, "read_forecast")
    forecast = board.forecast_of(principal, ctx, services)
    fan = board.enrolment_fan(ctx.scenario, services.settings.forecast_default_runs)
    return render(request, "enrolment.html", principal=principal, ctx=ctx, view="enrolment",
                  figure=charts.enrolment_chart(ctx.scenario, fan), forecast=forecast,
                  sites=ctx.scenario.sites)


# ---------------------------------------------------------------- risks


@router.get("/trials/{trial_id}/risks", response_class=HTMLResponse)
def risks(request: Request, trial_id: str, principal: PageUser, session: Db,
          services: ServicesDep, acknowledged: str | None = None) -> HTMLResponse:
    """The radar's alerts (acknowledge and assign) and the record's incidents."""
    ctx = _page(request, session, principal, trial_id, "risks")
    radar = board.radar_of(session, principal, ctx, services)
    return render(request, "risks.html", principal=principal, ctx=ctx, view="risks",
                  alerts=radar.alerts, incidents=radar.incidents, errors={}, values={},
                  failed=None, done=acknowledged,
                  may_ack=may(principal, "acknowledge_alert"))


@router.post("/trials/{trial_id}/risks/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(request: Request, trial_id: str, alert_id: str, form: Form,
                principal: PageUser, session: Db, services: ServicesDep) -> Response:
    """Acknowledge an alert with a comment and an assignee (the API's rules)."""
    check_csrf(session_token(request, services), form.get("csrf"))
    ctx = _page(request, session, principal, trial_id, "risks")
    require_or_page(principal, "acknowledge_alert")
    row = repo.alert_state(session, ctx.trial, alert_id)
    view = alert_view(principal, ctx, json.loads(row.data)) if row and row.active else None
    if row is None or view is None:
        raise PageError(404, f"Alert {alert_id} was not found.")
    values = {"comment": form.get("comment", "").strip(),
              "assignee": form.get("assignee", "").strip() or None}
    try:
        body = AcknowledgeIn.model_validate(values)
    except ValidationError as error:
        errors = {str(e["loc"][0]): ("is required" if e["type"] == "string_too_short"
                                     else str(e["msg"])) for e in error.errors()}
        radar = board.radar_of(session, principal, ctx, services)
        return render(request, "risks.html", principal=principal, ctx=ctx,
                      view="risks", alerts=radar.alerts, incidents=radar.incidents,
                      errors=errors, values=values, failed=alert_id, done=None,
                      may_ack=True)
    repo.acknowledge(session, row, by=principal.actor, comment=body.comment,
                     assignee=body.assignee)
    mark_changed(session)
    return RedirectResponse(f"/trials/{trial_id}/risks?acknowledged={alert_id}#alert-list",
                            status_code=303)


def require_or_page(principal: Principal, action: str) -> None:
    """PageError(403) with the API's reason unless the role allows ``action``."""
    try:
        require(principal, action)
    except ApiProblem as problem:
        raise PageError(403, problem.detail or "Not allowed for your role.") from None


# ---------------------------------------------------------------- plan


@router.post("/trials/{trial_id}/plan")
def store_plan(request: Request, trial_id: str, form: Form, principal: PageUser,
               session: Db, services: ServicesDep) -> Response:
    """Make the plan of the record as it stands the trial's current plan (sponsor)."""
    check_csrf(session_token(request, services), form.get("csrf"))
    ctx = board.trial_in_scope(session, principal, trial_id)
    require_or_page(principal, "replan")
    document = board.fresh_plan(ctx.scenario, services)
    repo.add_plan(session, trial=ctx.trial, plan=document, by=principal.actor,
                  reason="re-planned from the control tower")
    mark_changed(session)
    back = form.get("back", "overview")
    back = back if back in dict(board.VIEWS) else "overview"
    return RedirectResponse(f"/trials/{trial_id}/{back}", status_code=303)


# ---------------------------------------------------------------- what-if

WHATIF_KINDS = (("suite", "An extra suite"), ("campaign", "Vector campaign start"),
                ("site", "Site activation day"), ("success", "Manufacturing success rate"))


def _what_if_data(kind: str, q: dict[str, str]) -> dict[str, Any]:
    if kind == "suite":
        return {"label": "extra suite", "suites": [{"facility": q.get("facility", ""),
                                                   "from": q.get("from", ""), "suites": 1}]}
    if kind == "campaign":
        ref: Any = q.get("campaign", "")
        ref = int(ref) if ref.isdigit() else ref
        return {"label": "campaign date", "campaigns": [{"campaign": ref,
                                                         "start": q.get("start", "")}]}
    if kind == "site":
        return {"label": "site activation", "sites": [{"site": q.get("site", ""),
                                                       "activation": q.get("activation", "")}]}
    rate: Any = q.get("rate", "")
    with contextlib.suppress(ValueError):
        rate = float(rate)
    return {"label": "success rate", "success_rate": [{"rate": rate,
                                                       "facility": q.get("facility") or None}]}


def _plan_figures(document: dict[str, Any]) -> dict[str, Any]:
    kpis = document.get("kpis") or {}
    return {"planned": kpis.get("patients_planned"), "unplanned": kpis.get("patients_unplanned"),
            "ttt_mean": (kpis.get("time_to_treatment_days") or {}).get("mean"),
            "ttt_p90": (kpis.get("time_to_treatment_days") or {}).get("p90"),
            "v2v": (kpis.get("vein_to_vein_days") or {}).get("median"),
            "deviation_days": kpis.get("deviation_days"),
            "expiring": kpis.get("vector_units_expiring")}


WHATIF_FIELDS = frozenset({"facility", "from", "campaign", "start", "site", "activation",
                           "rate"})


def _compare(ctx: TrialContext, services: Services, data: dict[str, Any],
             errors: dict[str, str]) -> dict[str, Any] | None:
    """Plan and forecast, as the trial stands and with the what-if ``data``; None (and
    ``errors`` by form field) if the what-if is not valid for this trial."""
    try:
        change = whatif.parse_what_if(data)
        changed = whatif.apply_what_if(ctx.scenario, change)
    except ScenarioInvalid as error:
        for problem in error.problems:
            name = problem.path.split(".")[-1] if problem.path else ""
            key = name if name in WHATIF_FIELDS else "change"
            errors.setdefault(key, problem.message if key != "change"
                              else f"{problem.path}: {problem.message}")
        return None
    runs = services.settings.forecast_default_runs
    comparison = whatif.compare(ctx.scenario, change, runs, 0)
    base_plan = board.fresh_plan(ctx.scenario, services)
    new_plan = board.fresh_plan(changed, services)
    return {"base_plan": _plan_figures(base_plan), "new_plan": _plan_figures(new_plan),
            "base": comparison["base"], "new": comparison["what_if"],
            "difference": comparison["difference"], "label": change.label,
            "changes": change.model_dump(mode="json", by_alias=True, exclude_defaults=True)}


@router.get("/trials/{trial_id}/whatif", response_class=HTMLResponse)
def what_if(request: Request, trial_id: str, principal: PageUser, session: Db,
            services: ServicesDep) -> HTMLResponse:
    """Change one parameter; see the plan and the forecast, base and what-if, side by side."""
    ctx = _page(request, session, principal, trial_id, "whatif")
    q = dict(request.query_params)
    kind = q.get("change")
    errors: dict[str, str] = {}
    result = None
    from_alert = None
    if q.get("alert"):
        from_alert = next((a for a in board.radar_of(session, principal, ctx, services).alerts
                           if a["id"] == q["alert"] and a.get("what_if")), None)
        if from_alert is None:
            errors["change"] = "that alert is gone or has no action to try"
        else:
            result = _compare(ctx, services, {"label": from_alert["title"],
                                              **from_alert["what_if"]}, errors)
    elif kind is not None:
        if kind not in dict(WHATIF_KINDS):
            errors["change"] = "choose one of the changes offered"
        else:
            result = _compare(ctx, services, _what_if_data(kind, q), errors)
    scenario = ctx.scenario
    return render(request, "whatif.html", principal=principal,
                  ctx=ctx, view="whatif", kinds=WHATIF_KINDS, q=q, errors=errors,
                  result=result, from_alert=from_alert, facilities=scenario.dp_facilities,
                  campaigns=list(enumerate(scenario.vector.campaigns, start=1)),
                  sites=[s for s in scenario.sites if s.activation.actual is None])


# ---------------------------------------------------------------- shipments


@router.get("/trials/{trial_id}/shipments", response_class=HTMLResponse)
def shipments(request: Request, trial_id: str, principal: PageUser, session: Db
              ) -> HTMLResponse:
    """Hand-overs in the chain of custody the user sees (a courier: those it carries)."""
    ctx = _page(request, session, principal, trial_id, "shipments")
    rows = []
    for row in record_repo.custody_chain(session, ctx.trial):
        if not sees_shipment(principal, ctx, row.patient, (row.from_party, row.to_party)):
            continue
        rows.append({"who": row.patient if identifies_patients(principal) else row.coi,
                     "coi": row.coi, "material": row.material.replace("_", " "),
                     "from": row.from_party, "to": row.to_party, "signed_by": row.signed_by,
                     "place": row.place, "at": repo.aware(row.handed_at),
                     "temperature_ok": row.temperature_ok, "qa_status": row.qa_status})
    rows.reverse()
    return render(request, "shipments.html", principal=principal, ctx=ctx, view="shipments",
                  rows=rows)


# ---------------------------------------------------------------- events


def _choices(principal: Principal, ctx: TrialContext) -> forms.Choices:
    scenario = ctx.scenario
    choices = forms.Choices()
    for patient_id in visible_patients(principal, ctx):
        if identifies_patients(principal):
            choices.patients.append((patient_id, patient_id))
    choices.sites = [(s.id, f"{s.id} · {s.name}") for s in scenario.sites
                     if principal.role in ("sponsor", "auditor") or s.id == principal.site]
    choices.facilities = [(f.id, f"{f.id} · {f.name}") for f in scenario.facilities
                          if principal.role != "cdmo" or f.id == principal.facility]
    choices.lots = [(lot.id, lot.id) for lot in scenario.vector.lots
                    if principal.role != "cdmo" or sees_lot(principal, ctx, lot)]
    choices.transfers = [(t.id, f"{t.id} · {t.facility}") for t in scenario.tech_transfer
                         if principal.role != "cdmo" or t.facility == principal.facility]
    return choices


def _defaults(principal: Principal, ctx: TrialContext, kind: str, ref: str | None,
              now: dt.datetime) -> dict[str, str]:
    values = {"occurred_on": forms.default_day(now), "custody.at": forms.default_time(now),
              "custody.temperature_ok": "on"}
    if ref:
        if identifies_patients(principal):
            values["patient"] = ref
            values["coi"] = ctx.coi(ref) or ""
        else:
            values["coi"] = ref
        patient_id = ref if ctx.patient(ref) else ctx.patient_by_coi(ref)
        if patient_id:
            facility = ctx.facility_of(patient_id)
            if facility:
                values["facility"] = facility
            patient = ctx.patient(patient_id)
            if patient and patient.vector_lot:
                values["vector_lot"] = patient.vector_lot
    if principal.role == "site" and principal.site:
        values["site"] = principal.site
    if principal.role == "cdmo" and principal.facility:
        values["facility"] = principal.facility
    if principal.role == "courier" and principal.courier:
        values["custody.by"] = principal.courier
    return values


def _events_page(request: Request, principal: Principal, ctx: TrialContext, session: Session,
                 *, kind: str | None, values: dict[str, str], errors: dict[str, str],
                 general: list[str], recorded: str | None, status: int = 200
                 ) -> HTMLResponse:
    kinds = forms.kinds_for(principal)
    if kind not in kinds:
        kind = kinds[0] if kinds else None
    fields = forms.fields_for(kind, principal, _choices(principal, ctx)) if kind else []
    return render(request, "events.html", status=status, principal=principal, ctx=ctx,
                  view="events", kinds=[(k, forms.KIND_LABELS.get(k, k)) for k in kinds],
                  kind=kind, fields=fields, values=values, errors=errors, general=general,
                  events=board.events_of(session, principal, ctx), recorded=recorded,
                  key=str(uuid.uuid4()), labels=forms.KIND_LABELS)


@router.get("/trials/{trial_id}/events", response_class=HTMLResponse)
def events(request: Request, trial_id: str, principal: PageUser, session: Db,
           kind: str | None = None, patient: str | None = None,
           recorded: str | None = None) -> HTMLResponse:
    """The events the user sees, and the form to record one."""
    ctx = _page(request, session, principal, trial_id, "events")
    chosen = kind if kind in forms.kinds_for(principal) else None
    values = _defaults(principal, ctx, chosen or "", patient,
                       request.app.state.services.clock())
    return _events_page(request, principal, ctx, session, kind=chosen, values=values,
                        errors={}, general=[], recorded=recorded)


@router.post("/trials/{trial_id}/events", response_class=HTMLResponse)
def record(request: Request, trial_id: str, form: Form, principal: PageUser, session: Db,
           services: ServicesDep) -> Response:
    """Record an event through the API's own service: the same scoping and validation,
    errors shown next to the field they name."""
    check_csrf(session_token(request, services), form.get("csrf"))
    ctx = _page(request, session, principal, trial_id, "events")
    kind = form.get("kind", "")
    if kind not in forms.kinds_for(principal):
        raise PageError(403, f"A {principal.role} user may not record {kind or 'events'}.")
    fields = forms.fields_for(kind, principal, _choices(principal, ctx))
    names = {f.name for f in fields}
    event = forms.event_from_form(kind, fields, form)
    errors: dict[str, str] = {}
    general: list[str] = []

    def place(path: str, message: str) -> None:
        name = forms.field_of(path, names)
        if name is None:
            general.append(f"{path}: {message}" if path else message)
        else:
            errors.setdefault(name, message)

    try:
        result = record_one(session, services, ctx, principal, event,
                            form.get("idempotency_key") or None)
    except ScenarioInvalid as error:
        session.rollback()
        for problem in error.problems:
            place(problem.path, problem.message)
    except EventRefused as error:
        session.rollback()
        place(error.field, error.message)
    except ApiProblem as problem:
        session.rollback()
        for item in problem.errors or []:
            place(item.field, item.message)
        if not problem.errors:
            general.append(problem.detail or problem.title)
    else:
        who = result.patient or result.coi
        note = f"#{result.sequence} {forms.KIND_LABELS.get(kind, kind)}" + (
            f" for {who}" if who else "") + (" (already recorded)" if result.duplicate else "")
        return RedirectResponse(
            f"/trials/{trial_id}/events?recorded={quote(note)}", status_code=303)
    return _events_page(request, principal, ctx, session, kind=kind, values=form,
                        errors=errors, general=general, recorded=None)


# ---------------------------------------------------------------- audit


@router.get("/trials/{trial_id}/audit", response_class=HTMLResponse)
def audit(request: Request, trial_id: str, principal: PageUser, session: Db,
          patient: str | None = None, actor: str | None = None,
          limit: int = 300) -> HTMLResponse:
    """The audit trail of the trial (sponsor and auditors), newest first, and whether its
    hash chain holds."""
    ctx = _page(request, session, principal, trial_id, "audit")
    require_or_page(principal, "read_audit")
    rows = record_repo.audit_entries(session, trial=ctx.trial, patient=patient or None,
                                     actor=actor or None)
    entries = [entry_dict(row) for row in rows][-max(1, min(limit, 2000)):]
    entries.reverse()
    report = verify_chain(session)
    return render(request, "audit.html", principal=principal, ctx=ctx, view="audit",
                  entries=entries, report=report, patient=patient or "", actor=actor or "")
