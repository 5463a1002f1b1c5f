"""Applicability domain: is a patient like the patients a model was trained on?

:class:`ApplicabilityDomain` is fitted on the TRAINING frame of a model (the same rows and
feature specifications as its :class:`~oncology.outcomes.features.FeatureEncoder`) and checks
any later patient for

- missing required inputs: a feature whose missing-value policy is ``reject``, or one named in
  ``required``, is absent or empty (the model cannot predict; other missing values are imputed
  by the encoder and only noted);
- unseen categories: a categorical value that no training patient had (the encoder would treat
  it as the reference level);
- numeric values outside the training range (below the training minimum or above the maximum:
  ``outside_range``) or in the outer tails (below the 1st or above the 99th training percentile,
  by default: ``unusual_value``, a note only, since about 2% of ordinary patients have one per
  feature);
- a multivariate distance: the Mahalanobis distance of the encoded (standardised, one-hot)
  feature vector from the training mean, under the training covariance (with a small ridge so
  that one-hot and indicator columns never make it singular). Its threshold is the
  ``distance_quantile`` (default 0.99) of the distances of HELD-OUT training rows, computed by
  5-fold cross-fitting (each fold's distances use the mean and covariance of the other folds),
  so about 1% of new in-distribution patients exceed it even when the training set is small for
  the number of columns (where in-sample distances are optimistic).

The policy ``abstain_on`` names the warning codes that make the check abstain (default: missing
required inputs, unseen categories, values outside the training range and the distance). Every
warning is a plain sentence naming the feature, never a patient identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oncology.outcomes.features import FeatureEncoder, FeatureError, FeatureSpec

WARNING_CODES: tuple[str, ...] = (
    "missing_required",
    "imputed",
    "unseen_category",
    "outside_range",
    "unusual_value",
    "distance",
)
DEFAULT_ABSTAIN_ON: tuple[str, ...] = (
    "missing_required",
    "unseen_category",
    "outside_range",
    "distance",
)


class DomainError(ValueError):
    """Bad configuration or input for the applicability check."""


@dataclass(frozen=True)
class DomainWarning:
    code: str  # one of WARNING_CODES
    feature: str  # "" for the multivariate distance
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "feature": self.feature, "message": self.message}


@dataclass
class DomainCheck:
    """The applicability check of one patient."""

    abstain: bool
    warnings: list[DomainWarning] = field(default_factory=list)
    distance: float | None = None  # Mahalanobis distance; None when inputs were missing
    distance_threshold: float = float("nan")
    # share of held-out training rows whose distance is at most this patient's (0-1)
    distance_percentile: float | None = None

    @property
    def inside(self) -> bool:
        """True when nothing beyond notes (imputed or unusual values) was found."""
        return not any(w.code not in ("imputed", "unusual_value") for w in self.warnings)

    @property
    def codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def as_dict(self) -> dict:
        return {
            "abstain": self.abstain,
            "inside": self.inside,
            "warnings": [w.as_dict() for w in self.warnings],
            "distance": self.distance,
            "distance_threshold": self.distance_threshold,
            "distance_percentile": self.distance_percentile,
        }


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class ApplicabilityDomain:
    """Fit on a model's training frame, then check patients against it."""

    def __init__(
        self,
        specs: Sequence[FeatureSpec],
        required: Iterable[str] = (),
        range_quantiles: tuple[float, float] = (0.01, 0.99),
        distance_quantile: float = 0.99,
        abstain_on: Iterable[str] = DEFAULT_ABSTAIN_ON,
        ridge: float = 1e-3,
        folds: int = 5,
        seed: int = 0,
    ):
        self.specs = list(specs)
        names = {s.name for s in self.specs}
        self.required = {s.name for s in self.specs if s.missing == "reject"} | set(required)
        unknown = sorted(self.required - names)
        if unknown:
            raise DomainError(f"required features that are not declared: {', '.join(unknown)}")
        lo, hi = range_quantiles
        if not 0.0 <= lo < hi <= 1.0:
            raise DomainError("range quantiles must satisfy 0 <= low < high <= 1")
        if not 0.5 < distance_quantile < 1.0:
            raise DomainError("the distance quantile must lie between 0.5 and 1")
        self.abstain_on = set(abstain_on)
        bad = sorted(self.abstain_on - set(WARNING_CODES))
        if bad:
            raise DomainError(f"unknown warning codes in the policy: {', '.join(bad)}")
        if ridge < 0 or folds < 2:
            raise DomainError("ridge must be >= 0 and folds >= 2")
        self.range_quantiles = (float(lo), float(hi))
        self.distance_quantile = float(distance_quantile)
        self.ridge = float(ridge)
        self.folds = int(folds)
        self.seed = seed

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> ApplicabilityDomain:
        if len(frame) < 2 * self.folds:
            raise DomainError(f"at least {2 * self.folds} training rows are needed")
        self.encoder_ = FeatureEncoder(self.specs).fit(frame)
        x = self.encoder_.transform(frame)
        self.ranges_: dict[str, tuple[float, float, float, float]] = {}
        lo_q, hi_q = self.range_quantiles
        for spec in self.specs:
            if spec.kind != "numeric":
                continue
            values = pd.to_numeric(frame[spec.name], errors="coerce").dropna().to_numpy(float)
            lo, hi = np.quantile(values, [lo_q, hi_q])
            bounds = (float(values.min()), float(lo), float(hi), float(values.max()))
            self.ranges_[spec.name] = bounds
        self.levels_ = {
            s.name: set(self.encoder_._fitted[s.name].levels)
            for s in self.specs
            if s.kind == "categorical"
        }
        self.mean_, self.precision_ = self._moments(x)
        # cross-fitted (held-out) distances of the training rows calibrate the threshold
        rng = np.random.default_rng(self.seed)
        fold = rng.permutation(len(x)) % self.folds
        held_out = np.empty(len(x))
        for k in range(self.folds):
            mean, precision = self._moments(x[fold != k])
            held_out[fold == k] = self._mahalanobis(x[fold == k], mean, precision)
        self.held_out_distances_ = np.sort(held_out)
        self.threshold_ = float(np.quantile(held_out, self.distance_quantile))
        return self

    def _moments(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = x.mean(axis=0)
        cov = np.atleast_2d(np.cov(x, rowvar=False))
        cov = cov + self.ridge * np.eye(cov.shape[0])
        return mean, np.linalg.inv(cov)

    @staticmethod
    def _mahalanobis(x: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
        d = x - mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, precision, d), 0.0))

    def distances(self, frame: pd.DataFrame) -> np.ndarray:
        """Mahalanobis distances of rows with complete required inputs."""
        return self._mahalanobis(self.encoder_.transform(frame), self.mean_, self.precision_)

    # -- checking ------------------------------------------------------------------------------
    def check(self, patient: pd.DataFrame | dict) -> DomainCheck:
        """Check one patient (a one-row frame or a dict of feature values)."""
        if isinstance(patient, dict):
            patient = pd.DataFrame([patient])
        if len(patient) != 1:
            raise DomainError("check one patient at a time")
        if not hasattr(self, "encoder_"):
            raise DomainError("the applicability domain is not fitted")
        row = patient.reindex(columns=[s.name for s in self.specs])
        warnings: list[DomainWarning] = []
        missing_required = False
        for spec in self.specs:
            value = row[spec.name].iloc[0]
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                if spec.name in self.required:
                    missing_required = True
                    warnings.append(
                        DomainWarning(
                            "missing_required",
                            spec.name,
                            f"{spec.name} is required by this model but is missing.",
                        )
                    )
                else:
                    warnings.append(
                        DomainWarning(
                            "imputed",
                            spec.name,
                            f"{spec.name} is missing; the model fills it in from the training "
                            "patients.",
                        )
                    )
                continue
            if spec.kind == "categorical":
                if str(value) not in self.levels_[spec.name]:
                    known = ", ".join(sorted(self.levels_[spec.name]))
                    warnings.append(
                        DomainWarning(
                            "unseen_category",
                            spec.name,
                            f"{spec.name} has a value that no training patient had "
                            f"(known values: {known}).",
                        )
                    )
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise DomainError(f"{spec.name}: expected a number") from None
            if spec.kind == "binary":
                if number not in (0.0, 1.0):
                    raise DomainError(f"{spec.name}: a binary feature takes 0 or 1")
                continue
            lo, q_lo, q_hi, hi = self.ranges_[spec.name]
            if number < lo or number > hi:
                side = "below" if number < lo else "above"
                warnings.append(
                    DomainWarning(
                        "outside_range",
                        spec.name,
                        f"{spec.name} = {_fmt(number)} is {side} the range of the training "
                        f"patients ({_fmt(lo)} to {_fmt(hi)}).",
                    )
                )
            elif number < q_lo or number > q_hi:
                lo_pct, hi_pct = (round(100 * q) for q in self.range_quantiles)
                warnings.append(
                    DomainWarning(
                        "unusual_value",
                        spec.name,
                        f"{spec.name} = {_fmt(number)} is unusual: outside the {lo_pct}th to "
                        f"{hi_pct}th percentiles of the training patients ({_fmt(q_lo)} to "
                        f"{_fmt(q_hi)}).",
                    )
                )
        distance = percentile = None
        if not missing_required:
            try:
                distance = float(self.distances(row)[0])
            except FeatureError as exc:
                raise DomainError(str(exc)) from None
            rank = np.searchsorted(self.held_out_distances_, distance, side="right")
            percentile = float(rank / len(self.held_out_distances_))
            if distance > self.threshold_:
                q = round(100 * self.distance_quantile)
                warnings.append(
                    DomainWarning(
                        "distance",
                        "",
                        f"The combination of this patient's values is far from the training "
                        f"patients (distance {distance:.2f}, above the {q}th percentile "
                        f"{self.threshold_:.2f} of held-out training patients).",
                    )
                )
        abstain = any(w.code in self.abstain_on for w in warnings)
        return DomainCheck(abstain, warnings, distance, self.threshold_, percentile)


