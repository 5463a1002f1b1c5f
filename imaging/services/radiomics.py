"""Radiomics runs: one per (series, mask, settings), computed by a job, reused when the inputs
are the same (docs/radiomics-jobs.md).

`input_key` hashes what decides the features: the series' instance SHA-256s (the viewer's
volume key), the mask source's content (the RTSTRUCT/SEG instance's SHA-256 and the ROI name,
or a stored mask's voxel SHA-256), the canonical settings and the engine version. A request
with a known key returns the stored run instead of computing again; a failed run is computed
again only when asked to (`retry=True`).

Writes here audit one event per access (channel and request id come from the request or the
job); reads with access checks are in imaging/selectors_radiomics.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record, audit_record_many
from core.jobs import JobError, job_enqueue, job_progress, job_progress_set
from core.models import AuditAction, Job, JobStatus, User
from imaging import viewer_series
from imaging.dicom import MaskError, VolumeAssemblyError
from imaging.models import Mask, RadiomicsBatch, RadiomicsRun, Series
from imaging.radiomics import ENGINE_VERSION, FAMILIES, PRESETS, RadiomicsSettings
from imaging.radiomics.context import prepare
from imaging.radiomics.image import Image
from imaging.radiomics.pipeline import compute_families
from imaging.radiomics.provenance import provenance
from oncology.models import Institution, Patient

logger = logging.getLogger(__name__)

JOB_KIND = "radiomics_run"
AUDIT_RUN = "radiomics_run"
AUDIT_BATCH = "radiomics_batch"
DEFAULT_PRESETS = {"CT": "ct-default", "MR": "mr-default", "PT": "pet-default"}
# Presets offered to people: the IBSI phantom preset only makes sense on the digital phantom.
REQUESTABLE_PRESETS = tuple(name for name in PRESETS if name != "ibsi-phantom")


class RadiomicsRequestError(ValueError):
    """A request that cannot be honoured; `field` names the input at fault. The message names
    fields and ids, never patient values."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- settings ------------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as strings ("inf", "-inf", "nan"): PostgreSQL's jsonb
    refuses JSON's Infinity/NaN extensions, and pet-default's range is open-ended."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def settings_canonical(settings: RadiomicsSettings) -> tuple[dict[str, Any], str]:
    """(settings as stored, SHA-256 of their canonical JSON)."""
    data = json_safe(settings.as_dict())
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return data, hashlib.sha256(text.encode()).hexdigest()


def preset_settings(name: str) -> RadiomicsSettings:
    if name not in REQUESTABLE_PRESETS:
        raise RadiomicsRequestError(
            "preset", f"Unknown preset; choose one of {', '.join(REQUESTABLE_PRESETS)}."
        )
    return PRESETS[name]


# --- mask sources --------------------------------------------------------------------------


@dataclass(frozen=True)
class RadiomicsMask:
    """A mask that features can be computed on: an ROI of an RTSTRUCT/SEG referencing the
    series, or a stored mask (imported NIfTI, drawn, grown from a seed)."""

    id: str  # the viewer's opaque mask id, or a stored mask's public id (hex)
    label: str
    kind: str  # rtstruct, seg, nifti, drawn, seed
    content_id: str  # what the voxels derive from (hashed into input_key)
    sha256: str  # the source object's SHA-256 (instance file or stored voxels)
    load: Callable[[str, Any], np.ndarray]  # (volume key, volume) -> boolean array


def _radiomics_mask(source: viewer_series.MaskSource) -> RadiomicsMask:
    def load(volume_key: str, volume: Any) -> np.ndarray:
        return viewer_series.source_mask(volume_key, volume, source)

    # A stored mask (imaging/services/masks.py) rides along the viewer's sources with its row.
    stored: Mask | None = getattr(source, "stored", None)
    if stored is not None:
        return RadiomicsMask(
            id=source.id,
            label=source.label,
            kind=str(stored.kind),
            content_id=f"stored\0{stored.volume_key}\0{stored.sha256}",
            sha256=stored.sha256,
            load=load,
        )
    instance = source.instance
    if instance is None:  # pragma: no cover - a DICOM source always has its instance
        raise RadiomicsRequestError("mask_id", "This mask has no source object.")
    return RadiomicsMask(
        id=source.id,
        label=source.label,
        kind=source.modality.lower(),
        content_id=f"{instance.sha256}\0{source.roi}",
        sha256=instance.sha256,
        load=load,
    )


