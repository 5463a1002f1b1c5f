"""The lesion-model registry: train, store, validate, activate, retire and use the lesion
classifiers (docs/lesion-models.md), with the outcome-model registry's life cycle
(docs/outcomes-registry.md): versions per name, draft -> validated -> active -> retired, at most
one active version per name, the training snapshot and artifact kept with their sha256, a model
card, and predictions that store the model version and the inputs' hash.

Two kinds:

- ``nodule_fp``: the 3D CNN of :mod:`imaging.lesions.fp_cnn`, trained on one institution's
  confirmed (nodule) and rejected (false positive) screening findings; the screening service
  asks :func:`active_fp_model` for the site's active one and ranks candidates by
  :func:`fp_model_probabilities`.
- ``malignancy``: the benign/malignant classifier of :mod:`imaging.lesions.malignancy`.

Artifacts: the CNN is stored as ``torch.save`` of tensors and plain values and read back with
``weights_only=True`` (no code runs); the malignancy classifier is a pickle, so like the outcome
models its bytes are hashed before unpickling and refused if they changed after training.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import pickle  # noqa: S403 - malignancy artifacts: hash-checked before unpickling
from collections import defaultdict
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditAction, User
from imaging.dicom import Volume
from imaging.lesions import malignancy, table
from imaging.lesions.patches import PatchError, PatchGeometry, extract_patches
from imaging.models import Finding, LesionModel, LesionPrediction, Mask
from imaging.models_screening import FindingStatus, LesionModelKind, LesionModelStatus
from oncology.models import Institution, Patient

if TYPE_CHECKING:
    from imaging.lesions import fp_cnn


def _fp_cnn() -> ModuleType:
    """imaging.lesions.fp_cnn, imported at first use: it imports torch (seconds, hundreds of MB),
    which every web process and worker would otherwise pay at start-up through the job
    registry, although only false-positive training and scoring need it."""
    from imaging.lesions import fp_cnn

    return fp_cnn


AUDIT_MODEL = "lesion_model"

TRANSITIONS: dict[str, tuple[str, ...]] = {
    LesionModelStatus.DRAFT: (LesionModelStatus.VALIDATED, LesionModelStatus.RETIRED),
    LesionModelStatus.VALIDATED: (LesionModelStatus.ACTIVE, LesionModelStatus.RETIRED),
    LesionModelStatus.ACTIVE: (LesionModelStatus.RETIRED,),
    LesionModelStatus.RETIRED: (),
}


class LesionModelError(ValueError):
    """A registry operation cannot be done; the message says why (no patient values)."""


class ArtifactIntegrityError(LesionModelError):
    """The stored artifact's bytes do not hash to the sha256 recorded at training."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for package in ("numpy", "scikit-learn", "xgboost-cpu", "xgboost", "torch"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _check_name(name: str) -> None:
    if not name or len(name) > 80 or not all(c.isalnum() or c in "-_" for c in name):
        raise LesionModelError("A model name is 1-80 letters, digits, '-' or '_'.")


def _store(
    *,
    name: str,
    kind: str,
    institution: Institution | None,
    algorithm: str,
    feature_spec: list[dict[str, Any]],
    training_source: str,
    training_params: dict[str, Any],
    snapshot: bytes,
    snapshot_ext: str,
    artifact: bytes,
    artifact_ext: str,
    metrics: dict[str, Any],
    calibration: list[dict[str, Any]],
    model_card: dict[str, Any],
    actor: User | None,
) -> LesionModel:
    """A new draft version of ``name`` with its snapshot and artifact in default storage."""
    _check_name(name)
    data_sha = _sha256(snapshot)
    with transaction.atomic():
        existing = LesionModel.objects.select_for_update().filter(name=name)
        other = existing.exclude(kind=kind).first()
        if other is not None:
            raise LesionModelError(f"{name} is a {other.kind} model; choose another name.")
        version = (existing.aggregate(v=Max("version"))["v"] or 0) + 1
        model = LesionModel(
            name=name,
            version=version,
            kind=kind,
            institution=institution,
            algorithm=algorithm,
            feature_spec=feature_spec,
            training_source=training_source,
            training_params={**training_params, "libraries": _versions()},
            training_data_sha256=data_sha,
            artifact_sha256=_sha256(artifact),
            metrics=metrics,
            calibration=calibration,
            model_card=model_card,
            created_by=actor,
        )
        model.training_snapshot.save(
            f"{name}-v{version}-{data_sha[:12]}.{snapshot_ext}", ContentFile(snapshot), save=False
        )
        model.artifact.save(f"{name}-v{version}.{artifact_ext}", ContentFile(artifact), save=False)
        try:
            model.save()
        except IntegrityError as exc:
            raise LesionModelError(f"{name} v{version} was stored meanwhile; retry.") from exc
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type=AUDIT_MODEL,
            object_id=model.public_id,
            institution_id=institution.pk if institution else None,
            detail={"result": f"draft {kind} v{version}"},
        )
    return model


