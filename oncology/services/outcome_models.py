"""The outcome-model registry: train, store, change status, load (docs/outcomes-registry.md).

Training wraps the pure library: the cohort comes from ``oncology.outcomes.simulate`` or
``oncology.outcomes.cohorts``; ``evaluate.evaluate`` measures the model kind with the library's
protocol (repeated stratified 80/20 splits, the treatment as a covariate); the stored model is a
``compare.TreatmentComparison`` fitted on the whole cohort (the per-option comparison a
prediction uses).

Trust boundary of the artifact: it is a pickle, and unpickling runs code. Artifacts are only
ever written by ``outcome_model_train`` in this process; their sha256 is kept in the database
row, and ``outcome_model_load`` refuses any file whose bytes no longer hash to it (a file
swapped in storage), before unpickling. Whoever can write both the database and the storage
can run code in the server: never load an artifact from elsewhere.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import pickle  # noqa: S403 - see the trust boundary above
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from lifelines.exceptions import ConvergenceError, ConvergenceWarning

from core.models import User
from oncology.models_outcomes import OutcomeModel, OutcomeModelKind, OutcomeModelStatus
from oncology.outcomes import cohorts, evaluate, simulate
from oncology.outcomes.classifiers import (
    ClassifierError,
    OptionResponseModel,
    brier_score,
    calibration_slope_intercept,
    roc_auc,
)
from oncology.outcomes.compare import ComparisonError, TreatmentComparison
from oncology.outcomes.domain import ApplicabilityDomain, DomainError, OptionSupport
from oncology.outcomes.ensemble import BootstrapEnsemble, ResponseEnsemble
from oncology.outcomes.explain import Explainer
from oncology.outcomes.features import FeatureSpec, infer_specs

# from -> the statuses it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    OutcomeModelStatus.DRAFT: (OutcomeModelStatus.VALIDATED, OutcomeModelStatus.RETIRED),
    OutcomeModelStatus.VALIDATED: (OutcomeModelStatus.ACTIVE, OutcomeModelStatus.RETIRED),
    OutcomeModelStatus.ACTIVE: (OutcomeModelStatus.RETIRED,),
    OutcomeModelStatus.RETIRED: (),
}

UNIT_PER_YEAR = {"days": 365.25, "months": 12.0, "years": 1.0}
PICKLE_PROTOCOL = 5
ARTIFACT_FORMAT = 3  # 1: a bare TreatmentComparison; 2: a ModelArtifact; 3: + response, support
RESPONSE_L2 = 1.0  # ridge on the response classifier's slopes (standardised features)
MIN_ENSEMBLE_REPLICATES = 10  # the library's minimum (ensemble.BootstrapEnsemble)
MAX_ENSEMBLE_REPLICATES = 500
ID_COLUMN = "research_id"
MIN_OPTION_PATIENTS = 30  # TreatmentComparison's default minimum per option
# A public cohort's categorical codes recoded to what the record extractors return
# (oncology/services/outcome_features.py): Rotterdam's grade "2"/"3" -> "II"/"III", as GBSG2.
RECORD_CODING: dict[str, dict[str, str]] = {"grade": {"1": "I", "2": "II", "3": "III"}}


class OutcomeModelError(ValueError):
    """A registry operation cannot be done; the message says why (no patient values)."""


class ArtifactIntegrityError(OutcomeModelError):
    """The stored artifact's bytes do not hash to the sha256 recorded at training."""