def series_radiomics_masks(series: Series) -> list[RadiomicsMask]:
    """Every mask of `series` radiomics can use: the viewer's list (DICOM structure sets and
    segmentations, then stored masks: imported NIfTI, drawn, grown from a seed)."""
    if not series.is_viewable:
        return []
    return [_radiomics_mask(s) for s in viewer_series.series_masks(series)]


def series_mask_get(series: Series, mask_id: str) -> RadiomicsMask:
    for mask in series_radiomics_masks(series):
        if mask.id == mask_id:
            return mask
    raise RadiomicsRequestError("mask_id", "No such mask on this series.")


def radiomics_input_key(*, volume_key: str, mask: RadiomicsMask, settings_hash: str) -> str:
    parts = ("radiomics", volume_key, mask.content_id, settings_hash, ENGINE_VERSION)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# --- status --------------------------------------------------------------------------------


def run_status(run: RadiomicsRun) -> str:
    """queued, running, succeeded or failed (from the run's job; a finished run is succeeded
    even if its job row was since removed)."""
    if run.completed_at is not None:
        return "succeeded"
    job = run.job
    if job is None:
        return "failed"
    return str(job.status)


def run_progress(run: RadiomicsRun) -> dict[str, Any] | None:
    """The running job's last published progress (stage, done, total), else None."""
    if run.job is None or run.job.status != JobStatus.RUNNING:
        return None
    return job_progress(run.job)


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    run: RadiomicsRun
    created: bool  # a new run (a job was enqueued)
    retried: bool = False  # a failed run was enqueued again


def _enqueue(run: RadiomicsRun, actor: User | None, suffix: str = "") -> Job:
    return job_enqueue(
        kind=JOB_KIND,
        payload={"run_id": run.pk},
        idempotency_key=f"{JOB_KIND}:{run.input_key}{suffix}",
        created_by=actor,
    )


def _run_request(
    *,
    actor: User | None,
    patient: Patient,
    series: Series,
    mask: RadiomicsMask,
    preset: str,
    settings: RadiomicsSettings,
    batch: RadiomicsBatch | None,
    retry: bool,
) -> RunRequest:
    settings_data, settings_hash = settings_canonical(settings)
    key = radiomics_input_key(
        volume_key=viewer_series.volume_key(series), mask=mask, settings_hash=settings_hash
    )
    existing = RadiomicsRun.objects.select_related("job").filter(input_key=key).first()
    if existing is None:
        try:
            with transaction.atomic():  # a concurrent identical request wins the unique key
                run = RadiomicsRun.objects.create(
                    patient=patient,
                    series=series,
                    mask_id=mask.id,
                    mask_label=mask.label,
                    mask_sha256=mask.sha256,
                    preset=preset,
                    settings=settings_data,
                    settings_hash=settings_hash,
                    input_key=key,
                    batch=batch,
                    created_by=actor,
                )
        except IntegrityError:
            existing = RadiomicsRun.objects.select_related("job").get(input_key=key)
        else:
            run.job = _enqueue(run, actor)
            run.save(update_fields=["job"])
            return RunRequest(run, created=True)
    if batch is not None and existing.batch_id is None:
        existing.batch = batch
        existing.save(update_fields=["batch"])
    if retry and run_status(existing) == "failed":
        existing.job = _enqueue(existing, actor, suffix=f":retry:{uuid.uuid4().hex[:12]}")
        existing.save(update_fields=["job"])
        return RunRequest(existing, created=False, retried=True)
    return RunRequest(existing, created=False)


def radiomics_run_request(
    *,
    actor: User,
    patient: Patient,
    series: Series,
    mask_id: str,
    preset: str,
    retry: bool = False,
) -> RunRequest:
    """The run for (series, mask, preset): the stored one when these inputs were seen before,
    else a new run whose job is sent when the caller's transaction commits. The caller has
    checked that `actor` may write to `patient` and that `series` is the patient's; one audit
    event (CREATE for a new or retried run, VIEW for a returned one).

    RadiomicsRequestError (nothing written) for an unknown preset or mask, or a series that is
    not an image series.
    """
    settings = preset_settings(preset)
    if not series.is_viewable:
        raise RadiomicsRequestError("series", "Not an image series.")
    mask = series_mask_get(series, mask_id)
    result = _run_request(
        actor=actor,
        patient=patient,
        series=series,
        mask=mask,
        preset=preset,
        settings=settings,
        batch=None,
        retry=retry,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if result.created or result.retried else AuditAction.VIEW,
        object_type=AUDIT_RUN,
        object_id=result.run.public_id,
        patient_id=patient.pk,
        institution_id=patient.institution_id,
    )
    return result


