"""What the patient page shows, built from a patient whose record sections are prefetched:
the header summary, one table per section, and the chronological timeline.

Works only on objects already in memory (no queries), so the page's query count does not grow
with the size of the record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from oncology import catalogues
from oncology.clinical.record import charlson_for_patient
from oncology.models import RECORD_SECTIONS, Patient, VitalStatus


@dataclass(frozen=True)
class TimelineEntry:
    date: dt.date
    kind: str  # css modifier and screen-reader text
    kind_label: str
    title: str
    detail: str = ""
    end_date: dt.date | None = None


@dataclass(frozen=True)
class SectionRow:
    pk: int
    cells: list[str]


@dataclass(frozen=True)
class SectionTable:
    key: str
    title: str
    singular: str
    headings: list[str]
    rows: list[SectionRow]


def age_years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def patient_age(patient: Patient, today: dt.date) -> int:
    end = patient.death_date if patient.death_date and patient.death_date < today else today
    return age_years(patient.birth_date, end)


def primary_diagnosis(diagnoses: list[Any]) -> Any | None:
    return min(diagnoses, key=lambda d: (d.diagnosis_date, d.pk)) if diagnoses else None


def stage_of(diagnosis: Any | None) -> str:
    if diagnosis is None:
        return ""
    return str(diagnosis.pathological_stage or diagnosis.clinical_stage or "")


def diagnosis_label(diagnosis: Any | None) -> str:
    """ "Adenocarcinoma, NOS · Upper lobe, lung": the catalogue names of a diagnosis's codes."""
    if diagnosis is None:
        return ""
    names = (
        catalogues.morphology_label(diagnosis.morphology),
        catalogues.topography_label(diagnosis.primary_site),
    )
    return " · ".join(x for x in names if x)


def latest_ecog(patient: Patient) -> tuple[int, dt.date] | None:
    scored = [(p.assessed_on, p.pk, p.ecog) for p in patient.performance_statuses.all()]
    scored += [(f.visit_date, f.pk, f.ecog) for f in patient.follow_ups.all() if f.ecog is not None]
    if not scored:
        return None
    date, _, ecog = max(scored)
    return ecog, date


def latest_bmi(patient: Patient) -> tuple[float, dt.date] | None:
    """BMI = weight (kg) / height (m)^2 from the latest weight and the latest height on or
    before it (adult height is stable, and often recorded once)."""
    measurements = sorted(patient.measurements.all(), key=lambda m: (m.measured_on, m.pk))
    weights = [m for m in measurements if m.weight_kg]
    if not weights:
        return None
    last = weights[-1]
    heights = [m for m in measurements if m.height_cm and m.measured_on <= last.measured_on]
    if not heights:
        heights = [m for m in measurements if m.height_cm]
    if not heights:
        return None
    metres = float(heights[-1].height_cm or 0) / 100.0
    return round(float(last.weight_kg or 0) / (metres * metres), 1), last.measured_on


def charlson(patient: Patient, today: dt.date) -> int | None:
    """Age-adjusted Charlson index today (at death for a deceased patient); None when a stored
    condition is not in the catalogue."""
    on = patient.death_date if patient.death_date and patient.death_date < today else today
    comorbidities = [
        {"condition": c.condition, "diagnosed_on": c.diagnosed_on}
        for c in patient.comorbidities.all()
    ]
    try:
        return charlson_for_patient({"birth_date": patient.birth_date}, comorbidities, on)
    except ValueError:
        return None


# Coded fields shown by their catalogue label (the code stays in the form and the API).
_LABELLED: dict[tuple[str, str], Any] = {
    ("comorbidity", "condition"): catalogues.condition_label,
    ("labresult", "code"): catalogues.lab_label,
    ("toxicity", "term"): catalogues.ctcae_label,
}
# Coded fields whose code is what clinicians read (G2, R0), not the long display text.
_RAW = {("diagnosis", "grade"), ("surgery", "margin_status"), ("radiotherapycourse", "technique")}