@dataclass
class ModelArtifact:
    """What the artifact pickle holds: the fitted comparison (fitted on the training frame
    WITH its ``research_id`` column, which the encoder ignores, so similar patients are named
    by research id), the applicability domain fitted on the same frame, and the bootstrap
    ensemble when training asked for one (``None`` otherwise). Format 3 adds the per-option
    response classifier (``response``, with its bootstrap refits on the ensemble's resamples
    and the outcome's definition) when the training source has a binary response outcome, and
    the per-option support check (``support``). Older artifacts load with the missing parts
    ``None``."""

    comparison: TreatmentComparison
    domain: ApplicabilityDomain | None = None
    ensemble: BootstrapEnsemble | None = None
    format: int = ARTIFACT_FORMAT
    explainer_: Explainer | None = None  # built at load, never pickled
    response: OptionResponseModel | None = None
    response_ensemble: ResponseEnsemble | None = None
    response_definition: str = ""
    support: OptionSupport | None = None
    response_column: str = ""  # in the comparison's training frame

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["explainer_"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        defaults = {
            "response": None,
            "response_ensemble": None,
            "response_definition": "",
            "support": None,
            "response_column": "",
            "explainer_": None,
        }
        self.__dict__.update({**defaults, **state})

    def explainer(self) -> Explainer:
        if self.explainer_ is None:
            frame = self.comparison._data[0]
            id_col = ID_COLUMN if ID_COLUMN in frame.columns else None
            self.explainer_ = Explainer(self.comparison, id_col=id_col)
        return self.explainer_


@dataclass(frozen=True)
class TrainingCohort:
    frame: pd.DataFrame  # research_id, time, event, treatment column, features
    specs: list[FeatureSpec]
    treatment: str
    time_unit: str
    endpoint: str
    description: str
    citation: str
    response: str | None = None  # the 0/1 response column (None: the source has none)
    response_definition: str = ""
    notes: tuple[str, ...] = ()  # what the source builder dropped or decided, for the card


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def training_cohort(*, source: str, patients: int = 2000, seed: int = 0) -> TrainingCohort:
    """The training frame of a source: ``simulated`` or a public cohort name."""
    if source == "simulated":
        sim = simulate.simulate_cohort(patients, seed, response=True)
        frame = sim.frame.copy()
        frame.insert(0, "research_id", [f"SIM-{i + 1:06d}" for i in range(len(frame))])
        return TrainingCohort(
            frame=frame,
            specs=simulate.feature_specs(),
            treatment="treatment",
            time_unit=sim.time_unit,
            endpoint="overall survival",
            description=(
                f"simulated cohort (oncology.outcomes.simulate, {patients} patients, seed {seed}; "
                "docs/outcomes-simulation.md)"
            ),
            citation="",
            response="response",
            response_definition=simulate.RESPONSE_DEFINITION,
        )
    if source == "site":
        from oncology.services.outcome_site import site_training_cohort

        return site_training_cohort()
    if source not in cohorts.LOADERS:
        known = ", ".join(["simulated", *sorted(cohorts.LOADERS)])
        raise OutcomeModelError(f"Unknown training source {source!r}; choose one of {known}.")
    try:
        cohort = cohorts.load(source)
    except cohorts.CohortUnavailable as exc:
        raise OutcomeModelError(str(exc)) from exc
    frame = cohort.frame.copy()
    treatments = list(cohort.treatments)
    # One option per combination of the cohort's treatment columns, named "column=value" (a
    # bare "0"/"1" would not say which treatment it is).
    treatment = "treatment"
    frame[treatment] = (
        frame[treatments]
        .astype(str)
        .apply(lambda row: "+".join(f"{c}={row[c]}" for c in treatments), axis=1)
    )
    features = [f for f in cohort.features if f not in treatments]
    frame = frame[["time", "event", treatment, *features]].reset_index(drop=True)
    for column, coding in RECORD_CODING.items():  # the record's coding, so patients match
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v, c=coding: c.get(str(v), v))
    counts = frame[treatment].value_counts()
    small = {str(o): int(n) for o, n in counts.items() if n < MIN_OPTION_PATIENTS}
    notes: tuple[str, ...] = ()
    if small:  # too few to compare (the comparison's minimum): left out, and said so
        frame = frame[~frame[treatment].isin(small)].reset_index(drop=True)
        notes = (
            f"Options with fewer than {MIN_OPTION_PATIENTS} patients left out: "
            + ", ".join(f"{o} ({n})" for o, n in sorted(small.items()))
            + ".",
        )
    frame.insert(0, "research_id", [f"{source.upper()}-{i + 1:06d}" for i in range(len(frame))])
    return TrainingCohort(
        frame=frame,
        specs=infer_specs(frame[features]),
        treatment=treatment,
        time_unit=cohort.time_unit,
        endpoint=cohort.endpoint,
        description=f"public cohort {cohort.name} ({cohort.source})",
        citation=cohort.citation,
        notes=notes,
    )