def radiomics_runs_for_new_masks(
    *, series: Series, actor: User | None = None, preset: str | None = None
) -> list[RunRequest]:
    """Ingest hook: a run with the modality's default preset for every mask of `series` (an
    image series; call it for the image series an arriving RTSTRUCT/SEG references). Masks
    already computed with those settings are returned, not recomputed. Writes one CREATE event
    per new run (channel and request from the caller's context)."""
    name = preset or DEFAULT_PRESETS.get(series.modality)
    if name is None or not series.is_viewable:
        return []
    settings = preset_settings(name)
    patient = series.study.patient
    results = [
        _run_request(
            actor=actor,
            patient=patient,
            series=series,
            mask=mask,
            preset=name,
            settings=settings,
            batch=None,
            retry=False,
        )
        for mask in series_radiomics_masks(series)
    ]
    audit_record_many(
        actor=actor,
        events=[
            {
                "action": AuditAction.CREATE,
                "object_type": AUDIT_RUN,
                "object_id": r.run.public_id,
                "patient_id": patient.pk,
                "institution_id": patient.institution_id,
            }
            for r in results
            if r.created
        ],
    )
    return results


def radiomics_on_new_masks_enabled() -> bool:
    """settings.RADIOMICS_ON_NEW_MASKS: queue default-preset runs when a mask arrives at ingest
    (RTSTRUCT/SEG) or is saved in the viewer (imported, grown from a seed, drawn)."""
    return bool(settings.RADIOMICS_ON_NEW_MASKS)


def radiomics_after_mask_change(*, series: Series, actor: User | None) -> None:
    """Hook for a mask stored or edited on `series`: default-preset runs for its masks, in a
    savepoint of the caller's transaction (the jobs are sent when it commits). A failure to
    queue is logged (no patient data) and never undoes the mask itself."""
    if not radiomics_on_new_masks_enabled():
        return
    try:
        with transaction.atomic():
            radiomics_runs_for_new_masks(series=series, actor=actor)
    except Exception:
        logger.exception("radiomics runs for a new mask of series %s not queued", series.pk)


def radiomics_after_ingest(*, series_ids: Iterable[int], actor: User | None) -> None:
    """Hook for the end of an ingest batch: `series_ids` got instances; those that are RTSTRUCT
    or SEG series get default-preset runs for the image series of their study. Each series in
    its own savepoint (or transaction, outside one); a failure is logged, never fatal."""
    if not radiomics_on_new_masks_enabled():
        return
    mask_series = Series.objects.filter(
        pk__in=list(series_ids), modality__in=viewer_series.MASK_MODALITIES
    ).select_related("study__patient")
    for series in mask_series:
        try:
            with transaction.atomic():
                radiomics_runs_for_arrived_mask_series(series=series, actor=actor)
        except Exception:
            logger.exception("radiomics runs for arrived mask series %s not queued", series.pk)


def radiomics_runs_for_arrived_mask_series(
    *, series: Series, actor: User | None = None
) -> list[RunRequest]:
    """Ingest hook for a stored RTSTRUCT or SEG series: default-preset runs for every image
    series of its study, for the masks that reference each (see radiomics_runs_for_new_masks).
    Call it in the ingest transaction once the series' instances are indexed; the jobs are sent
    when that transaction commits. Anything but RTSTRUCT/SEG: nothing."""
    if series.modality not in viewer_series.MASK_MODALITIES:
        return []
    results: list[RunRequest] = []
    image_series = Series.objects.filter(study_id=series.study_id).select_related("study__patient")
    for image in image_series.order_by("series_number", "pk"):
        if image.is_viewable:
            results.extend(radiomics_runs_for_new_masks(series=image, actor=actor))
    return results