# -- per-option support (positivity) ------------------------------------------------------------
MIN_OPTION_PATIENTS = 50
SUPPORT_QUANTILE = 0.01


@dataclass(frozen=True)
class OptionApplicability:
    option: str
    applicable: bool
    reason: str  # "" when applicable
    propensity: float | None


class OptionSupport:
    """Can the model judge option a for this patient? Two checks per option:

    - the option has at least ``min_patients`` training patients (default 50: below that its
      covariate effects rest on a handful of events);
    - common support (positivity): the patient's estimated probability of receiving a, from a
      multinomial logistic propensity model on the encoded features, is not below the
      ``quantile`` (default 1st percentile) of that probability among the training patients
      who DID receive a. Below it, fewer than 1% of a's patients were as unlikely to get a as
      this patient: the model's estimate for a is an extrapolation from patients unlike them.

    An option failing a check is marked not applicable with the reason, never dropped."""

    def __init__(
        self,
        specs: Sequence[FeatureSpec],
        treatment: str,
        min_patients: int = MIN_OPTION_PATIENTS,
        quantile: float = SUPPORT_QUANTILE,
        l2: float = 1e-2,
    ):
        if not 0 <= quantile < 0.5:
            raise DomainError("the support quantile must lie in [0, 0.5)")
        self.specs = list(specs)
        self.treatment = treatment
        self.min_patients = min_patients
        self.quantile = quantile
        self.l2 = l2

    def fit(self, frame: pd.DataFrame) -> OptionSupport:
        from scipy.optimize import minimize

        if self.treatment not in frame.columns:
            raise DomainError(f"column {self.treatment!r} is not in the cohort")
        labels = frame[self.treatment].astype(str)
        self.options_ = sorted(labels.unique())
        if len(self.options_) < 2:
            raise DomainError("at least two options are needed")
        self.encoder_ = FeatureEncoder(self.specs).fit(frame)
        x = self.encoder_.transform(frame)
        codes = labels.map({o: i for i, o in enumerate(self.options_)}).to_numpy()
        self.counts_ = {o: int((codes == i).sum()) for i, o in enumerate(self.options_)}
        n, d = x.shape
        k = len(self.options_)
        design = np.hstack([np.ones((n, 1)), x])
        onehot = np.eye(k)[codes]
        l2 = self.l2

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            w = flat.reshape(d + 1, k)
            logits = design @ w
            logits -= logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            value = -float(np.sum(onehot * log_p)) / n + 0.5 * l2 * float(np.sum(w[1:] ** 2))
            grad = design.T @ (np.exp(log_p) - onehot) / n
            grad[1:] += l2 * w[1:]
            return value, grad.ravel()

        res = minimize(loss, np.zeros((d + 1) * k), jac=True, method="L-BFGS-B")
        self.weights_ = res.x.reshape(d + 1, k)
        p = self._probabilities(x)
        self.thresholds_ = {
            o: float(np.quantile(p[codes == i, i], self.quantile))
            for i, o in enumerate(self.options_)
        }
        return self

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = np.hstack([np.ones((len(x), 1)), x]) @ self.weights_
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    def propensities(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Estimated probability of each option for every row (one column per option)."""
        return pd.DataFrame(
            self._probabilities(self.encoder_.transform(frame)), columns=self.options_
        )

    def check(self, patient: pd.DataFrame) -> list[OptionApplicability]:
        if len(patient) != 1:
            raise DomainError("check one patient at a time")
        p = self.propensities(patient).iloc[0]
        out = []
        for option in self.options_:
            prob = float(p[option])
            reasons = []
            if self.counts_[option] < self.min_patients:
                reasons.append(
                    f"Only {self.counts_[option]} training patients received this option "
                    f"(fewer than {self.min_patients}): too few to judge it."
                )
            if prob < self.thresholds_[option]:
                reasons.append(
                    f"No comparable treated patients: the estimated probability of this "
                    f"option for this patient ({prob:.3f}) is below that of "
                    f"{100 * (1 - self.quantile):g}% of the training patients who received it "
                    f"(threshold {self.thresholds_[option]:.3f}); the estimate is an "
                    "extrapolation."
                )
            out.append(OptionApplicability(option, not reasons, " ".join(reasons), prob))
        return out
