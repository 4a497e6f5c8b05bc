"""The value-chain model: types, rules and derived facts. No database, no I/O beyond files."""

from chainsight.domain.errors import Problem, ScenarioInvalid
from chainsight.domain.facility import Facility, Reservation
from chainsight.domain.lane import Lane
from chainsight.domain.loading import dump_scenario, load_scenario, read_data, scenario_data
from chainsight.domain.objective import Objective
from chainsight.domain.patient import Patient
from chainsight.domain.process import Process, ProcessOverride
from chainsight.domain.readiness import facility_ready_day, schedule_transfer
from chainsight.domain.scenario import Scenario
from chainsight.domain.site import Site
from chainsight.domain.tech_transfer import Milestone, TechTransfer
from chainsight.domain.trial import Protocol, Trial
from chainsight.domain.validation import check_scenario, parse_scenario
from chainsight.domain.vector import Campaign, Extension, Lot, Vector

__all__ = [
    "Campaign", "Extension", "Facility", "Lane", "Lot", "Milestone", "Objective", "Patient",
    "Problem", "Process", "ProcessOverride", "Protocol", "Reservation", "Scenario",
    "ScenarioInvalid", "Site", "TechTransfer", "Trial", "Vector", "check_scenario",
    "dump_scenario", "facility_ready_day", "load_scenario", "parse_scenario", "read_data",
    "scenario_data", "schedule_transfer",
]