def _evaluate(cohort: TrainingCohort, kind: str, splits: int, seed: int) -> dict[str, Any]:
    drop = ["research_id", *([cohort.response] if cohort.response else [])]
    frame = cohort.frame.drop(columns=drop)
    specs = [
        FeatureSpec(cohort.treatment, "clinical", "categorical", "category", "treatment"),
        *cohort.specs,
    ]
    five_years = 5 * UNIT_PER_YEAR[cohort.time_unit]
    try:
        return evaluate.evaluate(
            frame, "time", "event", [cohort.treatment], kind, splits, seed, five_years, specs
        )
    except evaluate.EvaluationError:
        # Follow-up shorter than five years in some split: the protocol's default horizon.
        return evaluate.evaluate(
            frame, "time", "event", [cohort.treatment], kind, splits, seed, None, specs
        )


def _ensemble(
    comparison: TreatmentComparison, replicates: int, seed: int
) -> tuple[BootstrapEnsemble | None, int]:
    """The bootstrap ensemble (None for 0 replicates) and how many convergence warnings its
    refits raised: a resample of a small option can hold a nearly constant column, which
    lifelines flags; the refit still converges (penalised), so the warning is counted and
    stored in ``training_params``, not raised."""
    if not replicates:
        return None, 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        ensemble = BootstrapEnsemble(comparison, replicates=replicates, seed=seed).fit()
    for w in caught:  # anything else is re-issued
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ensemble, sum(issubclass(w.category, ConvergenceWarning) for w in caught)