# --- status --------------------------------------------------------------------------------


def lesion_model_get(*, name: str, version: int) -> LesionModel:
    try:
        return LesionModel.objects.get(name=name, version=version)
    except LesionModel.DoesNotExist:
        raise LesionModelError(f"No lesion model {name} v{version}.") from None


def lesion_model_set_status(
    *, model: LesionModel, status: str, actor: User | None = None
) -> LesionModel:
    """Move ``model`` to ``status`` if TRANSITIONS allow it. Activating a version retires the
    name's active version in the same transaction (one active version per name)."""
    if status not in LesionModelStatus.values:
        raise LesionModelError(f"Unknown status {status!r}.")
    with transaction.atomic():
        model = LesionModel.objects.select_for_update().get(pk=model.pk)
        if status not in TRANSITIONS[model.status]:
            allowed = ", ".join(TRANSITIONS[model.status]) or "none"
            raise LesionModelError(
                f"{model.name} v{model.version} is {model.status}: it cannot become {status} "
                f"(allowed: {allowed})."
            )
        now = timezone.now()
        previous = model.status
        changed = [(model, f"{previous} -> {status}")]
        if status == LesionModelStatus.ACTIVE:
            displaced = LesionModel.objects.filter(name=model.name, status=LesionModelStatus.ACTIVE)
            changed += [(d, "active -> retired") for d in displaced]
            displaced.update(status=LesionModelStatus.RETIRED, status_changed_at=now)
        model.status = status
        model.status_changed_at = now
        model.save(update_fields=["status", "status_changed_at"])
        for row, result in changed:
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type=AUDIT_MODEL,
                object_id=row.public_id,
                institution_id=row.institution_id,
                detail={"fields": ["status"], "result": result},
            )
    return model


def artifact_bytes(model: LesionModel) -> bytes:
    """The artifact's bytes after checking them against the sha256 recorded at training."""
    try:
        with default_storage.open(str(model.artifact.name), "rb") as handle:
            data = handle.read()
    except (OSError, ValueError) as exc:
        raise ArtifactIntegrityError(
            f"The artifact of {model.name} v{model.version} cannot be read from storage."
        ) from exc
    if _sha256(data) != model.artifact_sha256:
        raise ArtifactIntegrityError(
            f"The artifact of {model.name} v{model.version} does not match the sha256 recorded "
            "at training; it was changed after training and will not be loaded."
        )
    return data


# --- false-positive model ------------------------------------------------------------------

_NETWORKS: dict[tuple[int, str], fp_cnn.FpNetwork] = {}


def fp_network_load(model: LesionModel) -> fp_cnn.FpNetwork:
    if model.kind != LesionModelKind.NODULE_FP:
        raise LesionModelError(f"{model.name} v{model.version} is not a false-positive model.")
    data = artifact_bytes(model)  # re-hashed on every load; only the network is cached
    key = (model.pk, model.artifact_sha256)
    if key not in _NETWORKS:
        cnn = _fp_cnn()
        try:
            _NETWORKS[key] = cnn.FpNetwork.from_bytes(data)
        except cnn.FpModelError as exc:
            raise ArtifactIntegrityError(f"{model.name} v{model.version}: {exc}") from exc
    return _NETWORKS[key]


def active_fp_model(institution: Institution) -> LesionModel | None:
    """The institution's active nodule false-positive model, or None (the screening service
    then ranks by its classical score and says so)."""
    return (
        LesionModel.objects.filter(
            kind=LesionModelKind.NODULE_FP,
            status=LesionModelStatus.ACTIVE,
            institution=institution,
        )
        .order_by("-status_changed_at", "-pk")
        .first()
    )


