"""factory_boy factories for the record. Synthetic values only."""

from __future__ import annotations

import datetime as dt

import factory
from rest_framework.authtoken.models import Token

from core.models import Role, User
from oncology import models as m


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Institution
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"inst{n}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")


class CareTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CareTeam

    institution = factory.SubFactory(InstitutionFactory)
    code = factory.Sequence(lambda n: f"team{n}")
    name = factory.LazyAttribute(lambda o: f"Team {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.CLINICIAN
    institution = factory.SubFactory(InstitutionFactory)
    password = factory.django.Password("correct-horse-battery-9")

    @factory.post_generation
    def teams(self, create: bool, extracted: list[m.CareTeam] | None, **kwargs: object) -> None:
        if create and extracted:
            for team in extracted:
                team.members.add(self)


def integration_client(institution: m.Institution, name: str = "his") -> tuple[User, str]:
    user = UserFactory(
        username=f"{name}-{institution.code}", role=Role.INTEGRATION, institution=institution
    )
    user.set_unusable_password()
    user.save()
    token = Token.objects.create(user=user)
    return user, token.key


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Patient
        skip_postgeneration_save = True

    institution = factory.SubFactory(InstitutionFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    sex = m.Sex.FEMALE
    birth_date = dt.date(1960, 5, 17)

    @factory.post_generation
    def teams(self, create: bool, extracted: list[m.CareTeam] | None, **kwargs: object) -> None:
        if create and extracted:
            self.care_teams.add(*extracted)


class DiagnosisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Diagnosis

    patient = factory.SubFactory(PatientFactory)
    primary_site = "C34.1"
    morphology = "8140/3"
    laterality = m.Laterality.RIGHT
    diagnosis_date = dt.date(2021, 3, 2)
    clinical_t = "T2a"
    clinical_n = "N0"
    clinical_m = "M0"
    clinical_stage = "IB"
