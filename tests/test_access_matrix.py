"""The endpoint x persona access matrix: every route, four personas (and a second
institution's hospital system for the API).

A route added without a row here fails `test_every_route_is_in_the_matrix`, so no page or
endpoint can ship without its access being decided and tested. Write access is tested in depth
beside each feature (tests/oncology/...); this matrix pins who can reach what.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from core.models import Job, Role
from tests.conftest import World
from tests.factories import UserFactory

PERSONAS = ("member", "outsider", "integration", "anonymous")


@dataclass(frozen=True)
class Row:
    name: str
    url: Callable[[World], str]
    expected: dict[str, int]  # persona -> HTTP status of a GET


def _patient(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, kwargs={"public_id": w.patient.public_id})


def _record(name: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        dx = w.patient.diagnoses.get()
        return reverse(
            name, kwargs={"public_id": w.patient.public_id, "section": "diagnoses", "pk": dx.pk}
        )

    return build


def _import_status(w: World) -> str:
    manager = UserFactory(role=Role.DATA_MANAGER, institution=w.institution, teams=[w.team])
    job = Job.objects.create(
        kind="cohort_import",
        idempotency_key="matrix",
        created_by=manager,
        payload={"institution_id": w.institution.pk},
    )
    return reverse("imports:status", kwargs={"public_id": job.public_id})


def _genomic_report(name: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        from genomics.models import GenomicReport

        report = GenomicReport.objects.create(
            patient=w.patient,
            assay_name="Panel",
            covered_mb=1.5,
            specimen_type="primary",
            collection_date=w.patient.diagnoses.get().diagnosis_date,
            source_format="vcf",
            source_sha256="0" * 64,
        )
        return reverse(
            name, kwargs={"public_id": w.patient.public_id, "report_id": report.public_id}
        )

    return build


def _unmatched_study(w: World) -> str:
    from imaging.models import UnmatchedStudy

    entry = UnmatchedStudy.objects.create(
        institution=w.institution, study_instance_uid="1.2.3", dicom_patient_id="X"
    )
    return reverse("imaging:queue-resolve", kwargs={"entry_id": entry.public_id})


def _viewer(name: str, **extra: object) -> Callable[[World], str]:
    def build(w: World) -> str:
        from imaging.viewer_series import series_masks
        from tests.imaging.viewer_data import store_ct_with_structure_set

        series = store_ct_with_structure_set(w.patient)
        kwargs = {"public_id": w.patient.public_id, "series_id": series.public_id, **extra}
        if "mask_id" in extra:
            kwargs["mask_id"] = series_masks(series)[0].id
        return reverse(name, kwargs=kwargs)

    return build


def _radiomics_run(name: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        from imaging.models import RadiomicsRun
        from tests.imaging.viewer_data import store_ct_with_structure_set

        series = store_ct_with_structure_set(w.patient)
        run = RadiomicsRun.objects.create(
            patient=w.patient, series=series, mask_id="m", mask_label="GTV", input_key="k" * 64
        )
        return reverse(name, kwargs={"public_id": w.patient.public_id, "run_id": run.public_id})

    return build


def _radiomics_series(w: World) -> str:
    from tests.imaging.viewer_data import store_ct_with_structure_set

    series = store_ct_with_structure_set(w.patient)
    return reverse(
        "api-radiomics-series",
        kwargs={"public_id": w.patient.public_id, "series_id": series.public_id},
    )


def _radiomics_batch(name: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        from imaging.models import RadiomicsBatch

        batch = RadiomicsBatch.objects.create(
            institution=w.institution, preset="ct-default", created_by=w.integration
        )
        return reverse(name, kwargs={"batch_id": batch.public_id})

    return build


def _research_export(name: str) -> Callable[[World], str]:
    # An export requested by the team's oncologist: nobody else may read it (404).
    def build(w: World) -> str:
        from imaging.models import ResearchExport

        export = ResearchExport.objects.create(
            institution=w.institution, requested_by=w.oncologist, purpose="matrix"
        )
        return reverse(name, kwargs={"export_id": export.public_id})

    return build


def _fusion(name: str, **extra: object) -> Callable[[World], str]:
    def build(w: World) -> str:
        from tests.imaging.fusion_data import store_fixed_ct, store_moving_mr

        fixed, moving = store_fixed_ct(w.patient), store_moving_mr(w.patient)
        kwargs = {"public_id": w.patient.public_id, "series_id": fixed.public_id, **extra}
        if name != "imaging:viewer-fusion":
            kwargs["moving_id"] = moving.public_id
        return reverse(name, kwargs=kwargs) + (
            "?registration=scanner" if name != "imaging:viewer-fusion" else ""
        )

    return build


def _screening(name: str) -> Callable[[World], str]:
    """A finished screening run of the patient with one finding, and its batch."""

    def build(w: World) -> str:
        from imaging.models import Finding, ScreeningBatch, ScreeningRun
        from tests.imaging.viewer_data import store_ct_with_structure_set

        series = store_ct_with_structure_set(w.patient)
        batch = ScreeningBatch.objects.create(institution=w.institution, settings_hash="0" * 64)
        run = ScreeningRun.objects.create(
            patient=w.patient, series=series, batch=batch, input_key="s" * 64, status="done"
        )
        finding = Finding.objects.create(
            run=run,
            rank=1,
            score=0.9,
            classical_score=0.9,
            centre_voxel=[5, 10, 12],
            centre_mm=[0.0, 0.0, 0.0],
            diameter_mm=6.0,
            volume_ml=0.1,
            mean_hu=30.0,
            nodule_type="solid",
        )
        batch_id = {"batch_id": batch.public_id}
        run_id = {"run_id": run.public_id}
        finding_id = {"finding_id": finding.public_id}
        kwargs = {
            "imaging:screening-batch": batch_id,
            "api-screening-batch-detail": batch_id,
            "imaging:screening-run": run_id,
            "api-screening-run-detail": run_id,
            "imaging:screening-finding-review": finding_id,
            "api-screening-finding-review": finding_id,
            "imaging:screening-finding-malignancy": finding_id,
            "imaging:viewer-findings": {
                "public_id": w.patient.public_id,
                "series_id": series.public_id,
            },
        }[name]
        return reverse(name, kwargs=kwargs)

    return build


def _mask_change(w: World) -> str:
    from imaging.viewer_series import series_masks
    from tests.imaging.viewer_data import store_ct_with_structure_set

    first = store_ct_with_structure_set(w.patient)
    second = store_ct_with_structure_set(w.patient)
    kwargs = {
        "public_id": w.patient.public_id,
        "series_id": second.public_id,
        "mask_id": series_masks(second)[0].id,
        "other_series_id": first.public_id,
        "other_mask_id": series_masks(first)[0].id,
    }
    return reverse("imaging:viewer-mask-change", kwargs=kwargs)


def _prediction(w: World) -> str:
    # A stored prediction (tests/oncology/api/test_predictions.py exercises the real ones).
    from oncology.models import OutcomeModel, Prediction

    model = OutcomeModel.objects.create(
        name="matrix",
        version=1,
        kind="cox",
        time_unit="months",
        training_source="simulated",
        training_data_sha256="0" * 64,
        artifact_sha256="0" * 64,
    )
    prediction = Prediction.objects.create(
        patient=w.patient,
        model=model,
        inputs_sha256="0" * 64,
        output={
            "time_unit": "months",
            "horizon": 60.0,
            "target": "os",
            "options": [],
            "bands": None,
        },
    )
    return reverse(
        "api-prediction-detail",
        kwargs={"public_id": w.patient.public_id, "prediction_id": prediction.public_id},
    )


def _outcome_model(w: World) -> str:
    from oncology.models import OutcomeModel

    model = OutcomeModel.objects.create(
        name="matrix",
        version=1,
        kind="cox",
        time_unit="months",
        training_source="simulated",
        training_data_sha256="0" * 64,
        artifact_sha256="0" * 64,
    )
    return reverse("api-outcome-model-detail", kwargs={"model_id": model.public_id})


def _lesion_model_page(name: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        from imaging.models import LesionModel

        LesionModel.objects.create(
            name="matrix",
            version=1,
            kind="malignancy",
            algorithm="logistic",
            training_source="wisconsin",
            training_data_sha256="0" * 64,
            artifact_sha256="0" * 64,
        )
        return reverse(name, kwargs={"name": "matrix", "version": 1})

    return build


def _outcome_model_page(name: str) -> Callable[[World], str]:
    def build(w: World) -> str:
        from oncology.models import OutcomeModel

        OutcomeModel.objects.create(
            name="matrix",
            version=1,
            kind="cox",
            time_unit="months",
            training_source="simulated",
            training_data_sha256="0" * 64,
            artifact_sha256="0" * 64,
        )
        return reverse(name, kwargs={"name": "matrix", "version": 1})

    return build


def _board_case(w: World) -> Any:
    import datetime as dt

    from django.utils import timezone

    from oncology.models import BoardCase, Meeting

    meeting = Meeting.objects.create(
        institution=w.institution, title="Board", scheduled_for=timezone.now() + dt.timedelta(1)
    )
    return BoardCase.objects.create(meeting=meeting, patient=w.patient, question="?")


def _board(name: str) -> Callable[[World], str]:
    # Tumour board (tests/oncology/test_board_*.py): meetings are the institution's; a case
    # follows its patient; writes are POST only.
    def build(w: World) -> str:
        from oncology.models import BoardDecision

        case = _board_case(w)
        kwargs: dict[str, Any] = {}
        if name.startswith("board:meeting-") and name != "board:meeting-list":
            kwargs = {"meeting_id": case.meeting.public_id}
        elif name == "board:case-add":
            kwargs = {"meeting_id": case.meeting.public_id}
        elif name.startswith(("board:case-", "board:decision-")):
            kwargs = {"case_id": case.public_id}
        if name in {"board:decision-sign", "board:decision-amend"}:
            decision = BoardDecision.objects.create(
                case=case, version=1, chosen_option="other", plan="p", rationale="r"
            )
            kwargs["decision_id"] = decision.public_id
        if name in {"board:meeting-list", "board:meeting-create"}:
            kwargs = {}
        return reverse(name, kwargs=kwargs)

    return build


def _fixed(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name)


def _dicomweb(name: str, *levels: str) -> Callable[[World], str]:
    """A DICOMweb route (tests/imaging/test_dicomweb_qido_wado.py) naming the UIDs of a stored
    CT of the care team's patient: `levels` of "study", "series", "instance", "frames"."""

    def build(w: World) -> str:
        from tests.imaging.viewer_data import store_ct_with_structure_set

        series = store_ct_with_structure_set(w.patient)
        instance = series.instances.order_by("pk").first()
        assert instance is not None
        values = {
            "study": ("study_uid", series.study.study_instance_uid),
            "series": ("series_uid", series.series_instance_uid),
            "instance": ("instance_uid", instance.sop_instance_uid),
            "frames": ("frames", "1"),
        }
        return reverse(name, kwargs=dict(values[level] for level in levels))

    return build