def _response(
    cohort: TrainingCohort, comparison: TreatmentComparison, replicates: int, seed: int
) -> tuple[OptionResponseModel | None, ResponseEnsemble | None, dict[str, Any]]:
    """The per-option response classifier (logistic, option x covariate interactions, ridge
    ``RESPONSE_L2``) on the patients whose response is known, its refits on the survival
    ensemble's resamples, and what training says about it (metrics on one stratified 80/20
    split, or why there is no response model)."""
    if not cohort.response:
        return None, None, {"available": False, "reason": "The training source has no response."}
    rows = cohort.frame[cohort.frame[cohort.response].notna()].reset_index(drop=True)
    if rows[cohort.treatment].nunique() < 2:
        return (
            None,
            None,
            {
                "available": False,
                "reason": "No response model: responses are recorded for fewer than two options.",
            },
        )
    params = {"l2": RESPONSE_L2}
    try:
        model = OptionResponseModel(
            cohort.specs, cohort.treatment, "logistic", seed=seed, params=params
        ).fit(rows, cohort.response)
    except ClassifierError as exc:
        return None, None, {"available": False, "reason": f"No response model: {exc}"}
    info: dict[str, Any] = {
        "available": True,
        "definition": cohort.response_definition,
        "classifier": "logistic",
        "l2": RESPONSE_L2,
        "patients": int(len(rows)),
        "responses": int(rows[cohort.response].sum()),
    }
    y = rows[cohort.response].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(rows), dtype=bool)
    for label in (0.0, 1.0):  # stratified 80/20
        idx = np.flatnonzero(y == label)
        test[rng.permutation(idx)[: max(1, len(idx) // 5)]] = True
    try:
        held = OptionResponseModel(
            cohort.specs, cohort.treatment, "logistic", min_patients=1, seed=seed, params=params
        ).fit(rows[~test], cohort.response)
        p = np.concatenate(
            [
                held.probability_matrix(rows[test & (rows[cohort.treatment].astype(str) == o)], o)
                for o in held.options_
            ]
        )
        y_test = np.concatenate(
            [y[test & (rows[cohort.treatment].astype(str) == o).to_numpy()] for o in held.options_]
        )
        slope, intercept = calibration_slope_intercept(y_test, p)
        info["validation"] = {
            "protocol": "one stratified 80/20 split",
            "auc": round(roc_auc(y_test, p), 4),
            "brier": round(brier_score(y_test, p), 4),
            "calibration_slope": round(slope, 4),
            "calibration_intercept": round(intercept, 4),
        }
    except ClassifierError as exc:
        info["validation"] = {"error": str(exc)}
    ensemble = None
    if replicates:
        try:
            ensemble = ResponseEnsemble(model, replicates=replicates, seed=seed).fit(
                cohort.frame, cohort.response, list(comparison.options_)
            )
        except ComparisonError as exc:
            info["interval"] = f"No response interval: {exc}"
    return model, ensemble, info


def _numeric_ranges(cohort: TrainingCohort) -> dict[str, list[float]]:
    """Observed [min, max] of each numeric feature: a prediction outside it gets a warning."""
    out = {}
    for spec in cohort.specs:
        if spec.kind == "numeric":
            values = pd.to_numeric(cohort.frame[spec.name], errors="coerce").dropna()
            if len(values):
                out[spec.name] = [float(values.min()), float(values.max())]
    return out


def _versions() -> dict[str, str]:
    out = {}
    for package in ("numpy", "pandas", "lifelines", "xgboost-cpu", "torch"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _model_card(
    *,
    name: str,
    kind: str,
    cohort: TrainingCohort,
    report: dict[str, Any],
    options: list[str],
    ensemble: int = 0,
    response: dict[str, Any] | None = None,
) -> dict[str, Any]:
    mean = report["mean"]
    response = response or {"available": False}
    return {
        "intended_use": (
            "Research and tumour-board discussion: per-option survival estimates for one "
            "patient as associational evidence, not an instruction. Not a medical device."
        ),
        "model": f"{name} ({kind}), treatment comparison by regression adjustment "
        "(one pooled survival model with option x covariate interactions)",
        "cohort": {
            "description": cohort.description,
            "citation": cohort.citation,
            "patients": report["patients"],
            "events": report["events"],
            "endpoint": cohort.endpoint,
            "time_unit": cohort.time_unit,
            "options": options,
        },
        "performance": {
            "protocol": report["protocol"],
            "horizon": report["horizon"],
            "harrell_c": mean["harrell_c"],
            "uno_c": mean["uno_c"],
            "integrated_brier": mean["integrated_brier"],
            "calibration_error_at_horizon": mean["calibration_error"],
            "response": response.get("validation") if response.get("available") else None,
        },
        "response": (
            f"Per-option probability of {response['definition']}: logistic classifier with "
            "option x covariate interactions"
            if response.get("available")
            else response.get("reason", "No response model.")
        ),
        "limits": [
            "Assumes no unmeasured confounding; the comparison is associational.",
            "Valid only for patients like the training cohort; inputs missing from the record "
            "are imputed and reported as warnings.",
            (
                f"Uncertainty bands come from a bootstrap ensemble of {ensemble} refits stored "
                "with the model."
                if ensemble
                else "No bootstrap ensemble is stored: uncertainty bands are computed by a "
                "background job (a refit per replicate)."
            ),
            "An option is marked not applicable for a patient (numbers still shown) when fewer "
            "than 50 training patients received it or the patient's estimated probability of "
            "receiving it lies below the 1st percentile among those who did (no comparable "
            "treated patients).",
            *cohort.notes,
            "A patient outside the training cohort's applicability domain (a value outside "
            "the training range, an unseen category, a required input missing, or an unusual "
            "combination of values by Mahalanobis distance) gets no estimate: the prediction "
            "abstains and says why.",
            *(
                ["Trained on SIMULATED data: for demonstration and testing only."]
                if cohort.description.startswith("simulated")
                else []
            ),
        ],
    }


def outcome_model_train(
    *,
    source: str,
    kind: str,
    name: str,
    seed: int = 0,
    patients: int = 2000,
    splits: int = 3,
    band_replicates: int = 0,
    actor: User | None = None,
) -> OutcomeModel:
    """Fit, evaluate and store a new draft version of model ``name``. The artifact holds the
    comparison, its applicability domain and, when ``band_replicates`` > 0, a bootstrap
    ensemble of that many refits (a refit each: seconds to minutes at training time) from
    which a prediction computes bands inline."""
    if band_replicates and not (
        MIN_ENSEMBLE_REPLICATES <= band_replicates <= MAX_ENSEMBLE_REPLICATES
    ):
        raise OutcomeModelError(
            f"Band replicates are 0 (no ensemble) or {MIN_ENSEMBLE_REPLICATES} to "
            f"{MAX_ENSEMBLE_REPLICATES}."
        )
    if kind not in OutcomeModelKind.values:
        raise OutcomeModelError(f"Unknown model kind {kind!r}; choose one of cox, xgb, neural.")
    if not name or len(name) > 80 or not all(c.isalnum() or c in "-_" for c in name):
        raise OutcomeModelError("A model name is 1-80 letters, digits, '-' or '_'.")
    cohort = training_cohort(source=source, patients=patients, seed=seed)
    snapshot = cohort.frame.to_csv(index=False).encode()
    try:
        report = _evaluate(cohort, kind, splits, seed)
        comparison = TreatmentComparison(cohort.specs, cohort.treatment, model_kind=kind, seed=seed)
        comparison.fit(cohort.frame)  # research_id rides along for similar patients
        domain = ApplicabilityDomain(cohort.specs, seed=seed).fit(cohort.frame)
        ensemble, ensemble_warnings = _ensemble(comparison, band_replicates, seed)
        response, response_ensemble, response_info = _response(
            cohort, comparison, band_replicates, seed
        )
        support = OptionSupport(cohort.specs, cohort.treatment).fit(cohort.frame)
    except (evaluate.EvaluationError, ComparisonError, DomainError) as exc:
        raise OutcomeModelError(f"The cohort cannot train this model: {exc}") from exc
    except ConvergenceError as exc:
        # e.g. options that all share one treatment component (surgery vs surgery+radiotherapy)
        raise OutcomeModelError(
            "The survival model did not converge on this cohort (lifelines: "
            f"{str(exc).split('.')[0]}); a different set of options or model kind may."
        ) from exc
    buffer = io.BytesIO()
    pickle.dump(
        ModelArtifact(
            comparison,
            domain,
            ensemble,
            response=response,
            response_ensemble=response_ensemble,
            response_definition=cohort.response_definition if response else "",
            support=support,
            response_column=cohort.response or "",
        ),
        buffer,
        protocol=PICKLE_PROTOCOL,
    )
    artifact = buffer.getvalue()
    options = list(comparison.options_)
    metrics = {
        "protocol": report["protocol"],
        "horizon": report["horizon"],
        "horizon_source": report["horizon_source"],
        "mean": report["mean"],
        "sd": report["sd"],
        # Each split's values (the model page shows them beside the mean).
        "splits": [
            {"split": s["split"], **{k: s.get(k) for k in evaluate.METRIC_NAMES}}
            for s in report["splits"]
        ],
        "response": response_info,
    }
    calibration = [
        {
            "split": s["split"],
            "horizon": report["horizon"],
            "mean_predicted_survival": s["mean_predicted_survival_at_horizon"],
            "kaplan_meier_survival": s["km_survival_at_horizon"],
        }
        for s in report["splits"]
    ]
    data_sha = _sha256(snapshot)
    with transaction.atomic():
        latest = OutcomeModel.objects.select_for_update().filter(name=name)
        version = (latest.aggregate(v=Max("version"))["v"] or 0) + 1
        model = OutcomeModel(
            name=name,
            version=version,
            kind=kind,
            target=cohort.endpoint,
            time_unit=cohort.time_unit,
            treatment_column=cohort.treatment,
            options=options,
            feature_spec=[s.as_dict() for s in cohort.specs],
            training_source=source,
            training_params={
                "seed": seed,
                "patients": int(len(cohort.frame)),
                "splits": splits,
                "libraries": _versions(),
                "pickle_protocol": PICKLE_PROTOCOL,
                "artifact_format": ARTIFACT_FORMAT,
                "band_replicates": band_replicates,
                # refits whose Cox fit warned of low variance / separation in its resample
                "band_replicate_warnings": ensemble_warnings,
                "domain": {
                    "distance_threshold": domain.threshold_,
                    "distance_quantile": domain.distance_quantile,
                    "abstain_on": sorted(domain.abstain_on),
                },
                "ranges": _numeric_ranges(cohort),
                "support": {
                    "min_option_patients": support.min_patients,
                    "propensity_quantile": support.quantile,
                    "thresholds": {o: round(t, 5) for o, t in support.thresholds_.items()},
                },
                "source_notes": list(cohort.notes),
            },
            training_data_sha256=data_sha,
            artifact_sha256=_sha256(artifact),
            metrics=metrics,
            calibration=calibration,
            model_card=_model_card(
                name=name,
                kind=kind,
                cohort=cohort,
                report=report,
                options=options,
                ensemble=band_replicates,
                response=response_info,
            ),
            created_by=actor,
        )
        model.training_snapshot.save(
            f"{name}-v{version}-{data_sha[:12]}.csv", ContentFile(snapshot), save=False
        )
        model.artifact.save(f"{name}-v{version}.pickle", ContentFile(artifact), save=False)
        try:
            model.save()
        except IntegrityError as exc:
            raise OutcomeModelError(f"{name} v{version} was stored meanwhile; retry.") from exc
    return model


def outcome_model_get(*, name: str, version: int) -> OutcomeModel:
    try:
        return OutcomeModel.objects.get(name=name, version=version)
    except OutcomeModel.DoesNotExist:
        raise OutcomeModelError(f"No outcome model {name} v{version}.") from None


def outcome_model_set_status(*, model: OutcomeModel, status: str) -> OutcomeModel:
    """Move ``model`` to ``status`` if TRANSITIONS allow it. Activating a version retires the
    name's previously active version in the same transaction (one active version per name)."""
    if status not in OutcomeModelStatus.values:
        raise OutcomeModelError(f"Unknown status {status!r}.")
    with transaction.atomic():
        model = OutcomeModel.objects.select_for_update().get(pk=model.pk)
        if status not in TRANSITIONS[model.status]:
            allowed = ", ".join(TRANSITIONS[model.status]) or "none"
            raise OutcomeModelError(
                f"{model.name} v{model.version} is {model.status}: it cannot become {status} "
                f"(allowed: {allowed})."
            )
        now = timezone.now()
        if status == OutcomeModelStatus.ACTIVE:
            OutcomeModel.objects.filter(name=model.name, status=OutcomeModelStatus.ACTIVE).update(
                status=OutcomeModelStatus.RETIRED, status_changed_at=now
            )
        model.status = status
        model.status_changed_at = now
        model.save(update_fields=["status", "status_changed_at"])
    return model


_LOADED: dict[tuple[int, str], ModelArtifact] = {}


def outcome_model_load(model: OutcomeModel) -> TreatmentComparison:
    """The fitted comparison, after checking the artifact's sha256 (see the trust boundary)."""
    return outcome_artifact_load(model).comparison


def outcome_artifact_load(model: OutcomeModel) -> ModelArtifact:
    """The whole artifact (comparison, domain, ensemble), after checking its sha256."""
    # The file is read and hashed on every load (cheap), so a file changed after a first load
    # is still refused; only the unpickled object is cached.
    try:
        with default_storage.open(str(model.artifact.name), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ArtifactIntegrityError(
            f"The artifact of {model.name} v{model.version} cannot be read from storage."
        ) from exc
    if _sha256(data) != model.artifact_sha256:
        raise ArtifactIntegrityError(
            f"The artifact of {model.name} v{model.version} does not match the sha256 recorded "
            "at training; it was changed after training and will not be loaded."
        )
    key = (model.pk, model.artifact_sha256)
    if key in _LOADED:
        return _LOADED[key]
    loaded = pickle.loads(data)  # noqa: S301 - hash verified above
    if isinstance(loaded, TreatmentComparison):  # format 1
        loaded = ModelArtifact(loaded, format=1)
    if not isinstance(loaded, ModelArtifact) or not isinstance(
        loaded.comparison, TreatmentComparison
    ):
        raise ArtifactIntegrityError(
            f"The artifact of {model.name} v{model.version} is not a model."
        )
    _LOADED[key] = loaded
    return loaded