def fp_model_probabilities(
    model: LesionModel, volume: Volume, centres_voxel: Sequence[Sequence[float]]
) -> list[float]:
    """The nodule probability of each candidate centre ([slice, row, column] voxel indices of
    ``volume``), from a patch cut and resampled as the model was trained."""
    network = fp_network_load(model)
    try:
        patches = extract_patches(volume.array, volume.spacing, centres_voxel, network.geometry)
    except PatchError as exc:
        raise LesionModelError(f"Candidate patches cannot be cut: {exc}") from exc
    return [float(p) for p in network.predict(patches)]


def _fp_card(
    *, name: str, institution: Institution | None, source: str, report: dict[str, Any]
) -> dict[str, Any]:
    cohort = (
        f"confirmed and rejected screening findings of {institution.name}"
        if institution is not None and source == "site-findings"
        else source
    )
    return {
        "intended_use": (
            "Ranking of lung-nodule candidates on screening chest CT so that likely nodules "
            "are reviewed first. Every candidate is still shown for review; the model removes "
            "nothing. Research use; not a medical device."
        ),
        "model": f"{name}: 3D convolutional network ({_fp_cnn().ARCHITECTURE}) on 32 mm cubes "
        "at 1 mm (imaging.lesions.fp_cnn)",
        "cohort": {
            "description": cohort,
            "patches": report.get("n_total"),
            "nodules": report.get("nodules_total"),
            "false_positives": report.get("false_positives_total"),
        },
        "performance": {
            k: report.get(k)
            for k in (
                "protocol",
                "auc",
                "brier",
                "sensitivity",
                "specificity",
                "threshold",
                "false_positives_removed_at_95_sensitivity",
            )
        },
        "limits": [
            "Learns what this site's reviewers confirmed and rejected: their habits and this "
            "site's scanners and protocols; not transferable without retraining.",
            "Validated on one held-out split of the training findings, not on another site.",
            "A 32 mm cube sees the nodule and its immediate surroundings only; masses larger "
            "than about 30 mm are outside its design.",
            *(
                ["Trained on SYNTHETIC patches: for demonstration and testing only."]
                if source.startswith("synthetic")
                else []
            ),
        ],
    }


def fp_model_register(
    patches: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    name: str,
    institution: Institution | None,
    source: str,
    seed: int = 0,
    epochs: int = 15,
    min_per_class: int | None = None,
    actor: User | None = None,
    snapshot_rows: list[dict[str, Any]] | None = None,
) -> LesionModel:
    """Validate on a held-out split, fit on all patches, and store a draft version."""
    y = np.asarray(labels)
    cnn = _fp_cnn()
    if min_per_class is None:
        min_per_class = int(cnn.MIN_PER_CLASS)
    try:
        report = cnn.validate_fp_network(
            patches, y, seed=seed, epochs=epochs, min_per_class=min_per_class
        )
        network = cnn.train_fp_network(
            patches, y, seed=seed, epochs=epochs, min_per_class=min_per_class
        )
    except cnn.FpModelError as exc:
        raise LesionModelError(f"The false-positive model cannot be trained: {exc}") from exc
    report.update(
        n_total=int(len(y)),
        nodules_total=int((y == 1).sum()),
        false_positives_total=int((y == 0).sum()),
    )
    lines = ["index,label"] + [f"{i},{int(v)}" for i, v in enumerate(y)]
    if snapshot_rows:
        keys = list(snapshot_rows[0])
        lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in snapshot_rows]
    snapshot = ("\n".join(lines) + "\n").encode()
    # the snapshot names the findings; the patches' own bytes are hashed into the params
    patch_sha = _sha256(np.ascontiguousarray(patches, dtype=np.float32).tobytes())
    geometry = network.geometry
    return _store(
        name=name,
        kind=LesionModelKind.NODULE_FP,
        institution=institution,
        algorithm="torch-cnn3d",
        feature_spec=[{"name": "patch", "kind": "image", **geometry.as_dict()}],
        training_source=source,
        training_params={
            "seed": seed,
            "epochs": epochs,
            "architecture": _fp_cnn().ARCHITECTURE,
            "patches_sha256": patch_sha,
            "min_per_class": min_per_class,
        },
        snapshot=snapshot,
        snapshot_ext="csv",
        artifact=network.to_bytes(),
        artifact_ext="pt",
        metrics={"validation": report},
        calibration=[],
        model_card=_fp_card(name=name, institution=institution, source=source, report=report),
        actor=actor,
    )


