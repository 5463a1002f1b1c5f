"""Reads of the tumour board that enforce access and write the audit event (docs/board.md).

Meetings belong to an institution: a person of another institution gets a 404. A case is
visible only when its patient is visible to the reader (``patient_visible_queryset``: their care
teams); a meeting's page lists only those cases and says how many others there are, never who.
Each call writes one event: LIST for a meeting list or a meeting's cases, VIEW for a case page.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, QuerySet, prefetch_related_objects
from django.http import Http404
from django.urls import reverse

from core.audit import audit_record
from core.models import AuditAction, User
from oncology import record_page
from oncology.models import RECORD_SECTIONS, Patient
from oncology.models_board import BoardCase, BoardDecision, Meeting
from oncology.models_outcomes import OutcomeModelStatus, Prediction
from oncology.selectors import patient_visible_queryset
from oncology.services.board import CASE_OBJECT, MEETING_OBJECT

# ICD-O-3 morphologies that say "a tumour" without its histology: pathology is still missing.
UNSPECIFIED_MORPHOLOGY = ("8000/", "8001/")
MEASURED_MASKS = 6  # the imaging panel measures at most this many stored masks
MEASUREMENT_CACHE_SECONDS = 7 * 24 * 3600


def _in_institution(user: User) -> QuerySet[Meeting]:
    if not user or not user.is_authenticated or user.institution_id is None:
        return Meeting.objects.none()
    return Meeting.objects.filter(institution_id=user.institution_id)


def meeting_list(*, user: User) -> QuerySet[Meeting]:
    """The institution's meetings, newest first, with case counts; one LIST event."""
    meetings = _in_institution(user).annotate(
        case_count=Count("cases", filter=~Q(cases__status="withdrawn"))
    )
    audit_record(
        actor=user,
        action=AuditAction.LIST,
        object_type=MEETING_OBJECT,
        institution_id=user.institution_id,
    )
    return meetings


def meeting_get(*, user: User, public_id: uuid.UUID | str) -> Meeting:
    """A meeting of the user's institution, or Http404. No event: the caller's read or write
    of the meeting's cases records it."""
    try:
        return _in_institution(user).get(public_id=public_id)
    except (Meeting.DoesNotExist, ValueError) as exc:
        raise Http404("No such meeting") from exc


@dataclass
class MeetingCases:
    visible: list[BoardCase]
    hidden_count: int  # cases of patients the reader may not see (counted, never named)


def meeting_cases(*, user: User, meeting: Meeting) -> MeetingCases:
    """The meeting's cases whose patient the user may see, in list order; one LIST event."""
    visible_ids = patient_visible_queryset(user=user).values("pk")
    cases = list(
        meeting.cases.filter(patient_id__in=visible_ids)
        .select_related("patient", "presenter")
        .prefetch_related(
            Prefetch("decisions", queryset=BoardDecision.objects.order_by("-version"))
        )
        .order_by("position", "pk")
    )
    hidden = meeting.cases.exclude(patient_id__in=visible_ids).count()
    audit_record(
        actor=user,
        action=AuditAction.LIST,
        object_type=CASE_OBJECT,
        object_id=meeting.public_id,
        institution_id=meeting.institution_id,
        detail={"count": len(cases)},
    )
    return MeetingCases(cases, hidden)