PAGE_PATIENT = {"member": 200, "outsider": 404, "integration": 403, "anonymous": 302}
PAGE_ANY_PERSON = {"member": 200, "outsider": 200, "integration": 403, "anonymous": 302}
PAGE_NOT_CLINICIANS = {"member": 403, "outsider": 403, "integration": 403, "anonymous": 302}
API_PATIENT = {"member": 200, "outsider": 404, "integration": 200, "anonymous": 401}
API_ANY_CLIENT = {"member": 200, "outsider": 200, "integration": 200, "anonymous": 401}
POST_ONLY_API = {"member": 405, "outsider": 405, "integration": 405, "anonymous": 401}
PUBLIC = {"member": 200, "outsider": 200, "integration": 200, "anonymous": 200}
POST_ONLY_PAGE = {"member": 405, "outsider": 405, "integration": 403, "anonymous": 302}
API_BATCH = {"member": 403, "outsider": 403, "integration": 200, "anonymous": 401}

MATRIX = [
    Row(
        "home",
        _fixed("home"),
        {"member": 302, "outsider": 302, "integration": 302, "anonymous": 302},
    ),
    Row("healthz", _fixed("healthz"), PUBLIC),
    Row("login", _fixed("login"), PUBLIC),
    Row("logout", _fixed("logout"), {p: 405 for p in PERSONAS}),  # POST only
    Row("audit:trail", _fixed("audit:trail"), PAGE_NOT_CLINICIANS),
    Row("imports:list", _fixed("imports:list"), PAGE_NOT_CLINICIANS),
    Row(  # POST only; its role check is tested in tests/oncology/test_import_views.py
        "imports:confirm",
        _fixed("imports:confirm"),
        {"member": 405, "outsider": 405, "integration": 405, "anonymous": 302},
    ),
    Row("imports:status", _import_status, PAGE_NOT_CLINICIANS),
    Row("help:outcome-models", _fixed("help:outcome-models"), PAGE_ANY_PERSON),  # no PHI
    Row("oncology:patient-list", _fixed("oncology:patient-list"), PAGE_ANY_PERSON),
    Row("oncology:patient-create", _fixed("oncology:patient-create"), PAGE_ANY_PERSON),
    Row("oncology:tnm-options", _fixed("oncology:tnm-options"), PAGE_ANY_PERSON),
    Row("oncology:patient-detail", _patient("oncology:patient-detail"), PAGE_PATIENT),
    Row("oncology:patient-edit", _patient("oncology:patient-edit"), PAGE_PATIENT),
    Row(
        "oncology:record-create",
        lambda w: reverse(
            "oncology:record-create",
            kwargs={"public_id": w.patient.public_id, "section": "labs"},
        ),
        PAGE_PATIENT,
    ),
    Row("oncology:record-edit", _record("oncology:record-edit"), PAGE_PATIENT),
    Row("oncology:record-delete", _record("oncology:record-delete"), PAGE_PATIENT),
    Row("genomics:report-list", _patient("genomics:report-list"), PAGE_PATIENT),
    Row("genomics:report-create", _patient("genomics:report-create"), PAGE_PATIENT),
    Row("genomics:report-detail", _genomic_report("genomics:report-detail"), PAGE_PATIENT),
    Row("imaging:study-list", _patient("imaging:study-list"), PAGE_PATIENT),
    Row("imaging:ingest-upload", _patient("imaging:ingest-upload"), PAGE_PATIENT),
    Row("imaging:queue", _fixed("imaging:queue"), PAGE_NOT_CLINICIANS),
    Row("imaging:queue-resolve", _unmatched_study, PAGE_NOT_CLINICIANS),
    Row("imaging:viewer", _viewer("imaging:viewer"), PAGE_PATIENT),
    Row("imaging:viewer-meta", _viewer("imaging:viewer-meta"), PAGE_PATIENT),
    Row("imaging:viewer-preview", _viewer("imaging:viewer-preview"), PAGE_PATIENT),
    Row(
        "imaging:viewer-slice",
        _viewer("imaging:viewer-slice", axis="axial", index=0),
        PAGE_PATIENT,
    ),
    Row("imaging:viewer-mask", _viewer("imaging:viewer-mask", mask_id=""), PAGE_PATIENT),
    Row(
        "imaging:viewer-mask-slice",
        _viewer("imaging:viewer-mask-slice", mask_id="", axis="coronal", index=0),
        PAGE_PATIENT,
    ),
    # Radiomics (tests/imaging/test_app_radiomics*.py): runs follow the patient; batches are
    # for oncologists, data managers and hospital systems, each seeing only their own.
    Row("imaging:radiomics", _patient("imaging:radiomics"), PAGE_PATIENT),
    Row("imaging:radiomics-run", _radiomics_run("imaging:radiomics-run"), PAGE_PATIENT),
    Row("imaging:radiomics-run-csv", _radiomics_run("imaging:radiomics-run-csv"), PAGE_PATIENT),
    Row("imaging:radiomics-batches", _fixed("imaging:radiomics-batches"), PAGE_NOT_CLINICIANS),
    Row(
        "imaging:radiomics-batch", _radiomics_batch("imaging:radiomics-batch"), PAGE_NOT_CLINICIANS
    ),
    Row(
        "imaging:radiomics-batch-csv",
        _radiomics_batch("imaging:radiomics-batch-csv"),
        PAGE_NOT_CLINICIANS,
    ),
    Row("api-radiomics-series", _radiomics_series, API_PATIENT),
    Row("api-radiomics-run-list", _patient("api-radiomics-run-list"), API_PATIENT),
    Row("api-radiomics-run-detail", _radiomics_run("api-radiomics-run-detail"), API_PATIENT),
    Row("api-radiomics-run-csv", _radiomics_run("api-radiomics-run-csv"), API_PATIENT),
    Row("api-radiomics-batch-list", _fixed("api-radiomics-batch-list"), API_BATCH),
    Row("api-radiomics-batch-detail", _radiomics_batch("api-radiomics-batch-detail"), API_BATCH),
    Row("api-radiomics-batch-csv", _radiomics_batch("api-radiomics-batch-csv"), API_BATCH),
    # Stored masks (imaging/views_masks.py): writes are POST only; the export is a download.
    *[
        Row(f"imaging:viewer-mask-{name}", _viewer(f"imaging:viewer-mask-{name}"), POST_ONLY_PAGE)
        for name in ("import", "seed", "draw")
    ],
    Row(
        "imaging:viewer-mask-delete",
        _viewer("imaging:viewer-mask-delete", mask_id=""),
        POST_ONLY_PAGE,
    ),
    Row(
        "imaging:viewer-mask-export",
        _viewer("imaging:viewer-mask-export", mask_id="", fmt="seg"),
        PAGE_PATIENT,
    ),
    Row(
        "imaging:viewer-mask-compare-options",
        _viewer("imaging:viewer-mask-compare-options"),
        PAGE_PATIENT,
    ),
    Row("imaging:viewer-mask-change", _mask_change, PAGE_PATIENT),
    # Fused display (imaging/views_fusion.py): a CT and a moved MR of the patient; scanner
    # placement, so the member's requests are answered inline (rigid goes to a job).
    Row("imaging:viewer-fusion", _fusion("imaging:viewer-fusion"), PAGE_PATIENT),
    Row("imaging:viewer-fusion-status", _fusion("imaging:viewer-fusion-status"), PAGE_PATIENT),
    Row(
        "imaging:viewer-fusion-slice",
        _fusion("imaging:viewer-fusion-slice", axis="axial", index=0),
        PAGE_PATIENT,
    ),
    # Lung screening (tests/imaging/test_screening_*.py): the worklist and batches are any
    # person's of the institution (showing only visible patients' runs); a run follows its
    # patient; review is POST only (clinicians; hospital systems get 403 there).
    Row("imaging:screening", _fixed("imaging:screening"), PAGE_ANY_PERSON),
    Row("imaging:screening-batch", _screening("imaging:screening-batch"), PAGE_ANY_PERSON),
    Row("imaging:screening-run", _screening("imaging:screening-run"), PAGE_PATIENT),
    Row(
        "imaging:screening-finding-review",
        _screening("imaging:screening-finding-review"),
        POST_ONLY_PAGE,
    ),
    Row(
        "imaging:screening-finding-malignancy",
        _screening("imaging:screening-finding-malignancy"),
        POST_ONLY_PAGE,
    ),
    Row("imaging:viewer-findings", _screening("imaging:viewer-findings"), PAGE_PATIENT),
    Row("api-screening-batch-list", _fixed("api-screening-batch-list"), API_ANY_CLIENT),
    Row(
        "api-screening-batch-detail",
        _screening("api-screening-batch-detail"),
        API_ANY_CLIENT,
    ),
    Row("api-screening-worklist", _fixed("api-screening-worklist"), API_ANY_CLIENT),
    Row("api-screening-run-detail", _screening("api-screening-run-detail"), API_PATIENT),
    Row(
        "api-screening-finding-review",
        _screening("api-screening-finding-review"),
        POST_ONLY_API,
    ),
    Row("board:meeting-list", _board("board:meeting-list"), PAGE_ANY_PERSON),
    Row("board:meeting-create", _board("board:meeting-create"), PAGE_NOT_CLINICIANS),
    Row("board:meeting-detail", _board("board:meeting-detail"), PAGE_ANY_PERSON),
    Row("board:meeting-edit", _board("board:meeting-edit"), PAGE_NOT_CLINICIANS),
    Row("board:case-add", _board("board:case-add"), PAGE_ANY_PERSON),  # own teams' patients
    Row("board:case-detail", _board("board:case-detail"), PAGE_PATIENT),
    Row("board:case-report", _board("board:case-report"), PAGE_PATIENT),  # PDF download
    *[
        Row(f"board:{name}", _board(f"board:{name}"), POST_ONLY_PAGE)
        for name in (
            "case-move",
            "case-withdraw",
            "case-predict",
            "decision-save",
            "decision-sign",
            "decision-amend",
        )
    ],
    Row("api-me", _fixed("api-me"), API_ANY_CLIENT),
    Row("api-patient-list", _fixed("api-patient-list"), API_ANY_CLIENT),
    Row("api-patient-bulk", _fixed("api-patient-bulk"), POST_ONLY_API),
    Row("api-patient-lookup", _fixed("api-patient-lookup"), POST_ONLY_API),
    Row("api-patient-detail", _patient("api-patient-detail"), API_PATIENT),
    # Outcome predictions (tests/oncology/api/test_predictions.py): follow the patient.
    Row("api-prediction-list", _patient("api-prediction-list"), API_PATIENT),
    Row("api-prediction-detail", _prediction, API_PATIENT),
    Row("api-outcome-model-list", _fixed("api-outcome-model-list"), API_ANY_CLIENT),  # no PHI
    Row("api-outcome-model-detail", _outcome_model, API_ANY_CLIENT),
    # FHIR (tests/oncology/test_fhir_api.py): the export follows the patient; the import is
    # POST only (integration clients; a person gets 403, tested there).
    Row("api-fhir-patient-everything", _patient("api-fhir-patient-everything"), API_PATIENT),
    Row("api-fhir-import", _fixed("api-fhir-import"), POST_ONLY_API),
    # FHIR REST (tests/oncology/test_fhir_rest.py): the CapabilityStatement holds no data; a
    # read follows its patient; a search outside is an empty searchset; the identifier search
    # is POST only.
    Row("api-fhir-metadata", _fixed("api-fhir-metadata"), PUBLIC),
    Row(
        "api-fhir-read",
        lambda w: reverse(
            "api-fhir-read",
            kwargs={"resource_type": "Patient", "resource_id": str(w.patient.public_id)},
        ),
        API_PATIENT,
    ),
    Row(
        "api-fhir-search",
        lambda w: (
            reverse("api-fhir-search", kwargs={"resource_type": "Condition"})
            + f"?patient={w.patient.public_id}"
        ),
        API_ANY_CLIENT,
    ),
    Row("api-fhir-patient-search", _fixed("api-fhir-patient-search"), POST_ONLY_API),
    # Registry pages (tests/oncology/test_outcome_pages.py): no patient data, every person; the
    # closed-loop section inside is aggregates of the institution's patients; status changes
    # are POST only, for oncologists and data managers.
    Row("outcome_models:list", _fixed("outcome_models:list"), PAGE_ANY_PERSON),
    Row("outcome_models:detail", _outcome_model_page("outcome_models:detail"), PAGE_ANY_PERSON),
    Row("outcome_models:status", _outcome_model_page("outcome_models:status"), POST_ONLY_PAGE),
    # Lesion-model registry pages (tests/imaging/lesions/test_pages.py): no patient data.
    Row("lesion_models:list", _fixed("lesion_models:list"), PAGE_ANY_PERSON),
    Row("lesion_models:detail", _lesion_model_page("lesion_models:detail"), PAGE_ANY_PERSON),
    Row("lesion_models:status", _lesion_model_page("lesion_models:status"), POST_ONLY_PAGE),
    Row("api-genomic-report-list", _patient("api-genomic-report-list"), API_PATIENT),
    Row(
        "api-genomic-report-detail",
        _genomic_report("api-genomic-report-detail"),
        API_PATIENT,
    ),
    Row("api-dicom-upload", _patient("api-dicom-upload"), POST_ONLY_API),
    # DICOMweb: POST is STOW-RS (integration clients); GET is QIDO-RS search (only the
    # caller's visible patients, so 200 with an empty list outside) and WADO-RS retrieve
    # (a study outside the care team or institution is 404).
    Row("api-dicomweb-stow", _fixed("api-dicomweb-stow"), API_ANY_CLIENT),
    Row("api-dicomweb-stow-study", _dicomweb("api-dicomweb-stow-study", "study"), API_PATIENT),
    Row("api-dicomweb-series", _fixed("api-dicomweb-series"), API_ANY_CLIENT),
    Row("api-dicomweb-instances", _fixed("api-dicomweb-instances"), API_ANY_CLIENT),
    *[
        Row(name, _dicomweb(name, "study"), API_ANY_CLIENT)  # searches
        for name in ("api-dicomweb-study-series", "api-dicomweb-study-instances")
    ],
    Row(
        "api-dicomweb-series-instances",
        _dicomweb("api-dicomweb-series-instances", "study", "series"),
        API_ANY_CLIENT,
    ),
    Row(
        "api-dicomweb-study-metadata",
        _dicomweb("api-dicomweb-study-metadata", "study"),
        API_PATIENT,
    ),
    *[
        Row(name, _dicomweb(name, "study", "series"), API_PATIENT)
        for name in ("api-dicomweb-wado-series", "api-dicomweb-series-metadata")
    ],
    *[
        Row(name, _dicomweb(name, "study", "series", "instance"), API_PATIENT)
        for name in ("api-dicomweb-wado-instance", "api-dicomweb-instance-metadata")
    ],
    Row(
        "api-dicomweb-frames",
        _dicomweb("api-dicomweb-frames", "study", "series", "instance", "frames"),
        API_PATIENT,
    ),
    # Research export (tests/imaging/test_app_export.py): oncologists and data managers of
    # the care team; an export is its requester's alone.
    Row(
        "imaging:export-create",
        _patient("imaging:export-create"),
        {"member": 403, "outsider": 404, "integration": 403, "anonymous": 302},
    ),
    Row("imaging:export-list", _fixed("imaging:export-list"), PAGE_NOT_CLINICIANS),
    Row(
        "imaging:export-download",
        _research_export("imaging:export-download"),
        {"member": 404, "outsider": 404, "integration": 403, "anonymous": 302},
    ),
    Row(
        "api-research-export-list",
        _fixed("api-research-export-list"),
        {"member": 403, "outsider": 403, "integration": 403, "anonymous": 401},
    ),
    *[
        Row(name, _research_export(name), {**API_PATIENT, "member": 404, "integration": 404})
        for name in ("api-research-export-detail", "api-research-export-download")
    ],
    Row("api-schema", _fixed("api-schema"), PUBLIC),  # the contract, no data
    Row("api-docs", _fixed("api-docs"), PUBLIC),
]


