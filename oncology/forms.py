"""Forms of the clinical record: the patient, and one ModelForm per record section.

Select options come from the catalogues of oncology.clinical (ICD-O-3, TNM, Charlson, labs,
biomarkers, CTCAE, treatments); this module never holds its own clinical code lists. Forms check
shape (types, required, choices); clinical rules (ranges, date order, TNM validity) are applied
by oncology.services.records, whose field-keyed errors the view puts back on these forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.models import User
from oncology import catalogues
from oncology.models import (
    Biomarker,
    BodyMeasurement,
    CareTeam,
    Comorbidity,
    Diagnosis,
    DiseaseEvent,
    FollowUp,
    LabResult,
    Patient,
    PatientRecordModel,
    PerformanceStatus,
    RadiotherapyCourse,
    Surgery,
    SystemicTherapy,
    Toxicity,
)
from oncology.services.records import NON_FIELD, PATIENT_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _date_widgets(model: type[PatientRecordModel] | type[Patient]) -> dict[str, forms.Widget]:
    from django.db.models import DateField

    return {
        f.name: DateInput()
        for f in model._meta.concrete_fields
        if isinstance(f, DateField) and f.editable and f.name not in {"created_at", "updated_at"}
    }


def _with_blank(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", "Choose…"), *choices]


def _keep_current(choices: list[tuple[str, str]], current: str | None) -> list[tuple[str, str]]:
    # A stored value that is no longer in the catalogue stays selectable, so opening an old
    # record does not silently change it; the validator then says what is wrong with it.
    if current and current not in {value for value, _ in choices}:
        return [*choices, (current, f"{current} (not in catalogue)")]
    return choices


def apply_errors(form: forms.BaseForm, errors: dict[str, list[str]]) -> None:
    """Put field-keyed service errors on `form`: on the named field when the form has it."""
    for key, messages in errors.items():
        target = key if key in form.fields else None
        for message in messages:
            form.add_error(target, message)


def validation_error_dict(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {key: list(msgs) for key, msgs in exc.message_dict.items()}
    return {NON_FIELD: list(exc.messages)}


Fieldsets = tuple[tuple[str, tuple[str, ...]], ...]


class GroupedForm:
    """A form laid out in titled groups of fields (a fieldset each)."""

    # (legend, field names); empty: one untitled group of every field.
    fieldsets: Fieldsets = ()

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        form: Any = self
        if not self.fieldsets:
            return [("", list(form))]
        return [(legend, [form[name] for name in names]) for legend, names in self.fieldsets]


# ---------------------------------------------------------------------------------------------
# Patient
# ---------------------------------------------------------------------------------------------


class PatientForm(GroupedForm, forms.ModelForm):
    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        widgets = _date_widgets(Patient)
        labels = {"mrn": "MRN (hospital number)", "smoking_pack_years": "Pack-years"}

    fieldsets: Fieldsets = (
        ("Identity", ("given_name", "family_name", "mrn", "sex", "birth_date")),
        ("Smoking", ("smoking_status", "smoking_pack_years")),
        ("Vital status", ("vital_status", "death_date", "last_contact_date")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["smoking_pack_years"].widget.attrs.update({"step": "0.5", "min": "0"})
        _name_blank_choices(self)

    def validate_unique(self) -> None:
        # MRN uniqueness is per institution, which the form does not see: the service checks it.
        pass


class CareTeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class PatientCreateForm(PatientForm):
    care_team = CareTeamChoiceField(
        queryset=CareTeam.objects.none(),
        help_text="The patient is visible to the members of this team.",
        empty_label="Choose…",
    )

    class Meta(PatientForm.Meta):
        fields = ["care_team", *PATIENT_FIELDS]

    fieldsets: Fieldsets = (("Care team", ("care_team",)), *PatientForm.fieldsets)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = CareTeam.objects.filter(members=user).select_related("institution")
        self.fields["care_team"].queryset = teams.order_by("name")  # type: ignore[attr-defined]
        if len(self.fields["care_team"].queryset) == 1:  # type: ignore[attr-defined]
            self.fields["care_team"].initial = self.fields["care_team"].queryset[0]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Record sections
# ---------------------------------------------------------------------------------------------


class DiagnosisChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.primary_site} {obj.morphology} ({obj.diagnosis_date:%Y-%m-%d})"


def _name_blank_choices(form: forms.BaseForm) -> None:
    # Django's "---------" means nothing to a reader: say what choosing it records.
    for f in form.fields.values():
        choices = getattr(f, "choices", None)
        if isinstance(f, forms.TypedChoiceField | forms.ChoiceField) and choices:
            choices = list(choices)
            if choices and choices[0] == ("", "---------"):
                f.choices = [("", "Choose…" if f.required else "Not recorded"), *choices[1:]]


class RecordForm(GroupedForm, forms.ModelForm):
    """Base of the section forms: knows its patient, so a diagnosis link stays within it."""

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        self.patient = patient
        super().__init__(*args, **kwargs)
        _name_blank_choices(self)
        if "diagnosis" in self.fields:
            self.fields["diagnosis"] = DiagnosisChoiceField(
                queryset=Diagnosis.objects.filter(patient=patient).order_by("diagnosis_date"),
                required=False,
                empty_label="Not linked",
                help_text="The tumour this relates to.",
                initial=self.fields["diagnosis"].initial,
            )

    def validate_unique(self) -> None:
        # Uniqueness involves `patient`, which is not a form field: the service checks it.
        pass


def _catalogue_field(
    choices: list[tuple[str, str]] | None,
    form: forms.ModelForm,
    name: str,
    *,
    help_text: str = "",
) -> None:
    """Turn `name` into a select over a catalogue, when the catalogue is available."""
    if not choices:
        return
    current = form.initial.get(name) or getattr(form.instance, name, None)
    old = form.fields[name]
    form.fields[name] = forms.ChoiceField(
        choices=_with_blank(_keep_current(choices, current)),
        required=old.required,
        label=old.label,
        help_text=help_text or old.help_text,
    )


class DiagnosisForm(RecordForm):
    class Meta:
        model = Diagnosis
        fields = [
            "primary_site",
            "morphology",
            "laterality",
            "diagnosis_date",
            "grade",
            "clinical_t",
            "clinical_n",
            "clinical_m",
            "clinical_stage",
            "pathological_t",
            "pathological_n",
            "pathological_m",
            "pathological_stage",
        ]
        widgets = _date_widgets(Diagnosis)
        labels = {
            "primary_site": "Primary site (ICD-O-3 topography)",
            "morphology": "Histology (ICD-O-3 morphology)",
            "clinical_t": "T (cT)",
            "clinical_n": "N (cN)",
            "clinical_m": "M (cM)",
            "clinical_stage": "Stage group",
            "pathological_t": "T (pT)",
            "pathological_n": "N (pN)",
            "pathological_m": "M (pM)",
            "pathological_stage": "Stage group",
        }

    fieldsets: Fieldsets = (
        ("Tumour", ("primary_site", "morphology", "laterality", "diagnosis_date", "grade")),
        (
            "Clinical staging (TNM 8th edition)",
            ("clinical_t", "clinical_n", "clinical_m", "clinical_stage"),
        ),
        (
            "Pathological staging (TNM 8th edition)",
            ("pathological_t", "pathological_n", "pathological_m", "pathological_stage"),
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _catalogue_field(catalogues.topography_choices(), self, "primary_site")
        _catalogue_field(catalogues.morphology_choices(), self, "morphology")
        self.fields["primary_site"].widget.attrs["data-tnm-site"] = "1"
        site = self.data.get(self.add_prefix("primary_site")) or self.initial.get(
            "primary_site", getattr(self.instance, "primary_site", "")
        )
        morphology = self.data.get(self.add_prefix("morphology")) or self.initial.get(
            "morphology", getattr(self.instance, "morphology", "")
        )
        self.fields["morphology"].widget.attrs["data-tnm-morphology"] = "1"
        self.tnm_options = catalogues.tnm_categories(site or "", morphology or "")
        for axis in ("t", "n", "m"):
            for prefix in ("clinical", "pathological"):
                widget = self.fields[f"{prefix}_{axis}"].widget
                widget.attrs.update({"list": f"tnm-{axis}-options", "autocomplete": "off"})
                widget.attrs["data-tnm-axis"] = f"{prefix}:{axis}"
        for prefix in ("clinical", "pathological"):
            stage = self.fields[f"{prefix}_stage"]
            stage.widget.attrs["data-tnm-stage"] = prefix
            stage.help_text = (
                "Left empty, it is derived from T, N and M; if entered, it is checked."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        site = data.get("primary_site") or ""
        for prefix in ("clinical", "pathological"):
            t, n, m = (data.get(f"{prefix}_{axis}") or "" for axis in ("t", "n", "m"))
            if not data.get(f"{prefix}_stage") and t and n and m:
                derived = catalogues.derive_stage(site, t, n, m, data.get("morphology") or "")
                if derived:
                    data[f"{prefix}_stage"] = derived
        return data


class BiomarkerForm(RecordForm):
    class Meta:
        model = Biomarker
        fields = ["name", "result", "value", "test_date", "diagnosis"]
        widgets = _date_widgets(Biomarker)
        help_texts = {"value": "Numeric result where the test gives one (e.g. PD-L1 TPS %)."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _catalogue_field(catalogues.biomarker_choices(), self, "name")


class PerformanceStatusForm(RecordForm):
    class Meta:
        model = PerformanceStatus
        fields = ["assessed_on", "ecog"]
        widgets = _date_widgets(PerformanceStatus)
        help_texts = {"ecog": "ECOG performance status, 0 (fully active) to 5 (dead)."}


class ComorbidityForm(RecordForm):
    class Meta:
        model = Comorbidity
        fields = ["condition", "diagnosed_on"]
        widgets = _date_widgets(Comorbidity)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _catalogue_field(
            catalogues.charlson_choices(),
            self,
            "condition",
            help_text="Charlson comorbidity index condition.",
        )


class LabResultForm(RecordForm):
    class Meta:
        model = LabResult
        fields = ["code", "value", "unit", "collected_on"]
        widgets = _date_widgets(LabResult)
        labels = {"code": "Test"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _catalogue_field(catalogues.lab_choices(), self, "code")
        self.fields["unit"].widget.attrs.update({"list": "lab-unit-options", "autocomplete": "off"})
        self.unit_options = catalogues.lab_units()
        self.fields["value"].widget.attrs["step"] = "any"


class BodyMeasurementForm(RecordForm):
    class Meta:
        model = BodyMeasurement
        fields = ["measured_on", "weight_kg", "height_cm"]
        widgets = _date_widgets(BodyMeasurement)
        labels = {"weight_kg": "Weight (kg)", "height_cm": "Height (cm)"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("weight_kg") is None and data.get("height_cm") is None:
            raise ValidationError("Enter a weight, a height or both.")
        return data


class SurgeryForm(RecordForm):
    class Meta:
        model = Surgery
        fields = ["procedure", "performed_on", "intent", "margin_status", "diagnosis"]
        widgets = _date_widgets(Surgery)


class RadiotherapyForm(RecordForm):
    class Meta:
        model = RadiotherapyCourse
        fields = [
            "target",
            "technique",
            "total_dose_gy",
            "fractions",
            "start_date",
            "end_date",
            "intent",
            "best_response",
            "diagnosis",
        ]
        widgets = _date_widgets(RadiotherapyCourse)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["total_dose_gy"].widget.attrs["step"] = "any"


_DRUG_LINE = re.compile(
    r"^\s*(?P<name>[^,]+?)\s*,\s*(?P<dose>[0-9]+(?:\.[0-9]+)?)\s*,\s*(?P<unit>\S.*?)\s*$"
)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value or "")


class DrugListField(forms.CharField):
    """A regimen's drugs, one a line: "name, dose, unit" (dose per administration)."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(
                f"{d.get('name', '')}, {_number(d.get('dose'))}, {d.get('unit', '')}" for d in value
            )
        return value

    def to_python(self, value: Any) -> list[dict[str, Any]]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        drugs: list[dict[str, Any]] = []
        for number, line in enumerate(str(value or "").splitlines(), start=1):
            if not line.strip():
                continue
            match = _DRUG_LINE.match(line)
            if not match:
                raise ValidationError(
                    f"Line {number}: write name, dose, unit (for example: carboplatin, 5, AUC)."
                )
            drugs.append(
                {
                    "name": match["name"].strip().lower(),
                    "dose": float(match["dose"]),
                    "unit": match["unit"].strip(),
                }
            )
        return drugs