def _display(obj: Any, name: str) -> str:
    key = (obj._meta.model_name, name)
    if key in _LABELLED:
        return str(_LABELLED[key](getattr(obj, name)))
    if key in _RAW:
        return str(getattr(obj, name) or "—")
    if name == "period":
        end = obj.end_date.isoformat() if obj.end_date else "ongoing"
        return f"{obj.start_date.isoformat()} – {end}"
    if name == "dose":
        return f"{obj.total_dose_gy:g} Gy / {obj.fractions} fx"
    if name in {"clinical_staging", "pathological_staging"}:
        prefix = name.split("_")[0]
        tnm = " ".join(p for p in (getattr(obj, f"{prefix}_{a}") for a in "tnm") if p)
        stage = getattr(obj, f"{prefix}_stage")
        if stage:
            return f"{tnm} · {stage}" if tnm else stage
        return tnm or "—"
    value = getattr(obj, name)
    if value in (None, ""):
        return "—"
    display = getattr(obj, f"get_{name}_display", None)
    if display is not None:
        return str(display())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def heading_of(model: Any, name: str, labels: dict[str, str]) -> str:
    if name in labels:
        return labels[name]
    label = str(model._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def section_tables(patient: Patient, specs: dict[str, Any]) -> list[SectionTable]:
    tables = []
    for key, model in RECORD_SECTIONS.items():
        spec = specs[key]
        records = list(getattr(patient, key).all())
        tables.append(
            SectionTable(
                key=key,
                title=spec.title,
                singular=spec.singular,
                headings=[heading_of(model, c, spec.labels) for c in spec.columns],
                rows=[SectionRow(r.pk, [_display(r, c) for c in spec.columns]) for r in records],
            )
        )
    return tables


def timeline(patient: Patient) -> list[TimelineEntry]:
    """Every dated event of the record, oldest first."""
    entries: list[TimelineEntry] = []
    add = entries.append
    for d in patient.diagnoses.all():
        stage = stage_of(d)
        names = diagnosis_label(d)
        add(
            TimelineEntry(
                d.diagnosis_date,
                "diagnosis",
                "Diagnosis",
                f"{d.primary_site} · {d.morphology}",
                " · ".join(x for x in (names, f"Stage {stage}" if stage else "") if x),
            )
        )
    for b in patient.biomarkers.all():
        value = f" ({b.value:g})" if b.value is not None else ""
        add(
            TimelineEntry(
                b.test_date, "biomarker", "Biomarker", b.name, f"{b.get_result_display()}{value}"
            )
        )
    for s in patient.surgeries.all():
        add(
            TimelineEntry(
                s.performed_on,
                "treatment",
                "Surgery",
                s.procedure,
                " · ".join(x for x in (s.get_intent_display(), s.margin_status) if x),
            )
        )
    for r in patient.radiotherapies.all():
        add(
            TimelineEntry(
                r.start_date,
                "treatment",
                "Radiotherapy",
                f"{r.target}: {r.total_dose_gy:g} Gy in {r.fractions} fractions",
                f"{r.get_technique_display()} · {r.get_intent_display()}",
                r.end_date,
            )
        )
    for t in patient.systemic_therapies.all():
        cycles = f" · {t.cycles} cycles" if t.cycles else ""
        add(
            TimelineEntry(
                t.start_date,
                "treatment",
                "Systemic therapy",
                t.regimen,
                f"{t.get_category_display()}{cycles}",
                t.end_date,
            )
        )
    for lab in patient.labs.all():
        add(
            TimelineEntry(
                lab.collected_on,
                "lab",
                "Lab",
                catalogues.lab_label(lab.code),
                f"{lab.value:g} {lab.unit}",
            )
        )
    for f in patient.follow_ups.all():
        ecog = f" · ECOG {f.ecog}" if f.ecog is not None else ""
        add(
            TimelineEntry(
                f.visit_date, "follow-up", "Follow-up", f.get_disease_status_display(), ecog[3:]
            )
        )
    for e in patient.disease_events.all():
        add(TimelineEntry(e.event_date, "event", "Disease event", e.get_event_type_display()))
    for x in patient.toxicities.all():
        add(
            TimelineEntry(
                x.onset_date,
                "toxicity",
                "Toxicity",
                f"{catalogues.ctcae_label(x.term)}, grade {x.grade}",
                f"Attributed to {x.get_attributed_to_display().lower()}",
            )
        )
    if patient.vital_status == VitalStatus.DEAD and patient.death_date:
        add(TimelineEntry(patient.death_date, "death", "Death", "Death"))
    order = {"diagnosis": 0, "biomarker": 1, "treatment": 2, "lab": 3, "follow-up": 4}
    entries.sort(key=lambda e: (e.date, order.get(e.kind, 5)))
    return entries


def record_summary(record: Any, spec: Any) -> list[tuple[str, str]]:
    """(heading, value) pairs describing one sub-record, as its section table shows it."""
    return [(heading_of(type(record), c, spec.labels), _display(record, c)) for c in spec.columns]
