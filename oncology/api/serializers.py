"""Input and output shapes of the record API. The payload types themselves live in
oncology.services.payload, shared with the importers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oncology.models import Diagnosis, Patient
from oncology.services.payload import (
    SECTION_SERIALIZERS,
    PatientRecordSerializer,
    StrictSerializer,
)


class PrimaryDiagnosisSerializer(serializers.ModelSerializer):
    class Meta:
        model = Diagnosis
        fields = [
            "external_id",
            "primary_site",
            "morphology",
            "diagnosis_date",
            "clinical_stage",
            "pathological_stage",
        ]
        read_only_fields = fields


class PatientSummarySerializer(serializers.ModelSerializer):
    """One row of the patient list. `primary_diagnosis` is the earliest diagnosis."""

    primary_diagnosis = serializers.SerializerMethodField()

    class Meta:
        model = Patient
        fields = [
            "public_id",
            "research_id",
            "mrn",
            "given_name",
            "family_name",
            "sex",
            "birth_date",
            "vital_status",
            "updated_at",
            "primary_diagnosis",
        ]
        read_only_fields = fields

    @extend_schema_field(PrimaryDiagnosisSerializer(allow_null=True))
    def get_primary_diagnosis(self, patient: Patient) -> dict[str, Any] | None:
        # Uses the prefetched, date-ordered diagnoses: no query per row.
        diagnoses = list(patient.diagnoses.all())
        return PrimaryDiagnosisSerializer(diagnoses[0]).data if diagnoses else None


def _section_out_serializer(section: str) -> type[StrictSerializer]:
    # A sub-record entered on a page has no hospital-system key: its external_id reads back
    # as null, although a write must send one.
    base = SECTION_SERIALIZERS[section]
    name = base.__name__.replace("ItemSerializer", "ItemOutSerializer")
    external_id = serializers.CharField(max_length=100, allow_null=True, read_only=True)
    return type(name, (base,), {"external_id": external_id})


SECTION_OUT_SERIALIZERS = {
    section: _section_out_serializer(section) for section in SECTION_SERIALIZERS
}


class PatientRecordOutSerializer(PatientRecordSerializer):
    """A stored record in the payload shape, with its public identifiers."""

    public_id = serializers.UUIDField(read_only=True)
    research_id = serializers.CharField(read_only=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for section, serializer in SECTION_OUT_SERIALIZERS.items():
            fields[section] = serializer(many=True, required=False)
        return fields


class RecordResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the record in the request.")
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    patient_public_id = serializers.UUIDField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Field path in the payload ("diagnoses[0].clinical_t") -> messages.',
    )


class UpsertResponseSerializer(RecordResultSerializer):
    record = PatientRecordOutSerializer()


class BulkRequestSerializer(serializers.Serializer):
    """What the bulk endpoint documents. It validates only the envelope itself (a list under
    "records"); each record is validated by the service, so one bad record gets its own error
    result instead of failing the whole call."""

    records = PatientRecordSerializer(many=True)


class _ParsedJSONField(serializers.JSONField):
    """Any JSON value, taken as parsed: the API's only parser is JSON, so each record is
    serializable by construction and DRF's check (a json.dumps of every record, ~3 % of a bulk
    call) proves nothing. The records themselves are checked by the sync service."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class BulkEnvelopeSerializer(StrictSerializer):
    records = serializers.ListField(child=_ParsedJSONField(), allow_empty=False)


class BulkSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    error = serializers.IntegerField()


class BulkResponseSerializer(serializers.Serializer):
    summary = BulkSummarySerializer()
    results = RecordResultSerializer(many=True)


class InstitutionRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()
    is_integration_client = serializers.BooleanField()
    can_edit_record = serializers.BooleanField()
    institution = InstitutionRefSerializer(allow_null=True)
    care_teams = serializers.ListField(child=serializers.CharField())


class PatientLookupSerializer(serializers.Serializer):
    mrn = serializers.CharField(max_length=64, help_text="The patient's MRN at your institution.")
