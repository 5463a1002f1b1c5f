"""The imaging tables' constraints: what the database itself refuses, whatever the service."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from imaging.models import Instance, Series, Study, UnmatchedStatus, UnmatchedStudy
from tests.factories import InstitutionFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _study(patient, uid: str = "1.2.3") -> Study:
    return Study.objects.create(
        patient=patient, institution=patient.institution, study_instance_uid=uid
    )


def _instance(series: Series, uid: str) -> Instance:
    return Instance.objects.create(
        series=series,
        sop_instance_uid=uid,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        storage_name="imaging/1/x.dcm",
        sha256="0" * 64,
        size_bytes=1,
        transfer_syntax="1.2.840.10008.1.2.1",
    )


def test_a_study_uid_is_unique_within_an_institution_but_not_across() -> None:
    patient = PatientFactory()
    _study(patient)
    _study(PatientFactory(), "1.2.3")  # another institution: its own copy of the study
    with pytest.raises(IntegrityError), transaction.atomic():
        _study(PatientFactory(institution=patient.institution))


def test_a_sop_instance_uid_is_stored_once() -> None:
    study = _study(PatientFactory())
    series = Series.objects.create(study=study, series_instance_uid="1.2.3.4", modality="CT")
    _instance(series, "1.2.3.4.5")
    with pytest.raises(IntegrityError), transaction.atomic():
        _instance(series, "1.2.3.4.5")


def test_one_open_queue_entry_per_study_and_a_new_one_after_resolution() -> None:
    institution = InstitutionFactory()
    first = UnmatchedStudy.objects.create(
        institution=institution, study_instance_uid="9.9", dicom_patient_id="X"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        UnmatchedStudy.objects.create(
            institution=institution, study_instance_uid="9.9", dicom_patient_id="X"
        )
    first.status = UnmatchedStatus.RESOLVED
    first.save()
    UnmatchedStudy.objects.create(
        institution=institution, study_instance_uid="9.9", dicom_patient_id="X"
    )
    assert UnmatchedStudy.objects.filter(study_instance_uid="9.9").count() == 2


def test_names_of_rows_carry_no_phi() -> None:
    patient = PatientFactory(mrn="SECRET-MRN")
    entry = UnmatchedStudy.objects.create(
        institution=patient.institution, study_instance_uid="9.9", dicom_patient_id="SECRET-MRN"
    )
    assert "SECRET" not in str(_study(patient))
    assert "SECRET" not in str(entry)
