"""Shared fixtures: the four personas every patient-data route is tested with."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import Role, User
from oncology.models import CareTeam, Institution, Patient
from tests.factories import (
    CareTeamFactory,
    DiagnosisFactory,
    InstitutionFactory,
    PatientFactory,
    UserFactory,
    integration_client,
)


@dataclass
class World:
    institution: Institution
    team: CareTeam
    other_team: CareTeam
    member: User  # clinician in `team`
    oncologist: User  # oncologist in `team`
    outsider: User  # clinician of the same institution, other team
    integration: User  # hospital system of `institution`
    integration_token: str
    foreign_integration_token: str  # hospital system of another institution
    patient: Patient  # in `team`, with a diagnosis


@pytest.fixture
def world(db: None) -> World:
    inst = InstitutionFactory(code="north", name="North Hospital")
    team = CareTeamFactory(institution=inst, code="thoracic", name="Thoracic oncology")
    other = CareTeamFactory(institution=inst, code="breast", name="Breast unit")
    member = UserFactory(username="member", institution=inst, teams=[team])
    oncologist = UserFactory(
        username="oncologist", role=Role.ONCOLOGIST, institution=inst, teams=[team]
    )
    outsider = UserFactory(username="outsider", institution=inst, teams=[other])
    integ, token = integration_client(inst)
    foreign = InstitutionFactory(code="south", name="South Hospital")
    _, foreign_token = integration_client(foreign)
    patient = PatientFactory(institution=inst, teams=[team])
    DiagnosisFactory(patient=patient)
    return World(
        inst, team, other, member, oncologist, outsider, integ, token, foreign_token, patient
    )


@pytest.fixture
def member_client(world: World) -> Client:
    c = Client()
    c.force_login(world.member)
    return c


@pytest.fixture
def outsider_client(world: World) -> Client:
    c = Client()
    c.force_login(world.outsider)
    return c


@pytest.fixture
def api_member(world: World) -> APIClient:
    c = APIClient()
    c.force_authenticate(world.member)
    return c


@pytest.fixture
def api_integration(world: World) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {world.integration_token}")
    return c


@pytest.fixture
def api_foreign_integration(world: World) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {world.foreign_integration_token}")
    return c


def require_services() -> bool:
    """On CI a missing service is a failure, not a skip."""
    return os.environ.get("REQUIRE_SERVICES") == "1"
