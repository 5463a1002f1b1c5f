from django.contrib import admin

from oncology.models import RECORD_SECTIONS, Patient


def test_no_patient_data_is_reachable_through_the_django_admin() -> None:
    # The admin has no care-team checks and writes no audit events.
    registered = set(admin.site._registry)
    for model in [Patient, *RECORD_SECTIONS.values()]:
        assert model not in registered, model
