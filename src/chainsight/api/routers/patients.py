"""Patients of a trial: by id for the sponsor, auditors and their site; by chain-of-identity
id only for CDMOs and couriers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Trial
from chainsight.api.problems import not_found
from chainsight.api.routers import api_router
from chainsight.api.schemas import CoiPatientOut, PatientOut
from chainsight.api.scoping import (
    TrialContext,
    identifies_patients,
    resolve_patient,
    visible_patients,
)

router = api_router("patients")

PatientRef = Annotated[str, Path(min_length=1, max_length=64,
                                 description="a patient id, or a COI id")]


def patient_out(principal: Principal, ctx: TrialContext, patient_id: str
                ) -> PatientOut | CoiPatientOut:
    """The patient shaped for the caller: identifying fields only where they may be seen."""
    patient = ctx.scenario.patient(patient_id)
    facility = ctx.facility_of(patient_id)
    if identifies_patients(principal):
        return PatientOut(
            id=patient.id, site=patient.site, enrolled=patient.enrolled,
            apheresis=patient.apheresis, facility=facility,
            manufacturing_start=patient.manufacturing_start, vector_lot=patient.vector_lot,
            outcome=patient.outcome, infusion=patient.infusion, priority=patient.priority,
            doses=patient.doses, coi=ctx.coi(patient_id), state=ctx.state(patient_id))
    coi = ctx.coi(patient_id)
    assert coi is not None, "scoping shows CDMOs and couriers only patients with a COI id"
    return CoiPatientOut(coi=coi, state=ctx.state(patient_id), facility=facility,
                         apheresis=patient.apheresis,
                         manufacturing_start=patient.manufacturing_start,
                         vector_lot=patient.vector_lot, outcome=patient.outcome)


@router.get("/trials/{trial_id}/patients", response_model=list[PatientOut | CoiPatientOut])
def list_patients(ctx: Trial, principal: CurrentUser) -> list[PatientOut | CoiPatientOut]:
    """The patients the caller may see."""
    return [patient_out(principal, ctx, p) for p in visible_patients(principal, ctx)]


@router.get("/trials/{trial_id}/patients/{patient_ref}",
            response_model=PatientOut | CoiPatientOut)
def get_patient(ctx: Trial, patient_ref: PatientRef, principal: CurrentUser
                ) -> PatientOut | CoiPatientOut:
    """One patient, by id or COI id (404 if not visible to the caller)."""
    patient_id = resolve_patient(principal, ctx, patient_ref)
    if patient_id is None:
        raise not_found(f"patient {patient_ref}")
    return patient_out(principal, ctx, patient_id)
