"""A demo tumour-board meeting (docs/board.md): "Thoracic tumour board (demo)" at the demo
institution, two days from now, with ready cases and one whose record is missing items.

The demo cohort has no images and no genomic reports, so each ready case gets what a real one
would have by the meeting, made through the same services real data goes through:

- two synthetic CT studies (``imaging.dicom.synthetic``: a sphere of soft tissue in air, the
  second one larger, so the imaging panel shows a change across studies), ingested with
  ``dicom_ingest`` and outlined with the viewer's seed tool (``mask_create_from_seed``);
- a genomic report sent as JSON (``genomic_report_create``) holding one alteration the
  knowledge base knows for lung cancer.

Ready cases are demo lung-cancer patients whose record already holds staging, histology, ECOG
and comorbidities. The case missing items is another lung patient with no comorbidity recorded
(and no imaging or genomics): its checklist links to the forms that fill them. Cases are added
with ``board_case_add`` by the demo oncologist, which computes the active outcome model's
prediction when there is one. Everything is synthetic; running it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.models import User
from oncology.models import Patient
from oncology.models_board import Meeting
from oncology.services import board

MEETING_TITLE = "Thoracic tumour board (demo)"
READY_CASES = 3
# One alteration per ready case, each known to the shipped knowledge base for lung cancer.
ALTERATIONS = (
    {"chrom": "7", "pos": 55191822, "ref": "T", "alt": "G", "gene": "EGFR",
     "hgvs_p": "p.Leu858Arg", "consequence": "missense_variant"},
    {"chrom": "12", "pos": 25245351, "ref": "C", "alt": "A", "gene": "KRAS",
     "hgvs_p": "p.Gly12Cys", "consequence": "missense_variant"},
    {"chrom": "7", "pos": 55181378, "ref": "C", "alt": "T", "gene": "EGFR",
     "hgvs_p": "p.Thr790Met", "consequence": "missense_variant"},
)  # fmt: skip
QUESTIONS = (
    "Resectable? Surgery first, or chemoradiotherapy given the nodal status?",
    "Adjuvant systemic therapy after resection: which option, and is a targeted agent indicated?",
    "Progression on first line: next line of treatment, or best supportive care?",
)
MISSING_QUESTION = "Staging complete enough to decide? Treatment options for discussion."
# The synthetic CT: a soft-tissue sphere (40 HU) in lung-like background (-800 HU).
CT_SHAPE = (20, 48, 48)
CT_SPACING = (2.0, 1.0, 1.0)
SPHERE_RADII_MM = (9.0, 11.0)  # baseline, follow-up


@dataclass(frozen=True)
class DemoBoard:
    meeting: Meeting
    created: bool
    ready: list[Patient]
    missing: Patient | None


def _lung_patients(institution_id: int) -> tuple[list[Patient], list[Patient]]:
    """(complete, no comorbidity recorded): alive, synthetic, staged lung-cancer patients with
    an ECOG, by MRN."""
    staged = (
        Patient.objects.filter(
            institution_id=institution_id,
            is_synthetic=True,
            vital_status="alive",
            diagnoses__primary_site__startswith="C34",
        )
        .annotate(
            staged=Count("diagnoses", filter=~Q(diagnoses__clinical_stage="")),
            ecogs=Count("performance_statuses", distinct=True),
            conditions=Count("comorbidities", distinct=True),
        )
        .filter(staged__gt=0, ecogs__gt=0)
        .order_by("mrn")
    )
    return list(staged.filter(conditions__gt=0)), list(staged.filter(conditions=0))


def _sphere_stored(radius_mm: float) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in CT_SHAPE), indexing="ij")
    centre = [n // 2 for n in CT_SHAPE]
    d2 = sum(((a - c) * s) ** 2 for a, c, s in zip((z, y, x), centre, CT_SPACING, strict=True))
    hu = np.where(d2 <= radius_mm**2, 40, -800).astype(np.int16)
    return (hu + 1024).astype(np.int16)  # stored values; rescale intercept -1024


def _imaging_create(*, patient: Patient, oncologist: User, diagnosed: dt.date) -> None:
    from imaging.dicom.synthetic import synthetic_series
    from imaging.models import Series
    from imaging.services.ingest import dicom_ingest
    from imaging.services.masks import SeedParameters, mask_create_from_seed

    for index, radius in enumerate(SPHERE_RADII_MM):
        studied = diagnosed + dt.timedelta(days=7 + 90 * index)
        datasets = synthetic_series(_sphere_stored(radius), spacing=CT_SPACING)
        for ds in datasets:
            ds.PatientID = patient.mrn
            ds.PatientName = f"{patient.family_name}^{patient.given_name}"
            ds.StudyDate = studied.strftime("%Y%m%d")
            ds.StudyDescription = "CT thorax (synthetic demo)"
            ds.SeriesDescription = "Axial 2 mm (synthetic)"
            ds.Modality = "CT"
            ds.SeriesNumber = 2
            buffer = _dicom_bytes(ds)
            dicom_ingest(
                actor=oncologist,
                institution=patient.institution,
                data=buffer,
                filename="demo.dcm",
                channel="command",
                patient=patient,
            )
        series = Series.objects.get(series_instance_uid=str(datasets[0].SeriesInstanceUID))
        mask_create_from_seed(
            actor=oncologist,
            patient=patient,
            series=series,
            parameters=SeedParameters(seed_zyx=tuple(n // 2 for n in CT_SHAPE)),  # type: ignore[arg-type]
            label="Primary tumour",
        )


def _dicom_bytes(ds: object) -> bytes:
    import io

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _genomics_create(*, patient: Patient, oncologist: User, variant: dict, on: dt.date) -> None:
    from genomics.services import ReportMetadata, ReportSource, genomic_report_create

    depth = 400
    payload = {
        "build": "GRCh38",
        "variants": [{**variant, "vaf": 0.25, "depth": depth, "alt_depth": depth // 4}],
    }
    genomic_report_create(
        user=oncologist,
        patient=patient,
        source=ReportSource(format="json", payload=payload),
        metadata=ReportMetadata(
            assay_name="Lung panel (synthetic demo)",
            covered_mb=1.2,
            specimen_type="primary",
            collection_date=on,
            genes=("EGFR", "KRAS", "ALK", "ROS1", "BRAF", "MET"),
            laboratory="Demo molecular pathology",
            external_id=f"demo-board-ngs-{patient.mrn}",
        ),
    )


def demo_board_create(*, ready_cases: int = READY_CASES) -> DemoBoard:
    """Create the demo meeting once (idempotent by title at the demo institution)."""
    oncologist = User.objects.get(
        username="demo-oncologist", institution__code=settings.DEMO_INSTITUTION_CODE
    )
    institution_id = oncologist.institution_id
    if institution_id is None:  # unreachable: the query above selects by institution
        raise User.DoesNotExist("demo-oncologist has no institution")
    existing = Meeting.objects.filter(institution_id=institution_id, title=MEETING_TITLE).first()
    if existing is not None:
        return DemoBoard(existing, False, [], None)
    complete, incomplete = _lung_patients(institution_id)
    ready = complete[: min(ready_cases, len(ALTERATIONS))]
    missing = incomplete[0] if incomplete else None
    with transaction.atomic():
        attendees = list(
            User.objects.filter(
                institution_id=institution_id,
                username__in=["demo-oncologist", "demo-clinician", "demo-datamanager"],
            )
        )
        meeting = board.meeting_create(
            user=oncologist,
            values={
                "title": MEETING_TITLE,
                "scheduled_for": (timezone.now() + dt.timedelta(days=2)).replace(
                    hour=8, minute=0, second=0, microsecond=0
                ),
                "location": "Seminar room 2 and video link",
                "guest_attendees": "Thoracic surgeon (visiting)\nClinical nurse specialist",
            },
            attendees=attendees,
        )
        for index, patient in enumerate(ready):
            diagnosed = min(d.diagnosis_date for d in patient.diagnoses.all())
            _imaging_create(patient=patient, oncologist=oncologist, diagnosed=diagnosed)
            _genomics_create(
                patient=patient,
                oncologist=oncologist,
                variant=ALTERATIONS[index],
                on=diagnosed + dt.timedelta(days=14),
            )
            board.board_case_add(
                user=oncologist,
                meeting=meeting,
                patient_public_id=patient.public_id,
                question=QUESTIONS[index % len(QUESTIONS)],
                presenter=oncologist,
            )
        if missing is not None:
            board.board_case_add(
                user=oncologist,
                meeting=meeting,
                patient_public_id=missing.public_id,
                question=MISSING_QUESTION,
            )
    return DemoBoard(meeting, True, ready, missing)


def sphere_volume_ml(radius_mm: float) -> float:
    """The demo lesion's nominal volume (the seed outline of a voxelised sphere is close)."""
    return 4 / 3 * math.pi * radius_mm**3 / 1000
