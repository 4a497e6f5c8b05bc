"""Every kind of broken scenario is refused with a message that names the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chainsight.domain import ScenarioInvalid, parse_scenario
from tests.domain.factory import scenario_data

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets a dotted/indexed path, e.g. 'sites.0.apheresis.per_day'."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _append(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        node.append(value)

    return mutate


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(data)
    return [str(p) for p in caught.value.problems]


def test_base_scenario_is_valid() -> None:
    scenario = parse_scenario(scenario_data())
    assert scenario.trial.id == "T-1"
    assert [s.id for s in scenario.sites] == ["S01", "S02"]


CASES: list[tuple[str, Mutation, str, str]] = [
    ("bad weekday", _set("sites.1.apheresis.weekdays.0", "Funday"),
     "sites[1].apheresis.weekdays[0]", "'Funday' is not a weekday"),
    ("weekday twice", _set("sites.0.infusion.weekdays", ["Mon", "Mon"]),
     "sites[0].infusion.weekdays", "listed twice"),
    ("unknown field", _set("sites.0.colour", "red"), "sites[0].colour", "not a known field"),
    ("missing field", lambda d: d["process"].pop("success_rate"), "process.success_rate",
     "required"),
    ("wrong type", _set("facilities.0.suites", "four"), "facilities[0].suites", "integer"),
    ("negative capacity", _set("facilities.0.suites", -1), "facilities[0].suites",
     "greater than or equal to 0"),
    ("negative per day", _set("sites.0.apheresis.per_day", -2), "sites[0].apheresis.per_day",
     "greater than or equal to 0"),
    ("probability above 1", _set("process.success_rate", 1.5), "process.success_rate",
     "less than or equal to 1"),
    ("negative probability", _set("trial.protocol.dropout_per_week_waiting", -0.1),
     "trial.protocol.dropout_per_week_waiting", "greater than or equal to 0"),
    ("extension probability", _set("vector.lots.0.extension.probability", 2),
     "vector.lots[0].extension.probability", "less than or equal to 1"),
    ("impossible date", _set("trial.today", "2027-02-30"), "trial.today", "date"),
    ("impossible history date", _set("patients.1.enrolled", "2026-13-01"),
     "patients[1].enrolled", "date"),
    ("unknown modality", _set("trial.modality", "allogeneic"), "trial.modality",
     "'autologous' or 'batch'"),
    ("bad trial id", _set("trial.id", "has space"), "trial.id", "pattern"),
    ("wrong format", _set("format", "chainsight/9"), "format", "chainsight/1"),
    ("duplicate site id", _set("sites.1.id", "S01"), "sites[1].id", "more than one"),
    ("duplicate patient id", _set("patients.1.id", "P001"), "patients[1].id", "more than one"),
    ("duplicate lot id", _append("vector.lots", {"id": "LV-001", "units": 1,
                                                 "released": "2026-01-01",
                                                 "expires": "2027-01-01"}),
     "vector.lots[1].id", "more than one"),
    ("facility id equals a site id", _set("facilities.2.id", "S02"), "facilities[2].id",
     "also a site id"),
    ("duplicate lane", _append("lanes", {"from": "S01", "to": "CDMO-A", "days": 3}),
     "lanes[4]", "already given"),
    ("lane to unknown place", _set("lanes.0.to", "CDMO-Z"), "lanes[0].to",
     "'CDMO-Z' is not the id of any site or facility"),
    ("patient at unknown site", _set("patients.1.site", "S99"), "patients[1].site",
     "'S99' is not the id of any site"),
    ("patient made at unknown facility", _set("patients.0.facility", "CDMO-Z"),
     "patients[0].facility", "'CDMO-Z' is not the id of any facility"),
    ("patient made at a vector facility", _set("patients.0.facility", "VEC-1"),
     "patients[0].facility", "vector facility, not drug_product"),
    ("unknown vector lot", _set("patients.0.vector_lot", "LV-404"), "patients[0].vector_lot",
     "not the id of any vector lot"),
    ("lot from a DP facility", _set("vector.lots.0.facility", "CDMO-A"),
     "vector.lots[0].facility", "drug_product facility, not vector"),
    ("campaign at unknown facility", _set("vector.campaigns.0.facility", "VEC-9"),
     "vector.campaigns[0].facility", "not the id of any facility"),
    ("unknown tech transfer", _set("facilities.1.tech_transfer", "TT-X"),
     "facilities[1].tech_transfer", "not the id of any tech transfer"),
    ("tech transfer of another facility", _set("tech_transfer.0.facility", "CDMO-A"),
     "facilities[1].tech_transfer", "is for facility 'CDMO-A'"),
    ("neither ready nor tech transfer", lambda d: d["facilities"][0].pop("ready"),
     "facilities[0]", "needs `ready` or `tech_transfer`"),
    ("both ready and tech transfer", _set("facilities.1.ready", "2027-01-01"),
     "facilities[1].tech_transfer", "not both"),
    ("milestone after unknown", _set("tech_transfer.0.milestones.2.after", ["nope"]),
     "tech_transfer[0].milestones[2].after[0]", "'nope' is not the id of any milestone"),
    ("milestone cycle", _set("tech_transfer.0.milestones.1.after", ["kickoff", "gmp"]),
     "tech_transfer[0].milestones", "cycle"),
    ("milestone after itself", _set("tech_transfer.0.milestones.2.after", ["eng"]),
     "tech_transfer[0].milestones[2].after[0]", "after itself"),
    ("milestone done in the future", _set("tech_transfer.0.milestones.0.done", "2027-06-01"),
     "tech_transfer[0].milestones[0].done", "in the future"),
    ("lot expires before release", _set("vector.lots.0.expires", "2026-01-01"),
     "vector.lots[0].expires", "before the lot is released"),
    ("extension that shortens", _set("vector.lots.0.extension.expires", "2027-01-01"),
     "vector.lots[0].extension.expires", "does not extend"),
    ("reservation ends before it starts",
     _set("facilities.0.reservations.0.end", "2027-01-01"),
     "facilities[0].reservations[0]", "before start"),
    ("reservation larger than facility", _set("facilities.0.reservations.0.suites", 5),
     "facilities[0].reservations[0].suites", "facility has 2"),
    ("apheresis before enrolment", _set("patients.0.apheresis", "2026-10-01"),
     "patients[0].apheresis", "before enrolled"),
    ("start before apheresis", _set("patients.0.manufacturing_start", "2026-10-11"),
     "patients[0].manufacturing_start", "before apheresis"),
    ("infusion before start", _set("patients.0.infusion", "2026-10-12"),
     "patients[0].infusion", "before manufacturing_start"),
    ("history in the future", _set("patients.0.infusion", "2027-03-01"),
     "patients[0].infusion", "history cannot be in the future"),
    ("infusion without outcome", _set("patients.0.outcome", "released"),
     "patients[0].outcome", "must be 'infused'"),
    ("run started before the lot was released",
     _set("vector.lots.0.released", "2026-10-20"), "patients[0].vector_lot",
     "after the run started"),
    ("history uses a missing lane", lambda d: d["lanes"].pop(0), "patients[0].facility",
     "no lane from S01 to CDMO-A"),
    ("enrolled before site activation", _set("patients.1.enrolled", "2026-09-01"),
     "patients[1].enrolled", "before site S01 was activated"),
    ("activation in the future", _set("sites.1.activation.actual", "2027-05-01"),
     "sites[1].activation.actual", "has not happened yet"),
    ("apheresis window inverted", _set("trial.protocol.apheresis_latest_days", 1),
     "trial.protocol.apheresis_latest_days", "less than apheresis_earliest_days"),
    ("autologous with doses per batch", _set("process.doses_per_batch", 4),
     "process.doses_per_batch", "must be 1"),
    ("autologous site without apheresis", lambda d: d["sites"][0].pop("apheresis"),
     "sites[0].apheresis", "required for an autologous trial"),
    ("zero manufacturing days", _set("process.manufacturing_days", 0),
     "process.manufacturing_days", "greater than or equal to 1"),
    ("non-positive priority", _set("patients.1.priority", 0), "patients[1].priority",
     "greater than 0"),
]


@pytest.mark.parametrize(("mutate", "path", "fragment"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_scenario_names_the_field(mutate: Mutation, path: str, fragment: str) -> None:
    data = scenario_data()
    mutate(data)
    problems = _problems(data)
    matching = [p for p in problems if p.startswith(f"{path}:") and fragment in p]
    assert matching, f"expected a problem at {path} with {fragment!r}, got {problems}"


def test_every_problem_is_reported_at_once() -> None:
    data = scenario_data()
    data["sites"][1]["apheresis"]["weekdays"][0] = "Funday"  # field error
    data["process"]["success_rate"] = 7  # field error
    data["lanes"][0]["to"] = "NOWHERE"  # cross-check, survives the field errors
    data["patients"][1]["site"] = "S99"  # cross-check
    data["vector"]["lots"][0]["expires"] = "2020-01-01"  # cross-check
    problems = _problems(data)
    paths = {p.split(":")[0] for p in problems}
    assert {
        "sites[1].apheresis.weekdays[0]",
        "process.success_rate",
        "lanes[0].to",
        "patients[1].site",
        "vector.lots[0].expires",
    } <= paths


def test_broken_element_does_not_cascade_into_unknown_references() -> None:
    data = scenario_data()
    data["sites"][0]["country"] = 12345  # S01 itself is broken ...
    problems = _problems(data)
    # ... but patients and lanes that name S01 are not reported as dangling.
    assert not [p for p in problems if "'S01' is not the id" in p], problems


def test_not_a_mapping() -> None:
    with pytest.raises(ScenarioInvalid, match="mapping"):
        parse_scenario(["not", "a", "scenario"])