def board_case_get(
    *,
    user: User,
    public_id: uuid.UUID | str,
    audit_action: AuditAction | str | None = AuditAction.VIEW,
) -> BoardCase:
    """A case of the user's institution whose patient the user may see, or Http404; one event
    (``audit_action``; None for callers that go on to write and record their own)."""
    if user.institution_id is None:
        raise Http404("No such case")
    try:
        case = (
            BoardCase.objects.select_related("meeting", "patient__institution", "presenter")
            .filter(
                meeting__institution_id=user.institution_id,
                patient_id__in=patient_visible_queryset(user=user).values("pk"),
            )
            .get(public_id=public_id)
        )
    except (BoardCase.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such case") from exc
    if audit_action is not None:
        audit_record(
            actor=user,
            action=audit_action,
            object_type=CASE_OBJECT,
            object_id=case.public_id,
            patient_id=case.patient_id,
            institution_id=case.meeting.institution_id,
        )
    return case


def decision_get(*, case: BoardCase, public_id: uuid.UUID | str) -> BoardDecision:
    """A decision of an already access-checked case, or Http404."""
    try:
        return case.decisions.select_related("prediction__model").get(public_id=public_id)
    except (BoardDecision.DoesNotExist, ValueError) as exc:
        raise Http404("No such decision") from exc


def decision_history(*, case: BoardCase) -> list[BoardDecision]:
    """Every version of the case's decision, newest first, with who signed and attended."""
    return list(
        case.decisions.select_related("signed_by", "created_by", "prediction__model", "supersedes")
        .prefetch_related("attendees")
        .order_by("-version")
    )


def case_prediction(*, case: BoardCase) -> Prediction | None:
    """The patient's latest prediction from an active outcome model, or None (computed only on
    an explicit POST or when the case is added, never here)."""
    return (
        Prediction.objects.filter(
            patient_id=case.patient_id, model__status=OutcomeModelStatus.ACTIVE
        )
        .select_related("model")
        .order_by("-created_at", "-pk")
        .first()
    )


# ---------------------------------------------------------------------------------------------
# The data-completeness checklist
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    detail: str  # what was found, or what is missing
    fix_url: str = ""  # the form that fills it (shown when missing)
    fix_label: str = ""


@dataclass
class Checklist:
    items: list[ChecklistItem]

    @property
    def missing(self) -> list[ChecklistItem]:
        return [i for i in self.items if not i.done]

    @property
    def ready(self) -> bool:
        return not self.missing

    @property
    def summary(self) -> str:
        return f"{len(self.items) - len(self.missing)} of {len(self.items)}"


@dataclass
class _ImagingFacts:
    masked_series: int = 0
    viewable_series: list[Any] = field(default_factory=list)  # newest study first


def _imaging_facts(patient_ids: list[int]) -> dict[int, _ImagingFacts]:
    from imaging.models import Series

    facts: dict[int, _ImagingFacts] = {pid: _ImagingFacts() for pid in patient_ids}
    rows = (
        Series.objects.filter(study__patient_id__in=patient_ids)
        .annotate(masks=Count("stored_masks"))
        .select_related("study")
        .order_by("-study__study_date", "-pk")
    )
    for series in rows:
        f = facts[series.study.patient_id]
        if series.masks:
            f.masked_series += 1
        if series.is_viewable:
            f.viewable_series.append(series)
    return facts


def _genomic_counts(patient_ids: list[int]) -> dict[int, int]:
    from genomics.models import GenomicReport

    counts = (
        GenomicReport.objects.filter(patient_id__in=patient_ids)
        .values("patient_id")
        .annotate(n=Count("pk"))
    )
    return {row["patient_id"]: row["n"] for row in counts}


def _record_url(patient: Patient, section: str, pk: int | None = None) -> str:
    if pk is None:
        return reverse(
            "oncology:record-create", kwargs={"public_id": patient.public_id, "section": section}
        )
    return reverse(
        "oncology:record-edit",
        kwargs={"public_id": patient.public_id, "section": section, "pk": pk},
    )


def _staging_item(patient: Patient, primary: Any) -> ChecklistItem:
    if primary is None:
        return ChecklistItem(
            "staging",
            "Staging",
            False,
            "No primary diagnosis recorded.",
            _record_url(patient, "diagnoses"),
            "Add the diagnosis",
        )
    clinical = all((primary.clinical_t, primary.clinical_n, primary.clinical_m))
    pathological = all((primary.pathological_t, primary.pathological_n))
    stage = record_page.stage_of(primary)
    if stage and (clinical or pathological):
        prefix = "p" if pathological and primary.pathological_stage else "c"
        tnm = " ".join(
            getattr(primary, f"{'pathological' if prefix == 'p' else 'clinical'}_{a}") or ""
            for a in "tnm"
        ).strip()
        return ChecklistItem("staging", "Staging", True, f"{tnm} · stage {stage}")
    return ChecklistItem(
        "staging",
        "Staging",
        False,
        "TNM categories and stage group are not both recorded on the primary diagnosis.",
        _record_url(patient, "diagnoses", primary.pk),
        "Stage the diagnosis",
    )


def _pathology_item(patient: Patient, primary: Any) -> ChecklistItem:
    if primary is not None and not primary.morphology.startswith(UNSPECIFIED_MORPHOLOGY):
        label = record_page.diagnosis_label(primary) or primary.morphology
        return ChecklistItem("pathology", "Pathology", True, f"Histology: {label}")
    return ChecklistItem(
        "pathology",
        "Pathology",
        False,
        "No histology recorded on the primary diagnosis."
        if primary is None
        else "The histology is unspecified (ICD-O-3 8000/8001).",
        _record_url(patient, "diagnoses", primary.pk if primary else None),
        "Record the histology",
    )


def _imaging_item(patient: Patient, facts: _ImagingFacts) -> ChecklistItem:
    if facts.masked_series:
        return ChecklistItem(
            "imaging",
            "Imaging with a tumour mask",
            True,
            f"{facts.masked_series} series with a stored mask.",
        )
    if facts.viewable_series:
        series = facts.viewable_series[0]
        url = reverse(
            "imaging:viewer",
            kwargs={"public_id": patient.public_id, "series_id": series.public_id},
        )
        return ChecklistItem(
            "imaging",
            "Imaging with a tumour mask",
            False,
            "Images are stored but no tumour mask has been drawn or imported.",
            url,
            "Outline the tumour in the viewer",
        )
    return ChecklistItem(
        "imaging",
        "Imaging with a tumour mask",
        False,
        "No imaging stored.",
        reverse("imaging:ingest-upload", kwargs={"public_id": patient.public_id}),
        "Upload imaging",
    )


def _genomics_item(patient: Patient, reports: int) -> ChecklistItem:
    if reports:
        return ChecklistItem(
            "genomics", "Genomics", True, f"{reports} genomic report{'s' if reports > 1 else ''}."
        )
    return ChecklistItem(
        "genomics",
        "Genomics",
        False,
        "No genomic report.",
        reverse("genomics:report-create", kwargs={"public_id": patient.public_id}),
        "Upload a genomic report",
    )


def _ecog_item(patient: Patient) -> ChecklistItem:
    ecog = record_page.latest_ecog(patient)
    if ecog is not None:
        return ChecklistItem("ecog", "ECOG", True, f"ECOG {ecog[0]} on {ecog[1]:%Y-%m-%d}.")
    return ChecklistItem(
        "ecog",
        "ECOG",
        False,
        "No performance status recorded.",
        _record_url(patient, "performance_statuses"),
        "Record ECOG",
    )


def _comorbidity_item(patient: Patient) -> ChecklistItem:
    count = len(patient.comorbidities.all())
    if count:
        return ChecklistItem(
            "comorbidities",
            "Comorbidities",
            True,
            f"{count} recorded condition{'s' if count > 1 else ''}.",
        )
    return ChecklistItem(
        "comorbidities",
        "Comorbidities",
        False,
        "No comorbidity recorded.",
        _record_url(patient, "comorbidities"),
        "Record comorbidities",
    )


CHECKLIST_PREFETCH = ("diagnoses", "performance_statuses", "follow_ups", "comorbidities")


def checklists_for(patients: list[Patient]) -> dict[int, Checklist]:
    """The completeness checklist of each patient (already access-checked), keyed by patient
    id, in a fixed number of queries whatever the number of patients. No audit: the caller's
    read records it."""
    if not patients:
        return {}
    prefetch_related_objects(patients, *CHECKLIST_PREFETCH)
    ids = [p.pk for p in patients]
    imaging = _imaging_facts(ids)
    genomics = _genomic_counts(ids)
    result = {}
    for patient in patients:
        primary = record_page.primary_diagnosis(list(patient.diagnoses.all()))
        result[patient.pk] = Checklist(
            [
                _staging_item(patient, primary),
                _pathology_item(patient, primary),
                _imaging_item(patient, imaging[patient.pk]),
                _genomics_item(patient, genomics.get(patient.pk, 0)),
                _ecog_item(patient),
                _comorbidity_item(patient),
            ]
        )
    return result


def case_checklist(*, case: BoardCase) -> Checklist:
    return checklists_for([case.patient])[case.patient_id]


# ---------------------------------------------------------------------------------------------
# The case page's panels (the caller has access-checked and audited the case)
# ---------------------------------------------------------------------------------------------

TIMELINE_KINDS = {"diagnosis", "treatment", "follow-up", "event", "death", "imaging"}


def case_timeline(*, patient: Patient) -> list[record_page.TimelineEntry]:
    """Diagnosis, treatments, imaging studies and outcomes, oldest first (labs and biomarkers
    stay on the record page)."""
    prefetch_related_objects([patient], *RECORD_SECTIONS, "imaging_studies")
    entries = [e for e in record_page.timeline(patient) if e.kind in TIMELINE_KINDS]
    for study in patient.imaging_studies.all():
        if study.study_date:
            entries.append(
                record_page.TimelineEntry(
                    study.study_date,
                    "imaging",
                    "Imaging",
                    ", ".join(study.modalities) or "Study",
                    study.description,
                )
            )
    order = {"diagnosis": 0, "treatment": 1, "imaging": 2, "follow-up": 3}
    entries.sort(key=lambda e: (e.date, order.get(e.kind, 4)))
    return entries


@dataclass
class MaskRow:
    label: str
    kind: str
    measurement: dict[str, float] | None
    error: str = ""
    change: dict[str, float | None] | None = None  # against the same label's previous study


@dataclass
class SeriesRow:
    series: Any
    study_date: dt.date | None
    viewer_url: str
    masks: list[MaskRow]


def _measure(series: Any, mask: Any) -> dict[str, float] | None:
    """Volume and diameters of a stored mask, cached by the mask's content and grid (a new
    mask or an edited one has another sha256, so a cached value is never stale)."""
    from imaging import viewer_series
    from imaging.dicom.measure import measure_mask

    key = f"board-measure:{mask.volume_key}:{mask.sha256}"
    cached = cache.get(key)
    if cached is not None:
        return dict(cached) if cached else None
    volume = viewer_series.series_volume(series)
    voxels = viewer_series.mask_on_volume(mask, viewer_series.volume_key(series), volume)
    if not voxels.any():
        cache.set(key, {}, MEASUREMENT_CACHE_SECONDS)
        return None
    m = measure_mask(volume, voxels)
    value = {
        "volume_ml": round(m.volume_ml, 3),
        "longest_diameter_mm": round(m.longest_diameter_mm, 2),
        "perpendicular_diameter_mm": round(m.perpendicular_diameter_mm, 2),
    }
    cache.set(key, value, MEASUREMENT_CACHE_SECONDS)
    return value


def _percent(new: float, old: float) -> float | None:
    return None if old == 0 else round(100.0 * (new - old) / old, 1)


def imaging_panel(*, patient: Patient) -> list[SeriesRow]:
    """Series with a stored tumour mask, oldest study first, each mask measured (volume,
    longest and perpendicular axial diameters: ``imaging.dicom.measure``) and compared with
    the same-labelled mask of the previous study (follow-up minus baseline)."""
    from imaging.dicom import MaskError, VolumeAssemblyError
    from imaging.models import Mask, Series

    series_list = list(
        Series.objects.filter(study__patient=patient, stored_masks__isnull=False)
        .distinct()
        .select_related("study")
        .prefetch_related(Prefetch("stored_masks", queryset=Mask.objects.order_by("label", "pk")))
        .order_by("study__study_date", "pk")
    )
    rows: list[SeriesRow] = []
    previous: dict[str, dict[str, float]] = {}
    budget = MEASURED_MASKS
    for series in series_list:
        masks: list[MaskRow] = []
        latest: dict[str, dict[str, float]] = {}
        for mask in series.stored_masks.all():
            measurement, error = None, ""
            if budget > 0:
                budget -= 1
                try:
                    measurement = _measure(series, mask)
                except (MaskError, VolumeAssemblyError, ValueError, OSError):
                    error = "This mask could not be measured; open it in the viewer."
            else:
                error = "Not measured here (many masks); open the viewer."
            change = None
            if measurement and mask.label in previous:
                before = previous[mask.label]
                change = {
                    "diameter_mm": round(
                        measurement["longest_diameter_mm"] - before["longest_diameter_mm"], 2
                    ),
                    "diameter_percent": _percent(
                        measurement["longest_diameter_mm"], before["longest_diameter_mm"]
                    ),
                    "volume_ml": round(measurement["volume_ml"] - before["volume_ml"], 3),
                    "volume_percent": _percent(measurement["volume_ml"], before["volume_ml"]),
                }
            if measurement:
                latest[mask.label] = measurement
            masks.append(MaskRow(mask.label, mask.get_kind_display(), measurement, error, change))
        previous.update(latest)
        rows.append(
            SeriesRow(
                series,
                series.study.study_date,
                reverse(
                    "imaging:viewer",
                    kwargs={"public_id": patient.public_id, "series_id": series.public_id},
                ),
                masks,
            )
        )
    return rows


@dataclass
class GenomicsPanel:
    report: Any | None
    actionable: list[Any]  # matches in the patient's tumour type, by level of evidence
    elsewhere: int  # matches known only in other tumour types
    report_url: str = ""


def _level_key(level: str) -> tuple[int, str]:
    # "1" < "2" < "3A" < "3B" < "4" < "R1": OncoKB-style; unknown levels last.
    digits = "".join(c for c in level if c.isdigit())
    return (int(digits) if digits else math.inf, level)  # type: ignore[return-value]


def genomics_panel(*, patient: Patient) -> GenomicsPanel:
    """The latest genomic report's actionable alterations (level of evidence, matched drugs),
    highest level first; matches known only in other tumour types are counted."""
    from genomics.models import GenomicReport

    report = (
        GenomicReport.objects.filter(patient=patient).order_by("-collection_date", "-pk").first()
    )
    if report is None:
        return GenomicsPanel(None, [], 0)
    matches = list(report.actionability.all())
    actionable = sorted(
        (a for a in matches if a.level and not a.filtered),
        key=lambda a: (_level_key(a.level), a.gene),
    )
    url = reverse(
        "genomics:report-detail",
        kwargs={"public_id": patient.public_id, "report_id": report.public_id},
    )
    return GenomicsPanel(report, actionable, len(matches) - len(actionable), url)