# --- batches -------------------------------------------------------------------------------


PLAN_JOB_KIND = "radiomics_batch_plan"


def _plan_key(batch: RadiomicsBatch) -> str:
    return f"{PLAN_JOB_KIND}:{batch.public_id}"


def radiomics_batch_create(
    *,
    actor: User,
    institution: Institution,
    patients: Iterable[Patient],
    preset: str,
    modality: str = "",
    mask_label: str = "",
) -> RadiomicsBatch:
    """A cohort extraction over `patients` (already filtered to those `actor` may see).

    Listing a cohort's masks reads every structure set's header from storage (seconds to
    minutes for a large cohort), so the request only stores the batch and queues a planning job
    (`radiomics_batch_plan`); that job makes one run per (image series, mask), each with its
    own job, so that the runs fan out over the workers. Optional filters: the series' modality,
    a case-insensitive part of the mask label. One CREATE event for the request (the number of
    patients; the plan writes one event per patient). RadiomicsRequestError for a bad preset.
    """
    settings = preset_settings(preset)
    settings_data, settings_hash = settings_canonical(settings)
    patient_ids = [p.pk for p in patients]
    batch = RadiomicsBatch.objects.create(
        institution=institution,
        preset=preset,
        settings=settings_data,
        settings_hash=settings_hash,
        created_by=actor,
    )
    job_enqueue(
        kind=PLAN_JOB_KIND,
        payload={
            "batch_id": batch.pk,
            "patient_ids": patient_ids,
            "modality": modality.strip().upper(),
            "mask_label": mask_label.strip(),
        },
        idempotency_key=_plan_key(batch),
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type=AUDIT_BATCH,
        object_id=batch.public_id,
        institution_id=institution.pk,
        detail={"count": len(patient_ids)},
    )
    return batch


def radiomics_batch_plan(*, batch: RadiomicsBatch, job: Job) -> dict[str, Any]:
    """The planning job's work: one run per (image series, mask) of the batch's patients that
    its creator may still see, reusing runs computed before (a reused run without a batch joins
    this one). One event per patient touched: CREATE when runs were queued for them, else VIEW
    (detail: count). Progress: patients done of total."""
    from oncology.selectors import patient_visible_queryset

    payload = job.payload
    creator = batch.created_by
    if creator is None:
        raise JobError(f"batch {batch.public_id} has no creator left to check access for")
    settings = preset_settings(batch.preset)
    if settings_canonical(settings)[1] != batch.settings_hash:
        raise JobError(f"batch {batch.public_id}: preset {batch.preset} changed since the request")
    patients = list(
        patient_visible_queryset(user=creator)
        .filter(pk__in=payload["patient_ids"], institution_id=batch.institution_id)
        .order_by("pk")
    )
    label_part = str(payload.get("mask_label", "")).lower()
    modality = str(payload.get("modality", ""))
    total, new = 0, 0
    run_ids: list[int] = []
    events = []
    for done, patient in enumerate(patients):
        job_progress_set(job, stage="planning", done=done, total=len(patients))
        series_qs = Series.objects.filter(study__patient=patient).select_related("study")
        if modality:
            series_qs = series_qs.filter(modality=modality)
        patient_runs = []
        for series in series_qs.order_by("study_id", "series_number", "pk"):
            for mask in series_radiomics_masks(series):
                if label_part and label_part not in mask.label.lower():
                    continue
                patient_runs.append(
                    _run_request(
                        actor=creator,
                        patient=patient,
                        series=series,
                        mask=mask,
                        preset=batch.preset,
                        settings=settings,
                        batch=batch,
                        retry=False,
                    )
                )
        if patient_runs:
            created = sum(r.created for r in patient_runs)
            events.append(
                {
                    "action": AuditAction.CREATE if created else AuditAction.VIEW,
                    "object_type": AUDIT_BATCH,
                    "object_id": batch.public_id,
                    "patient_id": patient.pk,
                    "institution_id": patient.institution_id,
                    "detail": {"count": len(patient_runs)},
                }
            )
            total += len(patient_runs)
            new += created
            run_ids.extend(r.run.pk for r in patient_runs)
    audit_record_many(actor=creator, events=events)
    # The batch's members: its own runs and the runs it reused, even those that an earlier
    # batch owns (RadiomicsRun.batch holds one batch only).
    return {"patients": len(patients), "runs": total, "queued": new, "run_ids": run_ids}


