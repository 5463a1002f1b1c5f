"""Lung-nodule screening runs: batches over chest CTs, one job per series, findings to review
(docs/screening.md).

A `ScreeningRun` is one series screened with one pipeline-settings version and one ranking
(classical, or a site's active false-positive model). Its `input_key` hashes the series' instance
SHA-256s (the viewer's volume key), the canonical settings with the pipeline's version, and the
ranking model's artifact hash: the same inputs return the stored run instead of screening again.

The job (`screening_run`) assembles the series volume through the viewer's cache, calls the
pure library `imaging.screening.screen_volume`, and writes the run's findings, its summary and
its transition to "done" inside the job's transaction: a worker killed mid-run leaves no finding,
and a redelivered message finds the run done. Each finding's candidate voxels are stored as a
bit-packed npz of its bounding box (``imaging/screening/<institution id>/<uuid>.npz``, no PHI in
the name); a confirmation turns them into a stored Mask of kind "screening" through
imaging/services/masks.py, so radiomics runs on it like on any other mask.

Review is in imaging/services/screening_review.py; reads with access checks in
imaging/selectors_screening.py. Writes here audit one event per patient touched (channel and
request id come from the request or the job), never values.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from core.audit import audit_record, audit_record_many
from core.jobs import job_enqueue, job_progress, job_progress_set
from core.models import AuditAction, Job, JobStatus, User
from imaging import viewer_series
from imaging.dicom import Volume, VolumeAssemblyError
from imaging.models import Finding, LesionModel, ScreeningBatch, ScreeningRun, Series
from imaging.models_screening import NoduleType, ScreeningStatus
from oncology.models import Institution, Patient

logger = logging.getLogger(__name__)

JOB_KIND = "screening_run"
AUDIT_RUN = "screening_run"
AUDIT_BATCH = "screening_batch"
AUDIT_FINDING = "screening_finding"
STORAGE_DIR = "imaging/screening"
CLASSICAL = "classical"
CLASSICAL_NOTE = "Classical ranking (no site-trained false-positive model yet)"
# The worklist shows a run's best candidates; a run keeps at most this many findings (the
# run's candidate_count still says how many the pipeline found).
MAX_FINDINGS_PER_RUN = 100
# A chest CT is a volume: fewer slices than this is a scout or a single-slice series.
MIN_SLICES = 16

# The chest-CT rule (docs/screening.md): modality CT, at least MIN_SLICES instances, and either
# a chest word in the study or series description, or no body-part word there at all (many
# scanners send no description; a CT of another region then costs one screening that finds no
# lungs). A description naming only another region (head, abdomen, ...) is not screened.
CHEST_WORDS = re.compile(r"chest|thorax|thora[ck]|lung|pulmo|\bthx\b|\bldct\b|\bcap\b|nodul")
OTHER_REGION_WORDS = re.compile(
    r"head|brain|skull|neck|sinus|orbit|abdom|\babd\b|pelvi|liver|kidney|renal|spine|spinal|"
    r"lumbar|cervical|knee|hip|shoulder|extremit|ankle|wrist|hand|foot|femur|colon|urogra"
)


class ScreeningRequestError(ValueError):
    """A request that cannot be honoured; the message names fields and ids, never values."""


# --- the pure library ----------------------------------------------------------------------


def _pipeline() -> Any:
    """The screening library (imaging/screening/, no Django). Looked up at use so that a test
    can hand in a double and the rest of the app imports without it."""
    return importlib.import_module("imaging.screening")


def _settings_dict(settings: Any) -> dict[str, Any]:
    if settings is None:
        return {}
    if hasattr(settings, "as_dict"):
        return dict(settings.as_dict())
    if is_dataclass(settings) and not isinstance(settings, type):
        return asdict(settings)
    return dict(settings)


def _json_safe(value: Any) -> Any:
    """JSON-storable: numpy scalars and arrays as Python values, tuples as lists, non-finite
    floats as None (PostgreSQL's jsonb refuses NaN and Infinity)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return number if np.isfinite(number) else None
    return value


def pipeline_version() -> str:
    return str(getattr(_pipeline(), "PIPELINE_VERSION", "1"))


def settings_canonical() -> tuple[dict[str, Any], str]:
    """(the pipeline's default settings as stored, SHA-256 of them with the pipeline version)."""
    module = _pipeline()
    settings_type = getattr(module, "ScreeningSettings", None)
    data = _json_safe(_settings_dict(settings_type() if settings_type is not None else None))
    text = json.dumps({"settings": data, "version": pipeline_version()}, sort_keys=True)
    return data, hashlib.sha256(text.encode()).hexdigest()


def _settings_object(data: dict[str, Any]) -> Any:
    settings_type = getattr(_pipeline(), "ScreeningSettings", None)
    if settings_type is None:
        return dict(data)
    names = set(getattr(settings_type, "__dataclass_fields__", {})) or set(data)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
    return settings_type(**kwargs)


# --- ranking -------------------------------------------------------------------------------


def active_fp_model(institution: Institution) -> LesionModel | None:
    """The site's active nodule false-positive model (imaging.services.lesion_models), or None:
    the classical ranking is used until a site has trained one."""
    from imaging.services import lesion_models  # imported at use: it imports torch

    return lesion_models.active_fp_model(institution)


def _ranking_of(model: LesionModel | None) -> tuple[str, dict[str, Any] | None]:
    if model is None:
        return CLASSICAL, None
    return f"{model.name} v{model.version}", {
        "public_id": str(model.public_id),
        "name": model.name,
        "version": model.version,
        "artifact_sha256": model.artifact_sha256,
    }


def ranking_note(run: ScreeningRun) -> str:
    """What a reader is told about the ranking of `run`'s findings."""
    if run.ranking == CLASSICAL:
        return CLASSICAL_NOTE
    return f"Ranked by the site's false-positive model {run.ranking}"


# --- which series ----------------------------------------------------------------------------


def is_chest_ct(series: Series) -> bool:
    """The chest-CT rule (see CHEST_WORDS): `series.study` must be loaded or loadable."""
    if series.modality != "CT" or series.instance_count < MIN_SLICES:
        return False
    text = f"{series.study.description} {series.description}".lower()
    if CHEST_WORDS.search(text):
        return True
    return not OTHER_REGION_WORDS.search(text)


def screening_input_key(*, volume_key: str, settings_hash: str, ranking_key: str) -> str:
    parts = ("screening", volume_key, settings_hash, ranking_key)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def chest_ct_series(*, patients: QuerySet[Patient]) -> tuple[list[Series], int]:
    """(every chest CT series (is_chest_ct) of `patients`, oldest study first; the number of
    their other CT volumes, which the rule leaves out)."""
    candidates = list(
        Series.objects.filter(study__patient__in=patients.values("pk"), modality="CT")
        .filter(instance_count__gte=MIN_SLICES)
        .select_related("study__patient__institution")
        .order_by("study__study_date", "study_id", "series_number", "pk")
    )
    chosen = [s for s in candidates if is_chest_ct(s)]
    return chosen, len(candidates) - len(chosen)


# --- status --------------------------------------------------------------------------------


def run_state(run: ScreeningRun) -> str:
    """queued, running, done or failed: the run's own status once written by its job, else its
    job's (a job that failed on its last attempt rolled its writes back, the run's included)."""
    if run.status in (ScreeningStatus.DONE, ScreeningStatus.FAILED):
        return str(run.status)
    job = run.job
    if job is None or job.status == JobStatus.FAILED:
        return "failed"
    return "running" if job.status == JobStatus.RUNNING else "queued"


def run_error(run: ScreeningRun) -> str:
    if run.error:
        return run.error
    if run.job is not None and run.job.status == JobStatus.FAILED:
        return run.job.error
    return ""


def run_progress(run: ScreeningRun) -> dict[str, Any] | None:
    if run.job is None or run.job.status != JobStatus.RUNNING:
        return None
    return job_progress(run.job)


def batch_counts(batches: Iterable[ScreeningBatch]) -> dict[int, dict[str, int]]:
    """Runs per state of each batch (queued, running, done, failed, total), in one query."""
    batches = list(batches)
    states = ("queued", "running", "done", "failed", "total")
    out = {b.pk: dict.fromkeys(states, 0) for b in batches}
    rows = ScreeningRun.objects.filter(batch_id__in=list(out)).select_related("job")
    for run in rows.only("batch_id", "status", "job__status"):
        counts = out[run.batch_id]  # type: ignore[index]
        counts[run_state(run)] += 1
        counts["total"] += 1
    return out


# --- requests ------------------------------------------------------------------------------


@dataclass
class BatchResult:
    batch: ScreeningBatch
    queued: list[ScreeningRun] = field(default_factory=list)  # new runs and failed ones again
    already: list[ScreeningRun] = field(default_factory=list)  # screened with these inputs
    not_chest: int = 0  # chosen series the chest-CT rule left out


def _enqueue(run: ScreeningRun, actor: User | None, suffix: str = "") -> Job:
    return job_enqueue(
        kind=JOB_KIND,
        payload={"run_id": run.pk},
        idempotency_key=f"{JOB_KIND}:{run.input_key}{suffix}",
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def _run_for(
    *,
    series: Series,
    settings_data: dict[str, Any],
    settings_hash: str,
    ranking: str,
    ranking_model: dict[str, Any] | None,
    batch: ScreeningBatch,
    actor: User | None,
) -> tuple[ScreeningRun, bool]:
    """(the run for these inputs, whether this call queued it: new, or failed before)."""
    key = screening_input_key(
        volume_key=viewer_series.volume_key(series),
        settings_hash=settings_hash,
        ranking_key=ranking_model["artifact_sha256"] if ranking_model else CLASSICAL,
    )
    existing = ScreeningRun.objects.select_related("job").filter(input_key=key).first()
    creator = actor if getattr(actor, "pk", None) else None
    if existing is None:
        try:
            with transaction.atomic():  # a concurrent identical request wins the unique key
                run = ScreeningRun.objects.create(
                    patient=series.study.patient,
                    series=series,
                    batch=batch,
                    input_key=key,
                    settings={
                        "pipeline": settings_data,
                        "settings_hash": settings_hash,
                        "pipeline_version": pipeline_version(),
                        "ranking_model": ranking_model,
                    },
                    ranking=ranking,
                    created_by=creator,
                )
        except IntegrityError:
            existing = ScreeningRun.objects.select_related("job").get(input_key=key)
        else:
            run.job = _enqueue(run, actor)
            run.save(update_fields=["job"])
            return run, True
    if run_state(existing) == "failed":
        # Screening again is what a new batch over a failed series asks for.
        existing.status = ScreeningStatus.QUEUED
        existing.error = ""
        existing.batch = batch
        existing.job = _enqueue(existing, actor, suffix=f":retry:{uuid.uuid4().hex[:12]}")
        existing.save(update_fields=["status", "error", "batch", "job"])
        return existing, True
    return existing, False


def screening_batch_create(
    *,
    actor: User | None,
    institution: Institution,
    patients: QuerySet[Patient],
    series_public_ids: Sequence[uuid.UUID | str] | None = None,
) -> BatchResult:
    """Screen the chest CTs of `patients` (already limited to those `actor` may see; all of the
    institution's for the system): every one not yet screened with the current settings and
    ranking, or only the listed series (which must be those patients' CTs).

    One run per series, each with its own job (sent when the caller's transaction commits), so
    the batch fans out over the workers. A series already screened with the same inputs is
    reported, not screened again; a failed one is queued again. Audit: one CREATE event for the
    batch (count of runs queued) and one per patient whose runs were queued.
    ScreeningRequestError for a listed series that is not such a CT.
    """
    settings_data, settings_hash = settings_canonical()
    ranking, ranking_model = _ranking_of(active_fp_model(institution))
    patients = patients.filter(institution=institution)
    if series_public_ids is not None:
        wanted = {str(s) for s in series_public_ids}
        chosen = list(
            Series.objects.filter(public_id__in=wanted, study__patient__in=patients.values("pk"))
            .select_related("study__patient__institution")
            .order_by("study__study_date", "study_id", "series_number", "pk")
        )
        if len(chosen) != len(wanted):
            raise ScreeningRequestError("A listed series is not a visible series.")
        not_ct = [s for s in chosen if s.modality != "CT" or s.instance_count < MIN_SLICES]
        if not_ct:
            raise ScreeningRequestError(
                f"Series {not_ct[0].public_id} is not a CT volume of at least {MIN_SLICES} slices."
            )
        series_list, not_chest = chosen, 0
    else:
        series_list, not_chest = chest_ct_series(patients=patients)
    batch = ScreeningBatch.objects.create(
        institution=institution,
        settings=settings_data,
        settings_hash=settings_hash,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    result = BatchResult(batch=batch, not_chest=not_chest)
    queued_per_patient: dict[int, int] = {}
    for series in series_list:
        run, queued = _run_for(
            series=series,
            settings_data=settings_data,
            settings_hash=settings_hash,
            ranking=ranking,
            ranking_model=ranking_model,
            batch=batch,
            actor=actor,
        )
        if queued:
            result.queued.append(run)
            queued_per_patient[run.patient_id] = queued_per_patient.get(run.patient_id, 0) + 1
        else:
            result.already.append(run)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type=AUDIT_BATCH,
        object_id=batch.public_id,
        institution_id=institution.pk,
        detail={"count": len(result.queued)},
    )
    audit_record_many(
        actor=actor,
        events=[
            {
                "action": AuditAction.CREATE,
                "object_type": AUDIT_RUN,
                "object_id": batch.public_id,
                "patient_id": patient_id,
                "institution_id": institution.pk,
                "detail": {"count": count},
            }
            for patient_id, count in sorted(queued_per_patient.items())
        ],
    )
    return result


# --- the job's work ------------------------------------------------------------------------


def _candidate_file(voxels: np.ndarray, offset: Sequence[int], grid: Sequence[int]) -> bytes:
    """A candidate's voxels: its bounding box bit-packed, with the box's offset and the series
    grid's shape, in a compressed npz (read back by `finding_voxels`)."""
    box = np.asarray(voxels, dtype=bool)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        bits=np.packbits(box, axis=None),
        shape=np.array(box.shape, dtype=np.int64),
        offset=np.array(offset, dtype=np.int64),
        grid=np.array(grid, dtype=np.int64),
    )
    return buffer.getvalue()


def finding_voxels(finding: Finding) -> np.ndarray:
    """A finding's candidate voxels on the whole series grid (bool)."""
    with default_storage.open(finding.storage_name, "rb") as handle:
        data = handle.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        shape = tuple(int(v) for v in archive["shape"])
        offset = tuple(int(v) for v in archive["offset"])
        grid = tuple(int(v) for v in archive["grid"])
        count = int(np.prod(shape))
        box = np.unpackbits(archive["bits"], count=count).astype(bool).reshape(shape)
    voxels = np.zeros(grid, dtype=bool)
    voxels[tuple(slice(o, o + n) for o, n in zip(offset, shape, strict=True))] = box
    return voxels


def _nodule_type(value: Any) -> str:
    text = str(getattr(value, "value", value)).lower().replace("-", "_")
    return text if text in NoduleType.values else NoduleType.SOLID


def _lungs_summary(lungs: Any, volume: Volume) -> dict[str, Any]:
    summary = lungs.summary() if hasattr(lungs, "summary") else None
    if summary is None:
        summary = {
            "volumes_ml": dict(getattr(lungs, "volumes_ml", {}) or {}),
            "warnings": list(getattr(lungs, "warnings", []) or []),
        }
    return _json_safe({**dict(summary), "volume_warnings": list(volume.warnings)})


def _fail_run(run: ScreeningRun, message: str) -> dict[str, Any]:
    """A run whose inputs cannot be screened (no retry would help): failed, with the reason."""
    run.status = ScreeningStatus.FAILED
    run.error = message[:2000]
    run.completed_at = timezone.now()
    run.save(update_fields=["status", "error", "completed_at"])
    audit_record(
        actor=run.created_by,
        action=AuditAction.UPDATE,
        object_type=AUDIT_RUN,
        object_id=run.public_id,
        patient_id=run.patient_id,
        institution_id=run.patient.institution_id,
        detail={"result": "failed"},
    )
    return {"status": "failed", "error": run.error}


def _fp_probabilities(run: ScreeningRun, volume: Volume, centres: list[Any]) -> list[float]:
    """The ranking model's nodule probability per candidate centre; [] for the classical
    ranking. LesionModelError (a changed artifact, patches that cannot be cut) propagates."""
    spec = run.settings.get("ranking_model")
    if not spec or not centres:
        return []
    from imaging.services import lesion_models

    model = LesionModel.objects.get(public_id=spec["public_id"])
    if model.artifact_sha256 != spec["artifact_sha256"]:
        raise lesion_models.LesionModelError(
            f"ranking model {model.public_id} changed since the request"
        )
    return [float(p) for p in lesion_models.fp_model_probabilities(model, volume, centres)]


def screening_run_compute(*, run: ScreeningRun, job: Job) -> dict[str, Any]:
    """Screen the run's series and store its findings (inside the job's transaction, so a killed
    worker leaves nothing written). Publishes progress per stage. A series that cannot be
    assembled or that changed since the request fails the run (stored, no retry); anything else
    raises and the job is retried."""
    started = time.perf_counter()
    series = run.series
    job_progress_set(job, stage="volume", done=0, total=3)
    try:
        volume = viewer_series.series_volume(series)
    except VolumeAssemblyError as exc:
        return _fail_run(run, f"series {series.public_id} cannot be assembled: {exc}")
    volume_key = viewer_series.volume_key(series)
    settings = run.settings
    expected = screening_input_key(
        volume_key=volume_key,
        settings_hash=str(settings.get("settings_hash", "")),
        ranking_key=(settings.get("ranking_model") or {}).get("artifact_sha256", CLASSICAL),
    )
    if expected != run.input_key:
        return _fail_run(run, "the series' instances changed since the request: screen it again")
    job_progress_set(job, stage="screening", done=1, total=3)
    pipeline = _pipeline()
    try:
        result = pipeline.screen_volume(volume, _settings_object(settings.get("pipeline", {})))
    except ValueError as exc:
        # The library refuses inputs it cannot screen (no lungs in the field, not a 3D CT):
        # its message names the problem, never a value; no retry would help.
        return _fail_run(run, f"this series cannot be screened: {exc}")
    candidates = list(result.candidates)
    classical = [float(c.score) for c in candidates]
    from imaging.services.lesion_models import LesionModelError

    try:
        probabilities = _fp_probabilities(run, volume, [c.centre_voxel for c in candidates])
    except LesionModelError as exc:
        return _fail_run(run, f"the ranking model cannot score this series: {exc}")
    scores = probabilities or classical
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], -classical[i], i))
    job_progress_set(job, stage="saving", done=2, total=3)
    written: list[str] = []
    # A run screened again (it failed before) starts from no findings; their files go once
    # this transaction commits.
    for stale in run.findings.all():  # their files go after commit (_finding_deleted)
        stale.delete()
    try:
        findings = []
        for rank, i in enumerate(order[:MAX_FINDINGS_PER_RUN], start=1):
            c = candidates[i]
            name = default_storage.save(
                f"{STORAGE_DIR}/{run.patient.institution_id}/{uuid.uuid4().hex}.npz",
                ContentFile(_candidate_file(c.mask, c.mask_offset, volume.shape)),
            )
            written.append(name)
            box = np.asarray(c.mask).shape
            start = [int(v) for v in c.mask_offset]
            findings.append(
                Finding(
                    run=run,
                    rank=rank,
                    score=scores[i],
                    classical_score=classical[i],
                    model_probability=probabilities[i] if probabilities else None,
                    centre_voxel=[int(round(float(v))) for v in c.centre_voxel],
                    centre_mm=_json_safe(list(pipeline.candidate_centre_mm(volume, c))),
                    diameter_mm=float(c.diameter_mm),
                    volume_ml=float(c.volume_ml),
                    mean_hu=float(c.mean_hu),
                    nodule_type=_nodule_type(c.nodule_type),
                    sphericity=_json_safe(getattr(c, "sphericity", None)),
                    pleura_distance_mm=_json_safe(getattr(c, "pleura_distance_mm", None)),
                    features=_json_safe(
                        {
                            **dict(getattr(c, "features", {}) or {}),
                            "bbox_start": start,
                            "bbox_stop": [s + int(n) for s, n in zip(start, box, strict=True)],
                        }
                    ),
                    storage_name=name,
                )
            )
        Finding.objects.bulk_create(findings)
        run.status = ScreeningStatus.DONE
        run.error = ""
        run.lungs = _lungs_summary(result.lungs, volume)
        run.candidate_count = len(candidates)
        run.max_score = max(scores) if scores else None
        run.duration_seconds = round(time.perf_counter() - started, 3)
        run.completed_at = timezone.now()
        run.settings = {**settings, "volume_key": volume_key, "job": str(job.public_id)}
        run.save()
        audit_record(
            actor=run.created_by,
            action=AuditAction.UPDATE,
            object_type=AUDIT_RUN,
            object_id=run.public_id,
            patient_id=run.patient_id,
            institution_id=run.patient.institution_id,
            detail={"count": len(findings)},
        )
    except BaseException:
        # The job's transaction rolls the rows back; the files go with them.
        for name in written:
            default_storage.delete(name)
        raise
    job_progress_set(job, stage="done", done=3, total=3)
    return {"status": "done", "findings": len(findings), "candidates": len(candidates)}