def site_fp_training_set(
    institution: Institution,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Patches of the institution's reviewed findings: confirmed -> 1, rejected -> 0, each cut
    from its series' volume at the finding's centre. Rows name findings by public id only."""
    from imaging import viewer_series

    findings = (
        Finding.objects.filter(
            run__patient__institution=institution,
            status__in=[FindingStatus.CONFIRMED, FindingStatus.REJECTED],
        )
        .select_related("run__series")
        .order_by("run__series_id", "pk")
    )
    by_series: dict[int, list[Finding]] = defaultdict(list)
    series_of = {}
    for f in findings:
        by_series[f.run.series_id].append(f)
        series_of[f.run.series_id] = f.run.series
    patches, labels, rows = [], [], []
    geometry = PatchGeometry()
    for series_id, items in by_series.items():
        volume = viewer_series.series_volume(series_of[series_id])
        cut = extract_patches(
            volume.array, volume.spacing, [f.centre_voxel for f in items], geometry
        )
        for f, patch in zip(items, cut, strict=True):
            patches.append(patch)
            label = int(f.status == FindingStatus.CONFIRMED)
            labels.append(label)
            rows.append({"finding": str(f.public_id), "label": label})
    if not patches:
        return (
            np.zeros((0, geometry.size, geometry.size, geometry.size), np.float32),
            np.zeros(0, np.int64),
            rows,
        )
    return np.stack(patches), np.asarray(labels, dtype=np.int64), rows


def fp_model_train_site(
    *,
    institution: Institution,
    name: str | None = None,
    seed: int = 0,
    epochs: int = 15,
    min_per_class: int | None = None,
    actor: User | None = None,
) -> LesionModel:
    """Train a draft false-positive model on the institution's reviewed findings; refused with
    the counts when there are fewer than ``min_per_class`` of either kind."""
    if min_per_class is None:
        min_per_class = int(_fp_cnn().MIN_PER_CLASS)
    reviewed = Finding.objects.filter(run__patient__institution=institution)
    confirmed = reviewed.filter(status=FindingStatus.CONFIRMED).count()
    rejected = reviewed.filter(status=FindingStatus.REJECTED).count()
    if confirmed < min_per_class or rejected < min_per_class:
        raise LesionModelError(
            f"{institution.code} has {confirmed} confirmed and {rejected} rejected findings; "
            f"training needs at least {min_per_class} of each. Review more screening findings "
            "first."
        )
    patches, labels, rows = site_fp_training_set(institution)
    return fp_model_register(
        patches,
        labels,
        name=name or f"nodule-fp-{institution.code}",
        institution=institution,
        source="site-findings",
        seed=seed,
        epochs=epochs,
        min_per_class=min_per_class,
        actor=actor,
        snapshot_rows=rows,
    )


# --- malignancy model ----------------------------------------------------------------------

DEFAULT_MALIGNANCY_NAME = "wisconsin-malignancy"
PICKLE_PROTOCOL = 5
MALIGNANCY_REPLICATES = 50
_CLASSIFIERS: dict[tuple[int, str], malignancy.MalignancyModel] = {}


def _malignancy_card(
    *, name: str, algorithm: str, lesion_table: table.LesionTable, report: dict[str, Any]
) -> dict[str, Any]:
    wisconsin = lesion_table.source == "wisconsin"
    return {
        "intended_use": (
            "Research and teaching: the probability that a lesion is malignant from its "
            "measured features, with the features that drove it. Not a diagnosis and not a "
            "medical device; a biopsy decides."
        ),
        "model": f"{name}: "
        + (
            "standardised L2-penalised logistic regression (C = 1)"
            if algorithm == "logistic"
            else "gradient-boosted trees (xgboost, 200 trees of depth 3)"
        )
        + f" over {len(lesion_table.feature_names)} features",
        "cohort": {
            "description": lesion_table.description,
            "citation": lesion_table.citation,
            "lesions": report["lesions"],
            "malignant": report["malignant"],
        },
        "performance": {
            "protocol": report["protocol"],
            "threshold": report["threshold"],
            **{k: report["mean"][k] for k in malignancy.METRICS},
            "auc_interval": report["interval"]["auc"],
        },
        "limits": [
            *(
                [
                    "Trained on the Wisconsin diagnostic breast data: features of cell nuclei "
                    "on digitised images of breast fine-needle aspirates. It is NOT a lung-"
                    "nodule or CT model and must not be applied to CT findings or radiomic "
                    "features: its inputs are cytology measurements.",
                    "A 1990s single-centre cohort (University of Wisconsin hospitals); "
                    "performance elsewhere is unknown.",
                ]
                if wisconsin
                else [
                    "Trained on this site's labelled lesions: valid for lesions measured the "
                    "same way (same feature definitions, scanners and protocols).",
                ]
            ),
            "Validated by repeated internal splits only, not on an external cohort.",
            f"The call at probability {report['threshold']} is a stated threshold, not a "
            "clinically chosen one; inputs outside the training range are flagged.",
        ],
        "retraining": "manage.py train_lesion_model --kind malignancy --csv FILE "
        "--label COLUMN --name NAME (docs/lesion-models.md).",
    }


def malignancy_model_train(
    *,
    name: str,
    source: str = "wisconsin",
    csv: bytes | None = None,
    label: str = "malignant",
    algorithm: str = "logistic",
    seed: int = 0,
    splits: int = 5,
    threshold: float = malignancy.DEFAULT_THRESHOLD,
    bootstrap: int = 200,
    replicates: int = MALIGNANCY_REPLICATES,
    institution: Institution | None = None,
    actor: User | None = None,
) -> LesionModel:
    """Validate, fit and store a draft benign/malignant classifier from the Wisconsin data
    (``source="wisconsin"``) or a site's labelled CSV (``source="csv"``, ``csv`` bytes)."""
    _check_name(name)
    if not 1 <= splits <= 20:
        raise LesionModelError("Validation splits are 1 to 20.")
    try:
        if source == "wisconsin":
            lesion_table = table.wisconsin()
        elif source == "csv":
            if not csv:
                raise LesionModelError("A CSV source needs the file's contents.")
            lesion_table = table.from_csv(csv, label=label)
        else:
            raise LesionModelError(f"Unknown source {source!r}; choose wisconsin or csv.")
        report = malignancy.validate(
            lesion_table,
            algorithm,
            splits=splits,
            seed=seed,
            threshold=threshold,
            bootstrap=bootstrap,
        )
        fitted = malignancy.train(
            lesion_table, algorithm, seed=seed, threshold=threshold, replicates=replicates
        )
    except (table.TableError, malignancy.MalignancyError) as exc:
        raise LesionModelError(f"The malignancy model cannot be trained: {exc}") from exc
    buffer = io.BytesIO()
    pickle.dump(fitted, buffer, protocol=PICKLE_PROTOCOL)
    return _store(
        name=name,
        kind=LesionModelKind.MALIGNANCY,
        institution=institution,
        algorithm=algorithm,
        feature_spec=[
            {"name": n, "kind": "numeric", "range": fitted.ranges[n]}
            for n in lesion_table.feature_names
        ],
        training_source=source,
        training_params={
            "seed": seed,
            "splits": splits,
            "threshold": threshold,
            "bootstrap": bootstrap,
            "replicates": replicates,
            "label": label if source == "csv" else "",
            "pickle_protocol": PICKLE_PROTOCOL,
        },
        snapshot=lesion_table.snapshot_csv(),
        snapshot_ext="csv",
        artifact=buffer.getvalue(),
        artifact_ext="pickle",
        metrics={
            k: report[k]
            for k in (
                "protocol",
                "algorithm",
                "threshold",
                "lesions",
                "malignant",
                "mean",
                "sd",
                "interval",
                "splits",
            )
        },
        calibration=report["calibration"],
        model_card=_malignancy_card(
            name=name, algorithm=algorithm, lesion_table=lesion_table, report=report
        ),
        actor=actor,
    )


def malignancy_load(model: LesionModel) -> malignancy.MalignancyModel:
    """The fitted classifier after checking the artifact's sha256 (unpickling runs code: only
    artifacts this service wrote, unchanged, are loaded)."""
    if model.kind != LesionModelKind.MALIGNANCY:
        raise LesionModelError(f"{model.name} v{model.version} is not a malignancy model.")
    data = artifact_bytes(model)
    key = (model.pk, model.artifact_sha256)
    if key not in _CLASSIFIERS:
        loaded = pickle.loads(data)  # noqa: S301 - hash verified above
        if not isinstance(loaded, malignancy.MalignancyModel):
            raise ArtifactIntegrityError(f"The artifact of {model.name} is not a classifier.")
        _CLASSIFIERS[key] = loaded
    return _CLASSIFIERS[key]


def active_malignancy_model(name: str | None = None) -> LesionModel | None:
    rows = LesionModel.objects.filter(
        kind=LesionModelKind.MALIGNANCY, status=LesionModelStatus.ACTIVE
    )
    if name:
        rows = rows.filter(name=name)
    return rows.order_by("-status_changed_at", "-pk").first()


def default_malignancy_model(*, actor: User | None = None) -> LesionModel:
    """The shipped default: logistic regression on the Wisconsin data, seed 0, validated and
    active. Trained here (seconds, deterministic, no download) the first time it is asked for;
    an existing active version is returned as is."""
    existing = active_malignancy_model(DEFAULT_MALIGNANCY_NAME)
    if existing is not None:
        return existing
    model = malignancy_model_train(name=DEFAULT_MALIGNANCY_NAME, actor=actor)
    lesion_model_set_status(model=model, status=LesionModelStatus.VALIDATED, actor=actor)
    return lesion_model_set_status(model=model, status=LesionModelStatus.ACTIVE, actor=actor)


def _inputs_hash(inputs: dict[str, Any]) -> str:
    return _sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode())