def _plan_jobs(batches: list[RadiomicsBatch]) -> dict[int, Job | None]:
    jobs = {
        j.idempotency_key: j
        for j in Job.objects.filter(idempotency_key__in=[_plan_key(b) for b in batches])
    }
    return {b.pk: jobs.get(_plan_key(b)) for b in batches}


def _planned_run_ids(job: Job | None) -> list[int]:
    if job is None or job.status != JobStatus.SUCCEEDED or not isinstance(job.result, dict):
        return []
    return [int(pk) for pk in job.result.get("run_ids", [])]


def batch_plans(batches: Iterable[RadiomicsBatch]) -> dict[int, dict[str, Any]]:
    """Each batch's planning job state, in one query: status (queued, running, succeeded,
    failed), error, progress while running, and once planned its result (patients, runs,
    queued)."""
    out: dict[int, dict[str, Any]] = {}
    for pk, job in _plan_jobs(list(batches)).items():
        if job is None:
            out[pk] = {"status": "failed", "error": "no planning job", "progress": None}
            continue
        result = job.result if isinstance(job.result, dict) else {}
        out[pk] = {
            "status": str(job.status),
            "error": job.error,
            "progress": job_progress(job) if job.status == JobStatus.RUNNING else None,
            "result": {k: v for k, v in result.items() if k != "run_ids"},
        }
    return out


def batch_runs_filter(batch: RadiomicsBatch) -> Q:
    """The batch's runs: those it owns and those its plan reused from earlier batches."""
    planned = _planned_run_ids(_plan_jobs([batch])[batch.pk])
    return Q(batch=batch) | Q(pk__in=planned)


def batch_counts(batches: Iterable[RadiomicsBatch]) -> dict[int, dict[str, int]]:
    """Runs per state of each batch (owned and reused), in two queries (for lists)."""
    batches = list(batches)
    members: dict[int, set[int]] = {
        pk: set(_planned_run_ids(job)) for pk, job in _plan_jobs(batches).items()
    }
    planned = set().union(*members.values()) if members else set()
    rows = RadiomicsRun.objects.filter(
        Q(batch_id__in=list(members)) | Q(pk__in=planned)
    ).values_list("pk", "batch_id", "completed_at", "job__status")
    state_of: dict[int, str] = {}
    for pk, batch_id, completed_at, job_status in rows:
        state_of[pk] = "succeeded" if completed_at else (job_status or "failed")
        if batch_id in members:
            members[batch_id].add(pk)
    out = {}
    for pk, run_ids in members.items():
        counts = dict.fromkeys(("queued", "running", "succeeded", "failed"), 0)
        for run_id in run_ids:
            if run_id in state_of:  # a planned run deleted since (its series was) drops out
                counts[state_of[run_id]] = counts.get(state_of[run_id], 0) + 1
        counts["total"] = sum(counts.values())
        out[pk] = counts
    return out


def batch_summary(runs: Iterable[RadiomicsRun]) -> dict[str, int]:
    counts = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0}
    for run in runs:
        counts[run_status(run)] = counts.get(run_status(run), 0) + 1
    counts["total"] = sum(counts.values())
    return counts


# --- the job's work ------------------------------------------------------------------------