def _route_names(patterns: list, namespace: str | None = None) -> set[str]:
    names: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue
            names |= _route_names(p.url_patterns, p.namespace or namespace)
        elif isinstance(p, URLPattern) and p.name:
            names.add(f"{namespace}:{p.name}" if namespace else p.name)
    return names


def test_every_route_is_in_the_matrix() -> None:
    assert _route_names(get_resolver().url_patterns) == {row.name for row in MATRIX}


def _client(persona: str, world: World, api: bool) -> Client:
    if api:
        client = APIClient()
        if persona == "integration":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.integration_token}")
        elif persona != "anonymous":
            client.force_authenticate(getattr(world, persona))
        return client
    client = Client()
    if persona != "anonymous":
        # An integration client has no password; a session forced onto it must still not
        # open the pages.
        client.force_login(getattr(world, persona))
    return client


@pytest.fixture(autouse=True)
def _imaging_files_in_tmp(settings: Any, tmp_path: Path) -> None:
    # The viewer rows store DICOM files and cache volumes: keep them out of var/.
    settings.MEDIA_ROOT = tmp_path
    settings.IMAGING_CACHE_DIR = tmp_path / "viewer-cache"


@pytest.mark.parametrize("row", MATRIX, ids=[r.name for r in MATRIX])
@pytest.mark.parametrize("persona", PERSONAS)
def test_access_matrix(row: Row, persona: str, world: World) -> None:
    url = row.url(world)
    client = _client(persona, world, api=url.startswith("/api/"))
    response = client.get(url)
    assert response.status_code == row.expected[persona], (row.name, persona, url)


def test_lists_show_a_clinician_only_the_patients_of_their_care_teams(
    world: World, outsider_client: Client
) -> None:
    page = outsider_client.get(reverse("oncology:patient-list"))
    assert world.patient.mrn.encode() not in page.content
    api = APIClient()
    api.force_authenticate(world.outsider)
    listed = api.get(reverse("api-patient-list")).json()["results"]
    assert str(world.patient.public_id) not in {p["public_id"] for p in listed}


def test_another_institutions_hospital_system_cannot_read_the_patient(world: World) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {world.foreign_integration_token}")
    assert api.get(_patient("api-patient-detail")(world)).status_code == 404
    listed = api.get(reverse("api-patient-list")).json()["results"]
    assert listed == []