def predict_malignancy(
    *,
    model: LesionModel,
    patient: Patient,
    features: dict[str, Any],
    actor: User | None,
    mask: Mask | None = None,
    finding: Finding | None = None,
) -> LesionPrediction:
    """One lesion's malignancy probability with the model's version and the inputs' hash
    stored; audited. Only an active model predicts. Callers check the actor's access to the
    patient (the selectors and views do)."""
    if model.status != LesionModelStatus.ACTIVE:
        raise LesionModelError(
            f"{model.name} v{model.version} is {model.status}; only an active model predicts."
        )
    classifier = malignancy_load(model)
    try:
        result = classifier.explain(features)
    except malignancy.MalignancyError as exc:
        raise LesionModelError(f"No prediction: {exc}") from exc
    inputs = {n: float(features[n]) for n in classifier.feature_names}
    with transaction.atomic():
        prediction = LesionPrediction.objects.create(
            patient=patient,
            model=model,
            mask=mask,
            finding=finding,
            inputs=inputs,
            inputs_sha256=_inputs_hash(inputs),
            probability=result["probability"],
            output={
                "interval": result["interval"],
                "call": result["call"],
                "threshold": result["threshold"],
                "drivers": result["drivers"],
                "warnings": result["warnings"],
                "model": f"{model.name} v{model.version}",
                "artifact_sha256": model.artifact_sha256,
            },
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="lesion_prediction",
            object_id=prediction.public_id,
            patient_id=patient.pk,
            institution_id=patient.institution_id,
            detail={"result": prediction.output["call"]},
        )
    return prediction