class SystemicTherapyForm(RecordForm):
    drugs = DrugListField(
        required=False,
        help_text="One drug a line: name, dose, unit, e.g. “cisplatin, 75, mg/m2”.",
    )

    class Meta:
        model = SystemicTherapy
        fields = [
            "regimen",
            "category",
            "drugs",
            "cycles",
            "start_date",
            "end_date",
            "intent",
            "best_response",
            "diagnosis",
        ]
        widgets = _date_widgets(SystemicTherapy)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["regimen"].widget.attrs.update(
            {"list": "regimen-options", "autocomplete": "off"}
        )
        self.regimen_options = catalogues.regimen_names()
        self.fields["drugs"].help_text = (
            "One drug a line: name, dose per administration, unit; e.g. “cisplatin, 75, mg/m2”. "
            f"Units: {', '.join(catalogues.dose_units())}."
        )


class FollowUpForm(RecordForm):
    class Meta:
        model = FollowUp
        fields = ["visit_date", "disease_status", "ecog"]
        widgets = _date_widgets(FollowUp)


class DiseaseEventForm(RecordForm):
    class Meta:
        model = DiseaseEvent
        fields = ["event_type", "event_date", "diagnosis"]
        widgets = _date_widgets(DiseaseEvent)


class ToxicityForm(RecordForm):
    class Meta:
        model = Toxicity
        fields = ["term", "grade", "onset_date", "attributed_to"]
        widgets = _date_widgets(Toxicity)
        help_texts = {"grade": "CTCAE v5 grade, 1 (mild) to 5 (death related to the event)."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _catalogue_field(catalogues.ctcae_choices(), self, "term")


# ---------------------------------------------------------------------------------------------
# The registry the generic section views are driven by
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionSpec:
    """How one record section is edited and shown."""

    form: type[RecordForm]
    title: str  # plural heading
    singular: str
    columns: tuple[str, ...]  # model fields shown in the patient page's table
    extra_template: str = ""  # a template fragment rendered after the form's fields
    labels: dict[str, str] = field(default_factory=dict)


SECTIONS: dict[str, SectionSpec] = {
    "diagnoses": SectionSpec(
        DiagnosisForm,
        "Diagnoses",
        "diagnosis",
        (
            "diagnosis_date",
            "primary_site",
            "morphology",
            "laterality",
            "grade",
            "clinical_staging",
            "pathological_staging",
        ),
        extra_template="oncology/sections/_tnm_options.html",
        labels={
            "diagnosis_date": "Date",
            "primary_site": "Site",
            "morphology": "Histology",
            "laterality": "Side",
            "clinical_staging": "cTNM · stage",
            "pathological_staging": "pTNM · stage",
        },
    ),
    "biomarkers": SectionSpec(
        BiomarkerForm, "Biomarkers", "biomarker", ("test_date", "name", "result", "value")
    ),
    "performance_statuses": SectionSpec(
        PerformanceStatusForm, "Performance status", "performance status", ("assessed_on", "ecog")
    ),
    "comorbidities": SectionSpec(
        ComorbidityForm, "Comorbidities", "comorbidity", ("condition", "diagnosed_on")
    ),
    "labs": SectionSpec(
        LabResultForm,
        "Laboratory results",
        "laboratory result",
        ("collected_on", "code", "value", "unit"),
        labels={"code": "Test"},
        extra_template="oncology/sections/_lab_options.html",
    ),
    "measurements": SectionSpec(
        BodyMeasurementForm,
        "Body measurements",
        "body measurement",
        ("measured_on", "weight_kg", "height_cm"),
        labels={"weight_kg": "Weight (kg)", "height_cm": "Height (cm)"},
    ),
    "surgeries": SectionSpec(
        SurgeryForm,
        "Surgery",
        "surgery",
        ("performed_on", "procedure", "intent", "margin_status"),
    ),
    "radiotherapies": SectionSpec(
        RadiotherapyForm,
        "Radiotherapy",
        "radiotherapy course",
        ("period", "target", "technique", "dose", "intent", "best_response"),
        labels={"period": "Dates", "dose": "Dose", "best_response": "Response"},
    ),
    "systemic_therapies": SectionSpec(
        SystemicTherapyForm,
        "Systemic therapy",
        "systemic therapy",
        ("period", "regimen", "category", "cycles", "intent", "best_response"),
        extra_template="oncology/sections/_regimen_options.html",
        labels={"period": "Dates", "best_response": "Response"},
    ),
    "follow_ups": SectionSpec(
        FollowUpForm, "Follow-up", "follow-up visit", ("visit_date", "disease_status", "ecog")
    ),
    "disease_events": SectionSpec(
        DiseaseEventForm,
        "Progression and recurrence",
        "progression or recurrence",
        ("event_date", "event_type"),
    ),
    "toxicities": SectionSpec(
        ToxicityForm, "Toxicities", "toxicity", ("onset_date", "term", "grade", "attributed_to")
    ),
}