def _feature_rows(values: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for v in values:
        value = float(v.value)
        rows.append(
            {
                "feature": v.key,
                "ibsi_code": v.ibsi_code,
                "value": value if math.isfinite(value) else None,
            }
        )
    return rows


def radiomics_run_compute(*, run: RadiomicsRun, job: Job) -> int:
    """Compute and store the run's features (inside the job's transaction, so a killed worker
    leaves nothing written). Publishes progress per stage and family. Returns the number of
    features. JobError (retried, then failed) when the inputs cannot be read."""
    series = run.series
    settings = RadiomicsSettings(**_settings_kwargs(run.settings))
    if settings_canonical(settings)[1] != run.settings_hash:
        raise JobError(f"run {run.public_id}: stored settings do not match their hash")
    families = settings.families or tuple(FAMILIES)
    total = len(families)
    job_progress_set(job, stage="volume", done=0, total=total)
    try:
        volume = viewer_series.series_volume(series)
    except VolumeAssemblyError as exc:
        raise JobError(f"series {series.public_id} cannot be assembled: {exc}") from exc
    key = viewer_series.volume_key(series)
    job_progress_set(job, stage="mask", done=0, total=total)
    try:
        mask = _mask_for_run(run, series)
        mask_array = np.asarray(mask.load(key, volume), dtype=bool)
    except MaskError as exc:
        raise JobError(f"mask {run.mask_id} cannot be rasterised: {exc}") from exc
    if not mask_array.any():
        raise JobError(f"mask {run.mask_id} is empty on series {series.public_id}")
    job_progress_set(job, stage="prepare", done=0, total=total)
    image = Image.from_volume(volume)
    try:
        context = prepare(image, mask_array, settings)
    except ValueError as exc:  # the engine's messages name shapes and settings, not values
        raise JobError(f"run {run.public_id}: {exc}") from exc
    values = []
    for done, family in enumerate(families):
        job_progress_set(job, stage="features", family=family, done=done, total=total)
        values.extend(compute_families(context, (family,)))
    job_progress_set(job, stage="saving", done=total, total=total)
    run.features = _feature_rows(values)
    run.provenance = json_safe(
        {
            **provenance(image, mask_array, settings),
            "input_key": run.input_key,
            "volume_key": key,
            "mask_source_sha256": run.mask_sha256,
            "job": str(job.public_id),
        }
    )
    run.completed_at = timezone.now()
    run.save(update_fields=["features", "provenance", "completed_at"])
    audit_record(
        actor=run.created_by,
        action=AuditAction.UPDATE,
        object_type=AUDIT_RUN,
        object_id=run.public_id,
        patient_id=run.patient_id,
        institution_id=run.patient.institution_id,
        detail={"count": len(run.features)},
    )
    return len(run.features)


def _mask_for_run(run: RadiomicsRun, series: Series) -> RadiomicsMask:
    try:
        mask = series_mask_get(series, run.mask_id)
    except RadiomicsRequestError as exc:
        raise JobError(f"mask {run.mask_id} is no longer on series {series.public_id}") from exc
    if mask.sha256 != run.mask_sha256:
        raise JobError(f"mask {run.mask_id} changed since run {run.public_id} was requested")
    return mask


def _settings_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    """RadiomicsSettings keyword arguments from the stored (JSON-safe) settings: the
    discretisations as objects, lists as tuples, "inf"/"-inf"/"nan" as floats again."""
    from imaging.radiomics import Discretisation

    def item(v: Any) -> Any:
        return float(v) if v in ("inf", "-inf", "nan") else v

    data = dict(data)
    if data.get("version") == 1:
        # Version 2 only added `features` (empty: everything), so a run stored or queued under
        # version 1 computes exactly what it asked for.
        data["version"] = 2
    out: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            out[name] = Discretisation(**value)
        elif isinstance(value, list):
            out[name] = tuple(item(v) for v in value)
        else:
            out[name] = item(value)
    return out


# --- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "research_id",
    "series_id",
    "run_id",
    "mask_label",
    "preset",
    "feature",
    "ibsi_code",
    "value",
)


def _cell(text: str) -> str:
    # A label starting with = + - @ would run as a formula in a spreadsheet (CSV injection);
    # a leading tab, carriage return or NUL can hide one from a reader that strips them. The
    # writer's "\n" terminator leaves a bare "\r" unquoted, which readers take as a row break:
    # a label is one line (DICOM LO allows no control characters), so it becomes a space.
    cell = f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\x00") else text
    return cell.replace("\r", " ")


def radiomics_csv(runs: Iterable[RadiomicsRun]) -> str:
    """One row per feature of each finished run: the research id (never MRN or name), public
    ids, the mask label, the preset, then feature, IBSI code and value (empty when the feature
    is undefined for the ROI). `repr` of a float keeps every digit."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        if run.completed_at is None:
            continue
        head = [
            _cell(run.patient.research_id),
            str(run.series.public_id),
            str(run.public_id),
            _cell(run.mask_label),
            run.preset,
        ]
        for row in run.features:
            value = row.get("value")
            writer.writerow(
                [*head, row["feature"], row["ibsi_code"], "" if value is None else repr(value)]
            )
    return out.getvalue()
