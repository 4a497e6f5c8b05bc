"""Whole-scenario validation: field checks and cross-checks, every problem at once."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chainsight.domain.errors import Problem, ScenarioInvalid, problems_from_validation_error
from chainsight.domain.facility import Facility
from chainsight.domain.lane import Lane
from chainsight.domain.patient import Patient
from chainsight.domain.process import Process
from chainsight.domain.scenario import Scenario
from chainsight.domain.site import Site
from chainsight.domain.tech_transfer import TechTransfer
from chainsight.domain.trial import Trial
from chainsight.domain.vector import Campaign, Lot

M = TypeVar("M", bound=BaseModel)


@dataclass
class Parts:
    """The pieces of a scenario that passed their field checks, with their original index.

    Cross-checks run on these, so that a scenario with a broken site still gets its
    reference and date checks everywhere else. ``known`` holds every id that was
    written, valid or not, so that a broken element does not cause a cascade of
    'unknown id' problems.
    """

    trial: Trial | None = None
    process: Process | None = None
    sites: list[tuple[int, Site]] = field(default_factory=list)
    facilities: list[tuple[int, Facility]] = field(default_factory=list)
    lanes: list[tuple[int, Lane]] = field(default_factory=list)
    lots: list[tuple[int, Lot]] = field(default_factory=list)
    campaigns: list[tuple[int, Campaign]] = field(default_factory=list)
    transfers: list[tuple[int, TechTransfer]] = field(default_factory=list)
    patients: list[tuple[int, Patient]] = field(default_factory=list)
    known: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: Scenario) -> Parts:
        parts = cls(
            trial=scenario.trial,
            process=scenario.process,
            sites=list(enumerate(scenario.sites)),
            facilities=list(enumerate(scenario.facilities)),
            lanes=list(enumerate(scenario.lanes)),
            lots=list(enumerate(scenario.vector.lots)),
            campaigns=list(enumerate(scenario.vector.campaigns)),
            transfers=list(enumerate(scenario.tech_transfer)),
            patients=list(enumerate(scenario.patients)),
        )
        parts.known = {
            "sites": {s.id for s in scenario.sites},
            "facilities": {f.id for f in scenario.facilities},
            "lots": {lot.id for lot in scenario.vector.lots},
            "tech_transfer": {t.id for t in scenario.tech_transfer},
        }
        return parts

    @classmethod
    def salvage(cls, data: dict[str, Any]) -> Parts:
        """Validate each piece of a raw scenario on its own and keep those that pass."""
        vector = data.get("vector") if isinstance(data.get("vector"), dict) else {}
        assert isinstance(vector, dict)
        parts = cls(
            trial=_one(Trial, data.get("trial")),
            process=_one(Process, data.get("process")),
            sites=_each(Site, data.get("sites")),
            facilities=_each(Facility, data.get("facilities")),
            lanes=_each(Lane, data.get("lanes")),
            lots=_each(Lot, vector.get("lots")),
            campaigns=_each(Campaign, vector.get("campaigns")),
            transfers=_each(TechTransfer, data.get("tech_transfer")),
            patients=_each(Patient, data.get("patients")),
        )
        parts.known = {
            "sites": _raw_ids(data.get("sites")),
            "facilities": _raw_ids(data.get("facilities")),
            "lots": _raw_ids(vector.get("lots")),
            "tech_transfer": _raw_ids(data.get("tech_transfer")),
        }
        return parts

    def facility_kinds(self) -> dict[str, str]:
        return {f.id: f.kind for _, f in self.facilities}


def _one(model: type[M], raw: Any) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _each(model: type[M], raw: Any) -> list[tuple[int, M]]:
    if not isinstance(raw, list):
        return []
    kept: list[tuple[int, M]] = []
    for index, item in enumerate(raw):
        parsed = _one(model, item)
        if parsed is not None:
            kept.append((index, parsed))
    return kept


def _raw_ids(raw: Any) -> set[str]:
    if not isinstance(raw, list):
        return set()
    return {
        item["id"] for item in raw if isinstance(item, dict) and isinstance(item.get("id"), str)
    }


def parse_scenario(data: Any) -> Scenario:
    """A checked :class:`Scenario` from parsed YAML/JSON; raises :class:`ScenarioInvalid`
    with every problem (field errors and cross-checks) at once."""
    if not isinstance(data, dict):
        raise ScenarioInvalid([Problem("", "a scenario is a mapping of sections (trial, ...)")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        problems = problems_from_validation_error(error)
        problems += cross_check(Parts.salvage(data))
        raise ScenarioInvalid(_dedupe(problems)) from None
    problems = cross_check(Parts.of(scenario))
    if problems:
        raise ScenarioInvalid(problems)
    return scenario


def check_scenario(scenario: Scenario) -> list[Problem]:
    """Cross-check problems of an already built scenario (empty when it is consistent)."""
    return cross_check(Parts.of(scenario))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


Check = Callable[[Parts], Iterator[Problem]]
CHECKS: list[Check] = []


def _check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def cross_check(parts: Parts) -> list[Problem]:
    """Run every cross-check on ``parts``; each yields the problems it finds."""
    return [problem for check in CHECKS for problem in check(parts)]


def _duplicates(section: str, items: list[tuple[int, Any]], key: str = "id") -> Iterator[Problem]:
    counts = Counter(getattr(item, key) for _, item in items)
    for index, item in items:
        value = getattr(item, key)
        if counts[value] > 1:
            yield Problem(f"{section}[{index}].{key}", f"{value!r} is used by more than one entry")


@_check
def unique_ids(parts: Parts) -> Iterator[Problem]:
    yield from _duplicates("sites", parts.sites)
    yield from _duplicates("facilities", parts.facilities)
    yield from _duplicates("vector.lots", parts.lots)
    yield from _duplicates("tech_transfer", parts.transfers)
    yield from _duplicates("patients", parts.patients)
    named = [(i, c) for i, c in parts.campaigns if c.id is not None]
    yield from _duplicates("vector.campaigns", named)
    site_ids = {s.id for _, s in parts.sites}
    for index, facility in parts.facilities:
        if facility.id in site_ids:
            yield Problem(
                f"facilities[{index}].id",
                f"{facility.id!r} is also a site id; lanes need places with distinct ids",
            )
    for t_index, transfer in parts.transfers:
        counts = Counter(m.id for m in transfer.milestones)
        for m_index, milestone in enumerate(transfer.milestones):
            if counts[milestone.id] > 1:
                yield Problem(
                    f"tech_transfer[{t_index}].milestones[{m_index}].id",
                    f"{milestone.id!r} is used by more than one milestone",
                )
    seen: dict[tuple[str, str], int] = {}
    for index, lane in parts.lanes:
        key = (lane.from_, lane.to)
        if key in seen:
            yield Problem(
                f"lanes[{index}]",
                f"a lane from {lane.from_} to {lane.to} is already given at lanes[{seen[key]}]",
            )
        else:
            seen[key] = index


def _missing(kind: str, value: str) -> str:
    return f"{value!r} is not the id of any {kind}"


@_check
def references_resolve(parts: Parts) -> Iterator[Problem]:
    sites, facilities = parts.known.get("sites", set()), parts.known.get("facilities", set())
    lots, transfers = parts.known.get("lots", set()), parts.known.get("tech_transfer", set())
    kinds = parts.facility_kinds()
    places = sites | facilities
    for index, lane in parts.lanes:
        for name, value in (("from", lane.from_), ("to", lane.to)):
            if value not in places:
                yield Problem(f"lanes[{index}].{name}", _missing("site or facility", value))
        if lane.from_ == lane.to:
            yield Problem(f"lanes[{index}]", "a lane must go from one place to another")
    for index, lot in parts.lots:
        if lot.facility is not None:
            yield from _facility_ref(f"vector.lots[{index}].facility", lot.facility, "vector",
                                     facilities, kinds)
    for index, campaign in parts.campaigns:
        yield from _facility_ref(f"vector.campaigns[{index}].facility", campaign.facility,
                                 "vector", facilities, kinds)
    transfer_facility = {t.id: t.facility for _, t in parts.transfers}
    for index, transfer in parts.transfers:
        yield from _facility_ref(f"tech_transfer[{index}].facility", transfer.facility,
                                 "drug_product", facilities, kinds)
    for index, facility in parts.facilities:
        ref = facility.tech_transfer
        if ref is None:
            continue
        if ref not in transfers:
            yield Problem(f"facilities[{index}].tech_transfer", _missing("tech transfer", ref))
        elif ref in transfer_facility and transfer_facility[ref] != facility.id:
            yield Problem(
                f"facilities[{index}].tech_transfer",
                f"tech transfer {ref!r} is for facility {transfer_facility[ref]!r}, "
                f"not {facility.id!r}",
            )
    for index, patient in parts.patients:
        if patient.site not in sites:
            yield Problem(f"patients[{index}].site", _missing("site", patient.site))
        if patient.facility is not None:
            yield from _facility_ref(f"patients[{index}].facility", patient.facility,
                                     "drug_product", facilities, kinds)
        if patient.vector_lot is not None and patient.vector_lot not in lots:
            yield Problem(
                f"patients[{index}].vector_lot", _missing("vector lot", patient.vector_lot)
            )


def _facility_ref(
    path: str, ref: str, kind: str, known: set[str], kinds: dict[str, str]
) -> Iterator[Problem]:
    if ref not in known:
        yield Problem(path, _missing("facility", ref))
    elif ref in kinds and kinds[ref] != kind:
        yield Problem(path, f"facility {ref!r} is a {kinds[ref]} facility, not {kind}")


@_check
def tech_transfer_graphs(parts: Parts) -> Iterator[Problem]:
    today = parts.trial.today if parts.trial else None
    for t_index, transfer in parts.transfers:
        base = f"tech_transfer[{t_index}].milestones"
        ids = {m.id for m in transfer.milestones}
        by_id = {m.id: m for m in transfer.milestones}
        for m_index, milestone in enumerate(transfer.milestones):
            for a_index, before in enumerate(milestone.after):
                if before not in ids:
                    yield Problem(f"{base}[{m_index}].after[{a_index}]",
                                  _missing("milestone of this tech transfer", before))
                elif before == milestone.id:
                    yield Problem(f"{base}[{m_index}].after[{a_index}]",
                                  "a milestone cannot come after itself")
            if milestone.done is not None and today is not None and milestone.done > today:
                yield Problem(f"{base}[{m_index}].done",
                              f"{milestone.done} is after today ({today}): a milestone "
                              "cannot be done in the future")
            if milestone.done is not None:
                for before in milestone.after:
                    prior = by_id.get(before)
                    if prior is not None and prior.done is None:
                        yield Problem(f"{base}[{m_index}].done",
                                      f"done while the milestone it comes after, {before!r}, "
                                      "is not done")
                    elif prior is not None and prior.done and prior.done > milestone.done:
                        yield Problem(f"{base}[{m_index}].done",
                                      f"done on {milestone.done}, before {before!r} was done "
                                      f"({prior.done})")
        cycle = find_cycle({m.id: [a for a in m.after if a in ids] for m in transfer.milestones})
        if cycle:
            yield Problem(base, "the milestones form a cycle: " + " -> ".join(cycle))


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in a directed graph as a closed path of nodes, or None if it has none."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in graph.get(node, []):
            if colour.get(nxt, black) == grey:
                return [*stack[stack.index(nxt):], nxt]
            if colour.get(nxt) == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in graph:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None


@_check
def lots_and_campaigns(parts: Parts) -> Iterator[Problem]:
    for index, lot in parts.lots:
        path = f"vector.lots[{index}]"
        if lot.expires < lot.released:
            yield Problem(f"{path}.expires",
                          f"{lot.expires} is before the lot is released ({lot.released})")
        ext = lot.extension
        if ext is not None and ext.expires <= lot.expires:
            yield Problem(f"{path}.extension.expires",
                          f"{ext.expires} does not extend the lot's expiry ({lot.expires})")
        if ext is not None and ext.readout > ext.expires:
            yield Problem(f"{path}.extension.readout",
                          f"{ext.readout} is after the extended expiry ({ext.expires})")


@_check
def facilities_consistent(parts: Parts) -> Iterator[Problem]:
    for index, facility in parts.facilities:
        path = f"facilities[{index}]"
        if facility.kind == "drug_product":
            if facility.ready is None and facility.tech_transfer is None:
                yield Problem(path, "a drug product facility needs `ready` or `tech_transfer`")
            if facility.ready is not None and facility.tech_transfer is not None:
                yield Problem(f"{path}.tech_transfer",
                              "give either `ready` or `tech_transfer`, not both")
        for r_index, reservation in enumerate(facility.reservations):
            if reservation.suites > facility.suites:
                yield Problem(f"{path}.reservations[{r_index}].suites",
                              f"{reservation.suites} suites reserved but the facility has "
                              f"{facility.suites}")


@_check
def trial_consistent(parts: Parts) -> Iterator[Problem]:
    trial = parts.trial
    if trial is None:
        return
    protocol = trial.protocol
    if protocol.apheresis_latest_days < protocol.apheresis_earliest_days:
        yield Problem("trial.protocol.apheresis_latest_days",
                      f"{protocol.apheresis_latest_days} is less than apheresis_earliest_days "
                      f"({protocol.apheresis_earliest_days})")
    if trial.modality == "autologous":
        if parts.process is not None and parts.process.doses_per_batch != 1:
            yield Problem("process.doses_per_batch",
                          "an autologous run yields one patient's dose: must be 1")
        for index, site in parts.sites:
            if site.apheresis is None:
                yield Problem(f"sites[{index}].apheresis",
                              "is required for an autologous trial")
    for index, site in parts.sites:
        actual = site.activation.actual
        if actual is not None and actual > trial.today:
            yield Problem(f"sites[{index}].activation.actual",
                          f"{actual} is after today ({trial.today}): an activation that "
                          "has not happened yet is `planned`")


_ORDER = ("enrolled", "apheresis", "manufacturing_start", "infusion")


@_check
def patient_histories(parts: Parts) -> Iterator[Problem]:
    trial = parts.trial
    today = trial.today if trial else None
    sites = {s.id: s for _, s in parts.sites}
    lots = {lot.id: lot for _, lot in parts.lots}
    lanes = {(lane.from_, lane.to) for _, lane in parts.lanes}
    lane_places = parts.known.get("sites", set()) | parts.known.get("facilities", set())
    for index, patient in parts.patients:
        path = f"patients[{index}]"
        dates = [(name, getattr(patient, name)) for name in _ORDER]
        given = [(name, day) for name, day in dates if day is not None]
        for (first, day1), (second, day2) in itertools.pairwise(given):
            if day2 < day1:
                yield Problem(f"{path}.{second}", f"{day2} is before {first} ({day1})")
        if today is not None:
            for name, day in given[1:]:
                if day > today:
                    yield Problem(f"{path}.{name}",
                                  f"{day} is after today ({today}): history cannot be in the "
                                  "future")
        if trial is not None and trial.modality == "batch" and patient.apheresis is not None:
            yield Problem(f"{path}.apheresis", "a batch trial has no apheresis")
        if trial is not None and trial.modality == "autologous" and patient.doses != 1:
            yield Problem(f"{path}.doses", "an autologous patient receives one dose")
        if patient.manufacturing_start is not None and patient.facility is None:
            yield Problem(f"{path}.facility", "a manufacturing start needs the facility")
        if patient.manufacturing_start is not None and patient.apheresis is None and (
            trial is None or trial.modality == "autologous"
        ):
            yield Problem(f"{path}.apheresis", "a manufacturing start needs the apheresis day")
        outcome = patient.outcome
        if outcome == "infused" and patient.infusion is None:
            yield Problem(f"{path}.infusion", "outcome is 'infused' but no infusion day is given")
        if patient.infusion is not None and outcome != "infused":
            yield Problem(f"{path}.outcome",
                          f"an infusion day is given, so the outcome must be 'infused' "
                          f"(got {outcome!r})")
        if outcome in ("released", "failed") and patient.manufacturing_start is None:
            yield Problem(f"{path}.manufacturing_start",
                          f"outcome {outcome!r} needs the manufacturing start")
        site = sites.get(patient.site)
        if site is not None and site.activation.actual is not None and (
            patient.enrolled < site.activation.actual
        ):
            yield Problem(f"{path}.enrolled",
                          f"{patient.enrolled} is before site {site.id} was activated "
                          f"({site.activation.actual})")
        lot = lots.get(patient.vector_lot) if patient.vector_lot else None
        start = patient.manufacturing_start
        if lot is not None and start is not None:
            if start < lot.released:
                yield Problem(f"{path}.vector_lot",
                              f"lot {lot.id} was released on {lot.released}, after the run "
                              f"started ({start})")
            elif start > lot.optimistic_expiry:
                yield Problem(f"{path}.vector_lot",
                              f"lot {lot.id} had expired ({lot.effective_expiry}) when the run "
                              f"started ({start})")
        facility = patient.facility
        if facility is not None and facility in lane_places and patient.site in lane_places:
            if patient.apheresis is not None and (patient.site, facility) not in lanes:
                yield Problem(f"{path}.facility",
                              f"no lane from {patient.site} to {facility} for the apheresis "
                              "material")
            if patient.infusion is not None and (facility, patient.site) not in lanes:
                yield Problem(f"{path}.facility",
                              f"no lane from {facility} to {patient.site} for the drug product")