def worklist_order() -> list[Any]:
    """Highest candidate score first; runs not yet screened (no score) last, newest first."""
    return [F("max_score").desc(nulls_last=True), "-created_at", "-pk"]


def runs_of_batches(batches: Iterable[ScreeningBatch]) -> Q:
    return Q(batch__in=list(batches))


def pending_counts(runs: Iterable[ScreeningRun]) -> dict[int, int]:
    """Findings awaiting review per run (run pk -> count), in one query."""
    from django.db.models import Count

    ids = [r.pk for r in runs]
    rows = (
        Finding.objects.filter(run_id__in=ids, status="pending")
        .values("run_id")
        .annotate(n=Count("id"))
    )
    counts = dict.fromkeys(ids, 0)
    for row in rows:
        counts[row["run_id"]] = row["n"]
    return counts


def institution_ranking(institution: Institution | None) -> dict[str, str]:
    """What the worklist says about the ranking a new batch of `institution` would use."""
    model = active_fp_model(institution) if institution is not None else None
    ranking, _ = _ranking_of(model)
    if model is None:
        return {"ranking": ranking, "note": CLASSICAL_NOTE}
    return {"ranking": ranking, "note": f"Ranked by the site's false-positive model {ranking}"}


@receiver(post_delete, sender=Finding, dispatch_uid="screening_finding_file")
def _finding_deleted(sender: type[Finding], instance: Finding, **kwargs: Any) -> None:
    """A finding's voxel file goes when its row does (a run or a patient deleted), once the
    transaction commits, so a rollback never leaves a row without its file."""
    if instance.storage_name:
        name = instance.storage_name
        transaction.on_commit(lambda: default_storage.delete(name))
