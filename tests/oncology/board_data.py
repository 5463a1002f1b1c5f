"""Shared data of the tumour-board tests: a trained, active outcome model (tiny, simulated),
a demo-like patient record and a meeting with the patient's case."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core.models import Role, User
from oncology.models import Comorbidity, OutcomeModel, Patient, PerformanceStatus
from oncology.models_board import BoardCase, Meeting
from oncology.services import board
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from tests.conftest import World
from tests.factories import DiagnosisFactory, PatientFactory, UserFactory


def active_model(name: str = "board-cox") -> OutcomeModel:
    # 800 simulated patients: the smallest seed-0 cohort whose every option has >= 30 patients
    # (tests/oncology/test_outcome_registry.py); a 20-replicate ensemble gives inline bands.
    model = outcome_model_train(
        source="simulated", kind="cox", name=name, patients=800, splits=1, band_replicates=20
    )
    outcome_model_set_status(model=model, status="validated")
    return outcome_model_set_status(model=model, status="active")


def complete_record(patient: Patient) -> Patient:
    """ECOG and a comorbidity on top of the factory's staged diagnosis (demo-like inputs)."""
    PerformanceStatus.objects.create(patient=patient, assessed_on=dt.date(2021, 3, 1), ecog=1)
    Comorbidity.objects.create(patient=patient, condition="diabetes_uncomplicated")
    return patient


def coordinator(world: World) -> User:
    return UserFactory(
        username="coordinator",
        role=Role.DATA_MANAGER,
        institution=world.institution,
        teams=[world.team],
    )


def administrator(world: World, *, in_team: bool = True) -> User:
    return UserFactory(
        username="board-admin",
        role=Role.ADMINISTRATOR,
        institution=world.institution,
        teams=[world.team] if in_team else [],
    )


def meeting_for(world: World, *, title: str = "Thoracic tumour board") -> Meeting:
    return board.meeting_create(
        user=world.oncologist,
        values={"title": title, "scheduled_for": timezone.now() + dt.timedelta(days=2)},
        attendees=[world.oncologist, world.member],
    )


def case_for(
    world: World, meeting: Meeting, patient: Patient | None = None, *, predict: bool = False
) -> BoardCase:
    case, _ = board.board_case_add(
        user=world.member,
        meeting=meeting,
        patient_public_id=(patient or world.patient).public_id,
        question="Surgery or chemoradiotherapy?",
        compute_prediction=predict,
    )
    return case


def other_patient(world: World) -> Patient:
    patient = PatientFactory(institution=world.institution, teams=[world.team])
    DiagnosisFactory(patient=patient)
    return patient