def finding_features(finding: Finding) -> dict[str, float]:
    """A screening finding's measured features by name: its columns and its numeric extras."""
    out = {
        k: float(v)
        for k, v in (finding.features or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    for name in ("diameter_mm", "volume_ml", "mean_hu", "sphericity", "pleura_distance_mm"):
        value = getattr(finding, name)
        if value is not None:
            out[name] = float(value)
    return out


def finding_malignancy_model(institution: Institution) -> LesionModel | None:
    """The active malignancy model a finding of ``institution`` can use: one trained on that
    site's lesions (CT features). The Wisconsin default is never applied to CT findings."""
    return (
        LesionModel.objects.filter(
            kind=LesionModelKind.MALIGNANCY,
            status=LesionModelStatus.ACTIVE,
            institution=institution,
        )
        .order_by("-status_changed_at", "-pk")
        .first()
    )


def predict_finding_malignancy(*, finding: Finding, actor: User | None) -> LesionPrediction:
    """The finding's malignancy probability from its site's active CT malignancy model."""
    patient = finding.run.patient
    model = finding_malignancy_model(patient.institution)
    if model is None:
        raise LesionModelError(
            "This site has no active malignancy model trained on its own CT lesions; the "
            "Wisconsin default (breast cytology) does not apply to CT findings."
        )
    return predict_malignancy(
        model=model,
        patient=patient,
        features=finding_features(finding),
        actor=actor,
        finding=finding,
    )


def finding_malignancy(finding: Finding) -> LesionPrediction | None:
    """The latest stored malignancy prediction for a finding, or None."""
    return (
        LesionPrediction.objects.filter(finding=finding, model__kind=LesionModelKind.MALIGNANCY)
        .select_related("model")
        .order_by("-created_at", "-id")
        .first()
    )
